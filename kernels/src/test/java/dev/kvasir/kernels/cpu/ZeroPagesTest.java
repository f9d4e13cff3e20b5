package dev.kvasir.kernels.cpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledOnOs;
import org.junit.jupiter.api.condition.OS;

/** The KV pool's buffers: zeroed, usable, released with their arena, and resident only where touched. */
class ZeroPagesTest {

    private static final long MB = 1 << 20;

    @Test
    void zeroedWritableAndGoneWithItsArena() {
        MemorySegment kept;
        try (Arena arena = Arena.ofShared()) {
            MemorySegment s = ZeroPages.allocate(8 * MB + 12, arena);
            assertEquals(8 * MB + 12, s.byteSize());
            assertEquals(0, s.address() % 64, "vector loads want at least 64-byte alignment");
            for (long i = 0; i < s.byteSize(); i += 4093) assertEquals(0, s.get(ValueLayout.JAVA_BYTE, i));
            s.set(ValueLayout.JAVA_FLOAT, 8 * MB + 8, 3.5f);
            assertEquals(3.5f, s.get(ValueLayout.JAVA_FLOAT, 8 * MB + 8));
            kept = s;
        }
        MemorySegment closed = kept;
        assertThrows(IllegalStateException.class, () -> closed.get(ValueLayout.JAVA_BYTE, 0));
    }

    /** A 256 MB pool adds to the resident set only the pages written, not the whole pool as a zeroing write would. */
    @Test
    @EnabledOnOs(OS.LINUX)
    void onlyTouchedPagesAreResident() throws IOException {
        try (Arena arena = Arena.ofShared()) {
            long before = residentBytes();
            MemorySegment s = ZeroPages.allocate(256 * MB, arena);
            for (long i = 0; i < 16 * MB; i += 4096) s.set(ValueLayout.JAVA_BYTE, i, (byte) 1);
            long grown = residentBytes() - before;
            assertTrue(grown >= 12 * MB, "the 16 MB written should be resident: grew " + grown / MB + " MB");
            assertTrue(grown < 96 * MB, "untouched pages should not be resident: grew " + grown / MB + " MB");
        }
    }

    private static long residentBytes() throws IOException {
        String[] statm = Files.readString(Path.of("/proc/self/statm")).trim().split("\\s+");
        return Long.parseLong(statm[1]) * 4096;
    }
}

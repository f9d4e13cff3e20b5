package dev.kvasir.kernels.cpu;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;

/**
 * Large zeroed buffers whose pages the OS provides on first touch: an anonymous private
 * {@code mmap} instead of {@link Arena#allocate}, which writes zeros over every byte before it
 * returns. For the KV pool that write was most of the start-up's allocation time (537 MB for
 * smol135's default pool) and made every page resident at once, so the process's RSS counted the
 * whole pool before a single request; now only the blocks a request has used count. Where
 * {@code mmap} is not available (not Linux, or the call fails) it falls back to {@link Arena#allocate}.
 */
final class ZeroPages {

    private static final int PROT_READ = 1, PROT_WRITE = 2, MAP_PRIVATE = 2, MAP_ANONYMOUS = 0x20;
    private static final MethodHandle MMAP, MUNMAP;

    static {
        MethodHandle mmap = null, munmap = null;
        if (System.getProperty("os.name", "").toLowerCase(java.util.Locale.ROOT).contains("linux")) {
            try {
                Linker linker = Linker.nativeLinker();
                var libc = linker.defaultLookup();
                mmap = linker.downcallHandle(libc.find("mmap").orElseThrow(), FunctionDescriptor.of(ValueLayout.ADDRESS,
                        ValueLayout.ADDRESS, ValueLayout.JAVA_LONG, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT,
                        ValueLayout.JAVA_LONG));
                munmap = linker.downcallHandle(libc.find("munmap").orElseThrow(), FunctionDescriptor.of(ValueLayout.JAVA_INT,
                        ValueLayout.ADDRESS, ValueLayout.JAVA_LONG));
            } catch (RuntimeException | LinkageError e) {
                mmap = munmap = null;
            }
        }
        MMAP = mmap;
        MUNMAP = munmap;
    }

    private ZeroPages() {}

    /** {@code bytes} zeroed bytes, page-aligned where mapped, freed when {@code arena} closes. */
    static MemorySegment allocate(long bytes, Arena arena) {
        if (MMAP != null && bytes >= 1 << 16) {
            try {
                MemorySegment at = (MemorySegment) MMAP.invokeExact(MemorySegment.NULL, bytes, PROT_READ | PROT_WRITE,
                        MAP_PRIVATE | MAP_ANONYMOUS, -1, 0L);
                if (at.address() != -1L && at.address() != 0L) {
                    return at.reinterpret(bytes, arena, mapped -> unmap(mapped, bytes));
                }
            } catch (Throwable e) {
                // fall back below
            }
        }
        return arena.allocate(bytes, 64);
    }

    /** The arena's cleanup gets the address only (a segment of the mapping call's zero length): the size comes along. */
    private static void unmap(MemorySegment segment, long bytes) {
        try {
            int ignored = (int) MUNMAP.invokeExact(segment, bytes);
        } catch (Throwable e) {
            throw new IllegalStateException("munmap failed", e);
        }
    }
}

package dev.kvasir.models.loader;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;

/**
 * A little-endian cursor over a memory segment. Every read is bounds-checked first, so a truncated
 * or corrupt file ends in a {@link ModelFormatException} naming the file, never an index error.
 */
final class SegmentReader {

    private static final ValueLayout.OfShort U16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfInt U32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfLong U64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfDouble F64 = ValueLayout.JAVA_DOUBLE_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private final MemorySegment segment;
    private final Path file;
    private final String section;
    private long position;

    SegmentReader(MemorySegment segment, Path file, String section) {
        this.segment = segment;
        this.file = file;
        this.section = section;
    }

    long position() {
        return position;
    }

    long remaining() {
        return segment.byteSize() - position;
    }

    /** Fails unless {@code n} more bytes are available. */
    private void need(long n, String what) {
        if (n < 0 || n > remaining()) {
            throw new ModelFormatException(file, "truncated " + section + ": " + what + " needs " + n
                    + " bytes at offset " + position + " but the file has " + Math.max(0, remaining()) + " left");
        }
    }

    /** Checks that {@code n} bytes are available, moves past them and returns where they start. */
    private long take(int n, String what) {
        need(n, what);
        long at = position;
        position += n;
        return at;
    }

    int u8(String what) {
        return Byte.toUnsignedInt(segment.get(ValueLayout.JAVA_BYTE, take(1, what)));
    }

    int u16(String what) {
        return Short.toUnsignedInt(segment.get(U16, take(2, what)));
    }

    int i32(String what) {
        return segment.get(U32, take(4, what));
    }

    long u32(String what) {
        return Integer.toUnsignedLong(i32(what));
    }

    long i64(String what) {
        return segment.get(U64, take(8, what));
    }

    float f32(String what) {
        return segment.get(F32, take(4, what));
    }

    double f64(String what) {
        return segment.get(F64, take(8, what));
    }

    /** A GGUF string: u64 byte length, then UTF-8 bytes. */
    String string(String what) {
        long length = i64(what + " length");
        if (length < 0 || length > remaining() || length > Integer.MAX_VALUE - 8) {
            throw new ModelFormatException(file, "corrupt " + section + ": " + what + " claims "
                    + Long.toUnsignedString(length) + " bytes at offset " + (position - 8) + " but the file has "
                    + remaining() + " left");
        }
        byte[] bytes = segment.asSlice(position, length).toArray(ValueLayout.JAVA_BYTE);
        position += length;
        return new String(bytes, StandardCharsets.UTF_8);
    }
}

package dev.kvasir.models.loader;

import java.nio.file.Path;

/** Reads GGUF metadata values and converts them to the Java types {@link GgufFile} documents. */
final class MetadataParser {

    private final Path file;
    private final SegmentReader in;

    MetadataParser(Path file, SegmentReader in) {
        this.file = file;
        this.in = in;
    }

    Object value(String key) {
        long typeId = in.u32("value type of " + key);
        return valueOf(key, type(key, typeId));
    }

    private GgufValueType type(String key, long typeId) {
        GgufValueType type = GgufValueType.byId(typeId);
        if (type == null) {
            throw new ModelFormatException(file, "metadata " + key + " has unknown value type " + typeId);
        }
        return type;
    }

    private Object valueOf(String key, GgufValueType type) {
        return switch (type) {
            case UINT8 -> (long) in.u8(key);
            case INT8 -> (long) (byte) in.u8(key);
            case UINT16 -> (long) in.u16(key);
            case INT16 -> (long) (short) in.u16(key);
            case UINT32 -> in.u32(key);
            case INT32 -> (long) in.i32(key);
            case UINT64, INT64 -> in.i64(key);
            case FLOAT32 -> (double) in.f32(key);
            case FLOAT64 -> in.f64(key);
            case BOOL -> bool(key);
            case STRING -> in.string(key);
            case ARRAY -> array(key);
        };
    }

    private boolean bool(String key) {
        int b = in.u8(key);
        if (b > 1) throw new ModelFormatException(file, "metadata " + key + " is a bool with value " + b);
        return b == 1;
    }

    private Object array(String key) {
        GgufValueType elementType = type(key + " elements", in.u32("element type of " + key));
        long count = in.i64("element count of " + key);
        if (count < 0 || count > in.remaining() / elementType.minBytes) {
            throw new ModelFormatException(file, "corrupt GGUF header: array " + key + " claims "
                    + Long.toUnsignedString(count) + " " + elementType + " elements but only " + in.remaining()
                    + " bytes follow");
        }
        int n = (int) count;
        String what = key + " element";
        switch (elementType) {
            case STRING -> {
                String[] a = new String[n];
                for (int i = 0; i < n; i++) a[i] = in.string(what);
                return a;
            }
            case FLOAT32 -> {
                float[] a = new float[n];
                for (int i = 0; i < n; i++) a[i] = in.f32(what);
                return a;
            }
            case FLOAT64 -> {
                double[] a = new double[n];
                for (int i = 0; i < n; i++) a[i] = in.f64(what);
                return a;
            }
            case UINT8, INT8, UINT16, INT16, UINT32, INT32 -> {
                int[] a = new int[n];
                for (int i = 0; i < n; i++) a[i] = (int) (long) (Long) valueOf(key, elementType);
                return a;
            }
            case UINT64, INT64 -> {
                long[] a = new long[n];
                for (int i = 0; i < n; i++) a[i] = in.i64(what);
                return a;
            }
            case BOOL -> {
                boolean[] a = new boolean[n];
                for (int i = 0; i < n; i++) a[i] = bool(key);
                return a;
            }
            case ARRAY -> {
                Object[] a = new Object[n];
                for (int i = 0; i < n; i++) a[i] = array(key + "[" + i + "]");
                return a;
            }
            default -> throw new IllegalStateException("unreachable: " + elementType);
        }
    }
}

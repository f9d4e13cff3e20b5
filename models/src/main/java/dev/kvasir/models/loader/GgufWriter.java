package dev.kvasir.models.loader;

import dev.kvasir.kernels.GgmlType;
import dev.kvasir.kernels.quant.Quant;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.IntStream;

/**
 * Writes a GGUF v3 file: metadata, then tensors aligned to 32 bytes, converted from f32 to F32,
 * F16, BF16, Q8_0 or Q4_0 with ggml's exact block formats ({@link Quant}). Tensor values are pulled
 * row by row from a {@link RowSource} while writing, so a model larger than the heap can be written.
 */
public final class GgufWriter {

    /** Produces the f32 values of one row (the innermost dimension) of a tensor. */
    @FunctionalInterface
    public interface RowSource {
        /** Fills {@code out} (length = the tensor's first dimension) with row {@code row}; called from several threads at once. */
        void row(long row, float[] out);
    }

    private record Value(GgufValueType type, GgufValueType elementType, Object value) {}

    private record Tensor(String name, GgmlType type, long[] shape, RowSource rows, long bytes) {}

    private static final int ALIGNMENT = GgufFile.DEFAULT_ALIGNMENT;
    /** Rows are converted in parallel in chunks of about this many output bytes, then written. */
    private static final int CHUNK_BYTES = 8 << 20;

    private final Map<String, Value> metadata = new LinkedHashMap<>();
    private final List<Tensor> tensors = new ArrayList<>();

    /** A scalar: String, Boolean, Float/Double (FLOAT32/FLOAT64) or Integer/Long with an explicit integer type via {@link #put(String, GgufValueType, Object)}. */
    public GgufWriter put(String key, Object value) {
        GgufValueType type = switch (value) {
            case String _ -> GgufValueType.STRING;
            case Boolean _ -> GgufValueType.BOOL;
            case Float _ -> GgufValueType.FLOAT32;
            case Double _ -> GgufValueType.FLOAT64;
            case Integer _ -> GgufValueType.INT32;
            case Long _ -> GgufValueType.INT64;
            case String[] _ -> GgufValueType.ARRAY;
            case float[] _ -> GgufValueType.ARRAY;
            case double[] _ -> GgufValueType.ARRAY;
            case int[] _ -> GgufValueType.ARRAY;
            case long[] _ -> GgufValueType.ARRAY;
            case boolean[] _ -> GgufValueType.ARRAY;
            default -> throw new IllegalArgumentException("metadata " + key + ": cannot store a " + value.getClass().getName());
        };
        if (type != GgufValueType.ARRAY) return put(key, type, value);
        GgufValueType element = switch (value) {
            case String[] _ -> GgufValueType.STRING;
            case float[] _ -> GgufValueType.FLOAT32;
            case double[] _ -> GgufValueType.FLOAT64;
            case int[] _ -> GgufValueType.INT32;
            case long[] _ -> GgufValueType.INT64;
            default -> GgufValueType.BOOL;
        };
        return putArray(key, element, value);
    }

    /** A scalar of an explicit type; integer types take any {@link Number}, floats a Number, BOOL a Boolean, STRING a String. */
    public GgufWriter put(String key, GgufValueType type, Object value) {
        if (type == GgufValueType.ARRAY) throw new IllegalArgumentException("metadata " + key + ": use putArray for arrays");
        boolean ok = switch (type) {
            case STRING -> value instanceof String;
            case BOOL -> value instanceof Boolean;
            default -> value instanceof Number;
        };
        if (!ok) throw new IllegalArgumentException("metadata " + key + ": " + type + " cannot hold " + value);
        metadata.put(key, new Value(type, null, value));
        return this;
    }

    /**
     * An array: String[] for STRING, float[] for FLOAT32, double[] for FLOAT64, int[] for
     * (U)INT8/16/32, long[] for (U)INT64, boolean[] for BOOL.
     */
    public GgufWriter putArray(String key, GgufValueType elementType, Object array) {
        boolean ok = switch (elementType) {
            case STRING -> array instanceof String[];
            case FLOAT32 -> array instanceof float[];
            case FLOAT64 -> array instanceof double[];
            case UINT8, INT8, UINT16, INT16, UINT32, INT32 -> array instanceof int[];
            case UINT64, INT64 -> array instanceof long[];
            case BOOL -> array instanceof boolean[];
            case ARRAY -> false;
        };
        if (!ok) throw new IllegalArgumentException("metadata " + key + ": an array of " + elementType
                + " cannot be written from a " + array.getClass().getSimpleName());
        metadata.put(key, new Value(GgufValueType.ARRAY, elementType, array));
        return this;
    }

    /** A tensor whose rows come from {@code rows}; shape in GGUF order, shape[0] a multiple of the type's block size. */
    public GgufWriter tensor(String name, GgmlType type, long[] shape, RowSource rows) {
        long elements = 1;
        for (long d : shape) {
            if (d <= 0) throw new IllegalArgumentException("tensor " + name + ": dimensions must be positive");
            elements = Math.multiplyExact(elements, d);
        }
        if (shape.length == 0 || shape.length > 4) throw new IllegalArgumentException("tensor " + name + ": 1 to 4 dimensions");
        if (shape[0] % type.blockSize != 0) {
            throw new IllegalArgumentException("tensor " + name + ": row length " + shape[0] + " is not a multiple of "
                    + type + "'s block size " + type.blockSize);
        }
        if (shape[0] > Integer.MAX_VALUE / 4) throw new IllegalArgumentException("tensor " + name + ": rows too long");
        for (Tensor t : tensors) {
            if (t.name.equals(name)) throw new IllegalArgumentException("duplicate tensor " + name);
        }
        tensors.add(new Tensor(name, type, shape.clone(), rows, type.bytesFor(elements)));
        return this;
    }

    /** A tensor from values held in memory, row-major (shape[0] values per row). */
    public GgufWriter tensor(String name, GgmlType type, long[] shape, float[] values) {
        long elements = 1;
        for (long d : shape) elements *= d;
        if (values.length != elements) {
            throw new IllegalArgumentException("tensor " + name + ": shape needs " + elements + " values, got " + values.length);
        }
        int cols = (int) shape[0];
        return tensor(name, type, shape, (row, out) -> System.arraycopy(values, Math.toIntExact(row * cols), out, 0, cols));
    }

    /** Writes the file, replacing {@code out}. */
    public void write(Path out) {
        try (FileChannel ch = FileChannel.open(out, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                StandardOpenOption.TRUNCATE_EXISTING)) {
            Sink sink = new Sink(ch);
            writeHeader(sink);
            long total = 0;
            for (Tensor t : tensors) total += t.bytes;
            Progress progress = new Progress("writing " + out.getFileName(), total);
            for (Tensor t : tensors) {
                sink.pad(ALIGNMENT);
                writeData(sink, t, progress);
            }
            sink.flush();
            progress.finish();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + out + ": " + e.getMessage(), e);
        }
    }

    private void writeHeader(Sink sink) throws IOException {
        sink.i32(GgufFile.MAGIC);
        sink.i32(3);
        sink.i64(tensors.size());
        sink.i64(metadata.size());
        for (Map.Entry<String, Value> e : metadata.entrySet()) {
            sink.string(e.getKey());
            Value v = e.getValue();
            sink.i32(v.type.id);
            if (v.type == GgufValueType.ARRAY) {
                writeArray(sink, v.elementType, v.value);
            } else {
                writeScalar(sink, v.type, v.value);
            }
        }
        long offset = 0;
        for (Tensor t : tensors) {
            sink.string(t.name);
            sink.i32(t.shape.length);
            for (long d : t.shape) sink.i64(d);
            sink.i32(t.type.id);
            sink.i64(offset);
            offset = GgufFile.alignUp(offset + t.bytes, ALIGNMENT);
        }
    }

    private static void writeScalar(Sink sink, GgufValueType type, Object value) throws IOException {
        switch (type) {
            case UINT8, INT8, BOOL -> sink.u8(value instanceof Boolean b ? (b ? 1 : 0) : ((Number) value).intValue());
            case UINT16, INT16 -> sink.i16(((Number) value).intValue());
            case UINT32, INT32 -> sink.i32((int) ((Number) value).longValue());
            case UINT64, INT64 -> sink.i64(((Number) value).longValue());
            case FLOAT32 -> sink.f32(((Number) value).floatValue());
            case FLOAT64 -> sink.f64(((Number) value).doubleValue());
            case STRING -> sink.string((String) value);
            case ARRAY -> throw new IllegalStateException("nested arrays are written by writeArray");
        }
    }

    private static void writeArray(Sink sink, GgufValueType elementType, Object array) throws IOException {
        sink.i32(elementType.id);
        switch (array) {
            case String[] a -> { sink.i64(a.length); for (String s : a) sink.string(s); }
            case float[] a -> { sink.i64(a.length); for (float f : a) sink.f32(f); }
            case double[] a -> { sink.i64(a.length); for (double d : a) sink.f64(d); }
            case int[] a -> { sink.i64(a.length); for (int i : a) writeScalar(sink, elementType, i); }
            case long[] a -> { sink.i64(a.length); for (long l : a) sink.i64(l); }
            case boolean[] a -> { sink.i64(a.length); for (boolean b : a) sink.u8(b ? 1 : 0); }
            default -> throw new IllegalStateException("unexpected array " + array.getClass());
        }
    }

    private static void writeData(Sink sink, Tensor t, Progress progress) throws IOException {
        int cols = (int) t.shape[0];
        long rows = t.bytes / t.type.bytesFor(cols);
        int rowBytes = (int) t.type.bytesFor(cols);
        int chunkRows = (int) Math.max(1, Math.min(rows, CHUNK_BYTES / rowBytes));
        byte[] chunk = new byte[chunkRows * rowBytes];
        MemorySegment chunkSegment = MemorySegment.ofArray(chunk);
        for (long first = 0; first < rows; first += chunkRows) {
            long start = first;
            int n = (int) Math.min(chunkRows, rows - first);
            IntStream.range(0, n).parallel().forEach(i -> {
                float[] values = new float[cols];
                t.rows.row(start + i, values);
                Quant.quantize(t.type, values, 0, cols, chunkSegment, (long) i * rowBytes);
            });
            sink.bytes(chunk, n * rowBytes);
            progress.advance((long) n * rowBytes);
        }
    }

    /** Little-endian buffered output to a channel. */
    private static final class Sink {
        private final FileChannel channel;
        private final ByteBuffer buf = ByteBuffer.allocate(1 << 20).order(ByteOrder.LITTLE_ENDIAN);
        private long written;

        Sink(FileChannel channel) {
            this.channel = channel;
        }

        private void room(int n) throws IOException {
            if (buf.remaining() < n) flush();
        }

        void u8(int v) throws IOException { room(1); buf.put((byte) v); }
        void i16(int v) throws IOException { room(2); buf.putShort((short) v); }
        void i32(int v) throws IOException { room(4); buf.putInt(v); }
        void i64(long v) throws IOException { room(8); buf.putLong(v); }
        void f32(float v) throws IOException { room(4); buf.putFloat(v); }
        void f64(double v) throws IOException { room(8); buf.putDouble(v); }

        void string(String s) throws IOException {
            byte[] b = s.getBytes(StandardCharsets.UTF_8);
            i64(b.length);
            bytes(b, b.length);
        }

        void bytes(byte[] b, int length) throws IOException {
            int off = 0;
            while (off < length) {
                if (!buf.hasRemaining()) flush();
                int n = Math.min(buf.remaining(), length - off);
                buf.put(b, off, n);
                off += n;
            }
        }

        void pad(int alignment) throws IOException {
            long position = written + buf.position();
            long padding = GgufFile.alignUp(position, alignment) - position;
            for (long i = 0; i < padding; i++) u8(0);
        }

        void flush() throws IOException {
            buf.flip();
            while (buf.hasRemaining()) written += channel.write(buf);
            buf.clear();
        }
    }
}

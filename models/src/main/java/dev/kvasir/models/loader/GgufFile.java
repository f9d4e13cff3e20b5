package dev.kvasir.models.loader;

import dev.kvasir.kernels.GgmlType;
import dev.kvasir.kernels.WeightTensor;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A GGUF file (version 2 or 3), memory-mapped: the header, metadata and tensor table are parsed on
 * open; tensor data stays in the mapping and {@link #tensor} hands out slices of it, so even a
 * multi-gigabyte model needs almost no heap.
 *
 * <p>Metadata values are converted to: string → {@code String}; every integer type → {@code Long};
 * float32/float64 → {@code Double}; bool → {@code Boolean}; arrays of strings → {@code String[]},
 * of float32 → {@code float[]}, of (u)int8/16/32 → {@code int[]} (uint32 values above 2^31 wrap),
 * of (u)int64 → {@code long[]}, of float64 → {@code double[]}, of bool → {@code boolean[]}, of
 * arrays → {@code Object[]}.
 */
public final class GgufFile implements AutoCloseable {

    /** "GGUF" read as a little-endian u32. */
    static final int MAGIC = 0x46554747;
    static final int DEFAULT_ALIGNMENT = 32;
    /** ggml's GGML_MAX_DIMS. */
    private static final int MAX_DIMS = 4;

    private final Path path;
    private final Arena arena;
    private final MemorySegment file;
    private final int version;
    private final Map<String, Object> metadata;
    private final Map<String, TensorInfo> tensors;
    private final long alignment;
    private final long dataOffset;

    private GgufFile(Path path, Arena arena, MemorySegment file, int version, Map<String, Object> metadata,
                     Map<String, TensorInfo> tensors, long alignment, long dataOffset) {
        this.path = path;
        this.arena = arena;
        this.file = file;
        this.version = version;
        this.metadata = metadata;
        this.tensors = tensors;
        this.alignment = alignment;
        this.dataOffset = dataOffset;
    }

    /** Maps and parses {@code path}; a malformed file throws {@link ModelFormatException}. */
    public static GgufFile open(Path path) {
        return MappedFile.open(path, GgufFile::parse);
    }

    private static GgufFile parse(Path path, Arena arena, MemorySegment segment) {
        SegmentReader in = new SegmentReader(segment, path, "GGUF header");
        if (segment.byteSize() < 4) {
            throw new ModelFormatException(path, "not a GGUF file: only " + segment.byteSize() + " bytes");
        }
        int magic = in.i32("magic");
        if (magic != MAGIC) {
            throw new ModelFormatException(path, String.format(
                    "not a GGUF file: bad magic 0x%08x (expected \"GGUF\")", magic));
        }
        int version = in.i32("version");
        if (version != 2 && version != 3) {
            String hint = version == 1 ? " (GGUF v1 is obsolete; reconvert the model)"
                    : Integer.reverseBytes(version) == 2 || Integer.reverseBytes(version) == 3 ? " (a big-endian GGUF file)" : "";
            throw new ModelFormatException(path, "unsupported GGUF version " + version + hint + "; Kvasir reads versions 2 and 3");
        }
        long tensorCount = in.i64("tensor count");
        long kvCount = in.i64("metadata count");
        // Every tensor entry takes at least 24 bytes and every key/value pair at least 12.
        checkCount(path, in, tensorCount, 24, "tensor count");
        checkCount(path, in, kvCount, 12, "metadata key/value count");

        MetadataParser metaParser = new MetadataParser(path, in);
        Map<String, Object> metadata = new LinkedHashMap<>();
        for (long i = 0; i < kvCount; i++) {
            String key = in.string("metadata key #" + i);
            Object value = metaParser.value(key);
            if (metadata.putIfAbsent(key, value) != null) {
                throw new ModelFormatException(path, "duplicate metadata key " + key);
            }
        }
        long alignment = DEFAULT_ALIGNMENT;
        Object alignValue = metadata.get("general.alignment");
        if (alignValue != null) {
            if (!(alignValue instanceof Long a) || a <= 0 || Long.bitCount(a) != 1) {
                throw new ModelFormatException(path, "general.alignment must be a power of two, got " + alignValue);
            }
            alignment = a;
        }

        List<RawTensor> raw = new ArrayList<>();
        for (long i = 0; i < tensorCount; i++) {
            raw.add(readTensorInfo(path, in, i));
        }
        long dataOffset = alignUp(in.position(), alignment);
        long dataSize = segment.byteSize() - dataOffset;

        Map<String, TensorInfo> tensors = new LinkedHashMap<>();
        for (RawTensor t : raw) {
            if (t.offset % alignment != 0) {
                throw new ModelFormatException(path, "tensor " + t.name + " data offset " + t.offset
                        + " is not a multiple of the alignment " + alignment);
            }
            if (t.offset < 0 || t.bytes > dataSize || t.offset > dataSize - t.bytes) {
                throw new ModelFormatException(path, "truncated tensor data: tensor " + t.name + " needs bytes "
                        + (dataOffset + t.offset) + ".." + (dataOffset + t.offset + t.bytes)
                        + " but the file ends at " + segment.byteSize());
            }
            if (tensors.putIfAbsent(t.name, new TensorInfo(t.name, t.type, t.shape, t.offset, t.bytes)) != null) {
                throw new ModelFormatException(path, "duplicate tensor " + t.name);
            }
        }
        return new GgufFile(path, arena, segment, version, Collections.unmodifiableMap(metadata),
                Collections.unmodifiableMap(tensors), alignment, dataOffset);
    }

    private record RawTensor(String name, GgmlType type, long[] shape, long offset, long bytes) {}

    private static RawTensor readTensorInfo(Path path, SegmentReader in, long index) {
        String name = in.string("name of tensor #" + index);
        long dims = in.u32("dimension count of tensor " + name);
        if (dims < 1 || dims > MAX_DIMS) {
            throw new ModelFormatException(path, "tensor " + name + " has " + dims + " dimensions (1.." + MAX_DIMS + " allowed)");
        }
        long[] shape = new long[(int) dims];
        long elements = 1;
        for (int d = 0; d < dims; d++) {
            shape[d] = in.i64("dimension " + d + " of tensor " + name);
            if (shape[d] <= 0) {
                throw new ModelFormatException(path, "tensor " + name + " has dimension " + d + " = "
                        + Long.toUnsignedString(shape[d]));
            }
            try {
                elements = Math.multiplyExact(elements, shape[d]);
            } catch (ArithmeticException e) {
                throw new ModelFormatException(path, "tensor " + name + " has an absurd shape (element count overflows)");
            }
        }
        long typeId = in.u32("type of tensor " + name);
        GgmlType type = GgmlType.byId((int) typeId);
        if (type == null || typeId > Integer.MAX_VALUE) {
            throw new ModelFormatException(path, "tensor " + name + " has unknown or unsupported tensor type id " + typeId
                    + " (Kvasir reads " + supportedTypes() + ")");
        }
        if (shape[0] % type.blockSize != 0) {
            throw new ModelFormatException(path, "tensor " + name + " of type " + type + " has row length " + shape[0]
                    + ", not a multiple of its block size " + type.blockSize);
        }
        long bytes;
        try {
            bytes = Math.multiplyExact(elements / type.blockSize, (long) type.typeSize);
        } catch (ArithmeticException e) {
            throw new ModelFormatException(path, "tensor " + name + " has an absurd shape (byte size overflows)");
        }
        long offset = in.i64("data offset of tensor " + name);
        return new RawTensor(name, type, shape, offset, bytes);
    }

    private static String supportedTypes() {
        StringBuilder sb = new StringBuilder();
        for (GgmlType t : GgmlType.values()) {
            if (!sb.isEmpty()) sb.append(", ");
            sb.append(t).append('=').append(t.id);
        }
        return sb.toString();
    }

    private static void checkCount(Path path, SegmentReader in, long count, long minBytesEach, String what) {
        if (count < 0 || count > in.remaining() / minBytesEach) {
            throw new ModelFormatException(path, "corrupt GGUF header: " + what + " " + Long.toUnsignedString(count)
                    + " cannot fit in the " + in.remaining() + " bytes that follow");
        }
    }

    static long alignUp(long offset, long alignment) {
        return (offset + alignment - 1) / alignment * alignment;
    }

    public Path path() {
        return path;
    }

    public int version() {
        return version;
    }

    /** All metadata in file order (unmodifiable). */
    public Map<String, Object> metadata() {
        return metadata;
    }

    /** Tensor table entries in file order. */
    public List<TensorInfo> tensors() {
        return List.copyOf(tensors.values());
    }

    public long alignment() {
        return alignment;
    }

    /** Absolute file offset where tensor data begins. */
    public long dataOffset() {
        return dataOffset;
    }

    /** The tensor, a slice of the mapping; throws naming the file when there is no such tensor. */
    public WeightTensor tensor(String name) {
        WeightTensor t = find(name);
        if (t == null) throw new ModelFormatException(path, "missing tensor " + name);
        return t;
    }

    /** The tensor, or null when the file has none by that name. */
    public WeightTensor find(String name) {
        TensorInfo info = tensors.get(name);
        if (info == null) return null;
        return new WeightTensor(name, info.type(), info.shape(), file.asSlice(dataOffset + info.offset(), info.bytes()));
    }

    /** A string metadata value, or null when absent; throws when present with another type. */
    public String getString(String key) {
        return typed(key, String.class);
    }

    /** An integer metadata value, or {@code fallback} when absent; throws when present with another type. */
    public long getLong(String key, long fallback) {
        Long v = typed(key, Long.class);
        return v == null ? fallback : v;
    }

    /** A float metadata value, or {@code fallback} when absent; throws when present with another type. */
    public double getDouble(String key, double fallback) {
        Object v = metadata.get(key);
        if (v == null) return fallback;
        if (v instanceof Double d) return d;
        if (v instanceof Long l) return l;
        throw new ModelFormatException(path, "metadata " + key + " should be a number, got " + describe(v));
    }

    private <T> T typed(String key, Class<T> type) {
        Object v = metadata.get(key);
        if (v == null) return null;
        if (!type.isInstance(v)) {
            throw new ModelFormatException(path, "metadata " + key + " should be a " + type.getSimpleName()
                    + ", got " + describe(v));
        }
        return type.cast(v);
    }

    static String describe(Object v) {
        return v.getClass().getSimpleName() + " " + (v.getClass().isArray() ? "" : v);
    }

    /** Releases the mapping; tensors handed out before become unusable. */
    @Override
    public void close() {
        arena.close();
    }

    @Override
    public String toString() {
        return "GgufFile[" + path + " v" + version + ", " + metadata.size() + " keys, " + tensors.size() + " tensors]";
    }
}

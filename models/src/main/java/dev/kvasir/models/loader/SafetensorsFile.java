package dev.kvasir.models.loader;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.kvasir.kernels.GgmlType;
import dev.kvasir.kernels.WeightTensor;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Collections;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A memory-mapped safetensors file: u64 header length, a JSON header naming each tensor's dtype,
 * shape and byte range, then the data. Tensors keep their Hugging Face names here; shapes are
 * reversed into GGUF order (innermost first).
 */
final class SafetensorsFile implements AutoCloseable {

    /** The safetensors format caps the header at 100 MB. */
    private static final long MAX_HEADER = 100L << 20;
    private static final ObjectMapper JSON = new ObjectMapper();

    private final Path path;
    private final Arena arena;
    private final Map<String, WeightTensor> tensors;
    private final Map<String, String> metadata;

    private SafetensorsFile(Path path, Arena arena, Map<String, WeightTensor> tensors, Map<String, String> metadata) {
        this.path = path;
        this.arena = arena;
        this.tensors = tensors;
        this.metadata = metadata;
    }

    static SafetensorsFile open(Path path) {
        return MappedFile.open(path, SafetensorsFile::parse);
    }

    private static SafetensorsFile parse(Path path, Arena arena, MemorySegment file) {
        if (file.byteSize() < 8) {
            throw new ModelFormatException(path, "not a safetensors file: only " + file.byteSize() + " bytes");
        }
        long headerLength = file.get(ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), 0);
        if (headerLength < 2 || headerLength > MAX_HEADER || headerLength > file.byteSize() - 8) {
            throw new ModelFormatException(path, "bad safetensors header length " + Long.toUnsignedString(headerLength)
                    + " (file has " + file.byteSize() + " bytes; the format allows up to " + MAX_HEADER + ")");
        }
        String headerText = new String(file.asSlice(8, headerLength).toArray(ValueLayout.JAVA_BYTE), StandardCharsets.UTF_8);
        JsonNode header;
        try {
            header = JSON.readTree(headerText);
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new ModelFormatException(path, "bad safetensors header JSON: " + e.getOriginalMessage(), e);
        }
        if (header == null || !header.isObject()) {
            throw new ModelFormatException(path, "bad safetensors header JSON: expected an object");
        }
        long dataStart = 8 + headerLength;
        MemorySegment data = file.asSlice(dataStart);
        Map<String, WeightTensor> tensors = new LinkedHashMap<>();
        Map<String, String> metadata = new LinkedHashMap<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = header.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            if (e.getKey().equals("__metadata__")) {
                e.getValue().fields().forEachRemaining(m -> metadata.put(m.getKey(), m.getValue().asText()));
                continue;
            }
            tensors.put(e.getKey(), tensor(path, e.getKey(), e.getValue(), data));
        }
        return new SafetensorsFile(path, arena, Collections.unmodifiableMap(tensors), Collections.unmodifiableMap(metadata));
    }

    private static WeightTensor tensor(Path path, String name, JsonNode entry, MemorySegment data) {
        JsonNode dtype = entry.get("dtype"), shapeNode = entry.get("shape"), offsets = entry.get("data_offsets");
        if (dtype == null || !dtype.isTextual() || shapeNode == null || !shapeNode.isArray()
                || offsets == null || !offsets.isArray() || offsets.size() != 2) {
            throw new ModelFormatException(path, "bad safetensors header JSON: tensor " + name
                    + " needs dtype, shape and data_offsets [begin, end], got " + entry);
        }
        GgmlType type = switch (dtype.asText()) {
            case "F32" -> GgmlType.F32;
            case "F16" -> GgmlType.F16;
            case "BF16" -> GgmlType.BF16;
            default -> throw new ModelFormatException(path, "tensor " + name + " has unsupported dtype " + dtype.asText()
                    + " (Kvasir reads F32, F16 and BF16 safetensors)");
        };
        int rank = shapeNode.size();
        long[] shape = new long[rank];
        long elements = 1;
        for (int i = 0; i < rank; i++) {
            JsonNode d = shapeNode.get(i);
            if (!d.canConvertToLong() || d.asLong() <= 0) {
                throw new ModelFormatException(path, "tensor " + name + " has a bad shape " + shapeNode);
            }
            shape[rank - 1 - i] = d.asLong(); // safetensors lists the outermost dimension first; GGUF the innermost
            try {
                elements = Math.multiplyExact(elements, d.asLong());
            } catch (ArithmeticException ex) {
                throw new ModelFormatException(path, "tensor " + name + " has an absurd shape " + shapeNode);
            }
        }
        long begin = offsets.get(0).asLong(-1), end = offsets.get(1).asLong(-1);
        long bytes = type.bytesFor(elements);
        if (begin < 0 || end < begin || end - begin != bytes) {
            throw new ModelFormatException(path, "tensor " + name + " has data_offsets " + offsets + " but its "
                    + dtype.asText() + " shape " + shapeNode + " needs " + bytes + " bytes");
        }
        if (end > data.byteSize()) {
            throw new ModelFormatException(path, "truncated tensor data: tensor " + name + " ends at data byte " + end
                    + " but the file holds only " + data.byteSize() + " data bytes");
        }
        return new WeightTensor(name, type, shape, data.asSlice(begin, bytes));
    }

    Path path() {
        return path;
    }

    /** Tensors by their Hugging Face names. */
    Map<String, WeightTensor> tensors() {
        return tensors;
    }

    /** The header's {@code __metadata__} strings. */
    Map<String, String> metadata() {
        return metadata;
    }

    @Override
    public void close() {
        arena.close();
    }
}

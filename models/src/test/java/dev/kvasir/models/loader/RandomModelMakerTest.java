package dev.kvasir.models.loader;

import dev.kvasir.kernels.GgmlType;
import dev.kvasir.models.LlamaConfig;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.*;

class RandomModelMakerTest {

    @TempDir
    Path dir;

    @Test
    void tinyShapeLoadsWithTheLlamaVocabularyAndIsReproducible() throws IOException {
        Path a = dir.resolve("a.gguf"), b = dir.resolve("b.gguf");
        RandomModelMaker.Shape tiny = RandomModelMaker.SHAPES.get("tiny");
        RandomModelMaker.make(tiny, GgmlType.Q8_0, 7, a);
        RandomModelMaker.make(tiny, GgmlType.Q8_0, 7, b);
        assertEquals(-1, Files.mismatch(a, b), "same seed, same bytes");
        try (LoadedModel m = ModelLoader.load(a)) {
            assertEquals(new LlamaConfig(64, 2, 4, 2, 16, 128, 32000, 2048, 1e-5f, 10000f, null,
                    LlamaConfig.RopeStyle.NORMAL, false, 1, 2, -1), m.config());
            assertEquals(GgmlType.Q8_0, m.weights().tensor("blk.0.attn_q.weight").type());
            assertEquals(GgmlType.F32, m.weights().tensor("blk.0.attn_norm.weight").type());
            assertEquals(7L, m.metadata().get("general.file_type"));
            assertEquals(16L, m.metadata().get("llama.rope.dimension_count"));
            assertEquals("llama", m.metadata().get("tokenizer.ggml.model"));
            try (GgufFile vocab = GgufFile.open(dev.kvasir.models.ModelLocator.testModel("llama-2-tiny-random.gguf"))) {
                assertArrayEquals((String[]) vocab.metadata().get("tokenizer.ggml.tokens"), (String[]) m.metadata().get("tokenizer.ggml.tokens"));
                assertArrayEquals((float[]) vocab.metadata().get("tokenizer.ggml.scores"), (float[]) m.metadata().get("tokenizer.ggml.scores"));
            }
            float[] q = dev.kvasir.kernels.quant.Quant.dequantize(m.weights().tensor("blk.1.ffn_up.weight"));
            double sum = 0, sumSq = 0;
            for (float v : q) {
                sum += v;
                sumSq += v * v;
            }
            assertEquals(0, sum / q.length, 0.002);
            assertEquals(0.02, Math.sqrt(sumSq / q.length), 0.002);
        }
    }

    @Test
    void gpt2VocabularyIsConsistent() {
        Gpt2Vocab v = Gpt2Vocab.build(49152);
        assertEquals(49152, v.tokens().length);
        assertEquals("<|endoftext|>", v.tokens()[0]);
        assertEquals("<|im_start|>", v.tokens()[1]);
        assertEquals("<|im_end|>", v.tokens()[2]);
        assertArrayEquals(new int[] {3, 3, 3, 1}, java.util.Arrays.copyOf(v.tokenTypes(), 4));
        char[] bytes = Gpt2Vocab.byteToUnicode();
        assertEquals('Ġ', bytes[' ']);
        assertEquals('Ċ', bytes['\n']);
        assertEquals('A', bytes['A']);
        Set<Character> distinct = new HashSet<>();
        for (char c : bytes) distinct.add(c);
        assertEquals(256, distinct.size());
        Map<String, Integer> ids = new HashMap<>();
        for (int i = 0; i < v.tokens().length; i++) assertNull(ids.put(v.tokens()[i], i), "duplicate " + v.tokens()[i]);
        assertEquals(49152 - 3 - 256, v.merges().length);
        for (String merge : v.merges()) {
            String[] parts = merge.split(" ");
            assertEquals(2, parts.length, merge);
            int joined = ids.getOrDefault(parts[0] + parts[1], -1);
            assertTrue(joined > ids.get(parts[0]) && joined > ids.get(parts[1]), merge);
        }
    }

    @Test
    void smol135ShapeHasTheGpt2TokenizerAndTiedEmbeddings() {
        // Only the header is checked: writing 135M random weights is a benchmark job, not a unit test.
        RandomModelMaker.Shape s = RandomModelMaker.SHAPES.get("smol135");
        assertTrue(s.tiedEmbeddings() && s.gpt2());
        RandomModelMaker.Shape small = new RandomModelMaker.Shape("smol-mini", 64, 1, 4, 2, 64, 600, 100000f, 8192, true, true);
        Path file = dir.resolve("smol.gguf");
        RandomModelMaker.make(small, GgmlType.F16, 1, file);
        try (LoadedModel m = ModelLoader.load(file)) {
            assertTrue(m.config().tiedEmbeddings());
            assertEquals(100000f, m.config().ropeTheta());
            assertEquals(2, m.config().eotId());
            assertEquals(1, m.config().bosId());
            assertEquals("gpt2", m.metadata().get("tokenizer.ggml.model"));
            assertEquals("smollm", m.metadata().get("tokenizer.ggml.pre"));
            assertEquals(600 - 259, ((String[]) m.metadata().get("tokenizer.ggml.merges")).length);
            assertTrue(m.chatTemplate().contains("<|im_start|>"));
            assertNull(m.weights().find("output.weight"));
        }
    }
}

package dev.kvasir.models;

import dev.kvasir.kernels.GgmlType;
import dev.kvasir.models.loader.ModelShape;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The README's capacity table (Llama-3-8B and -70B, bf16 and int8, A100 40 and 80 GB, TP 1 to 8):
 * every row is what {@link CapacityPlanner} computes today, and its KV figures are the hand
 * arithmetic of the published configs: 2 (K, V) x layers x KV heads per rank x 128 x 2 bytes per
 * token, 16 tokens per block, 512 blocks per sequence of 8192.
 */
class PlanReadmeTableTest {

    private record Row(String model, String weights, String gpu, int tp, double weightsGib, long kvBytesPerToken,
                       int kvBlocks, long kvTokens, int seqs) {}

    private static List<Row> readmeRows() throws IOException {
        Path readme = Path.of(System.getProperty("user.dir")).getParent().resolve("README.md");
        String text = Files.readString(readme);
        int from = text.indexOf("<!-- plan-table:start -->"), to = text.indexOf("<!-- plan-table:end -->");
        assertTrue(from >= 0 && to > from, "README.md has the plan table between its markers");
        List<Row> rows = new ArrayList<>();
        for (String line : text.substring(from, to).split("\n")) {
            if (!line.startsWith("| llama")) continue;
            String[] c = line.substring(1, line.length() - 1).split("\\|");
            rows.add(new Row(c[0].strip(), c[1].strip(), c[2].strip(), Integer.parseInt(c[3].strip()), Double.parseDouble(c[4].strip()),
                    Long.parseLong(c[5].strip()), Integer.parseInt(c[6].strip()), Long.parseLong(c[7].strip()),
                    Integer.parseInt(c[8].strip())));
        }
        return rows;
    }

    @Test
    void everyRowIsThePlannersAndTheKvArithmetic() throws IOException {
        List<Row> rows = readmeRows();
        assertEquals(2 * 2 * 2 * 4, rows.size(), "two models, two weight types, two GPUs, four sizes");
        for (Row r : rows) {
            String what = r.toString();
            int layers = r.model().equals("llama-3-8b") ? 32 : 80;
            // 8 KV heads of 128 dims: split over the ranks, never fewer than one per rank.
            long kvPerToken = 2L * layers * Math.max(1, 8 / r.tp()) * 128 * 2;
            assertEquals(kvPerToken, r.kvBytesPerToken(), what);
            assertEquals(16L * r.kvBlocks(), r.kvTokens(), what);
            assertEquals(r.kvBlocks() / 512, r.seqs(), what);

            ModelShape shape = ModelShape.resolve(r.model()).withMatrixType(ModelShape.parseType(r.weights()));
            CapacityPlan p = CapacityPlanner.plan(new CapacityPlanner.Request(shape, Gpu.parse(r.gpu()), r.tp(), 0.90,
                    new KvCacheSizing.StepLimits(256, 2048, 8192, 16), CapacityPlanner.DEFAULT_RESERVED_BYTES, 2));
            assertEquals(String.format(Locale.ROOT, "%.2f", p.weightsGibPerRank()), String.format(Locale.ROOT, "%.2f", r.weightsGib()), what);
            assertEquals(r.kvBytesPerToken(), p.kvBytesPerTokenPerRank(), what);
            assertEquals(r.kvBlocks(), p.kvBlocks(), what);
            assertEquals(r.kvTokens(), p.kvTokens(), what);
            assertEquals(r.seqs(), p.maxSeqsAtMaxModelLen(), what);
        }
    }

    @Test
    void llama3ConfigsAreThePublishedOnes() {
        // Parameter counts from the shapes: 8,030,261,248 and 70,553,706,496, as published.
        assertEquals(8_030_261_248L, parameters(ModelShape.resolve("llama-3-8b").config()));
        assertEquals(70_553_706_496L, parameters(ModelShape.resolve("llama-3-70b").config()));
        LlamaConfig c = ModelShape.resolve("llama-3-70b").config();
        assertEquals(8192, c.contextLength());
        assertEquals(128, c.headDim());
        assertEquals(GgmlType.BF16, ModelShape.resolve("llama-3-70b").type("blk.79.ffn_down.weight"));
    }

    private static long parameters(LlamaConfig c) {
        long perLayer = (long) c.qDim() * c.dim() * 2 + 2L * c.kvDim() * c.dim() + 3L * c.ffnDim() * c.dim() + 2L * c.dim();
        return 2L * c.vocabSize() * c.dim() + c.numLayers() * perLayer + c.dim();
    }

    @Test
    void weightsPerRankByHand() {
        ModelShape eightB = ModelShape.resolve("llama-3-8b");
        LlamaConfig c = eightB.config();
        // One GPU: every matrix in bf16 (8,029,995,008 values), the 65 norms of 4096 in f32.
        assertEquals(8_029_995_008L * 2 + 65L * 4096 * 4, CapacityPlanner.weightBytes(c, RankShard.whole(c), eightB));
        // Eight GPUs: the embedding whole (128256 x 4096), an eighth of the LM head and of every layer's matrices.
        long embedding = 128_256L * 4096, head = embedding / 8, layers = 32L * 218_103_808 / 8;
        assertEquals((embedding + head + layers) * 2 + 65L * 4096 * 4,
                CapacityPlanner.weightBytes(c, ShardPlan.of(c, 8).rank(0), eightB));
        // Q8_0: 34 bytes per 32 values.
        assertEquals(8_029_995_008L / 32 * 34 + 65L * 4096 * 4,
                CapacityPlanner.weightBytes(c, RankShard.whole(c), eightB.withMatrixType(GgmlType.Q8_0)));
    }

    @Test
    void aModelThatDoesNotFitSaysSo() {
        ModelShape seventyB = ModelShape.resolve("llama-3-70b");
        CapacityPlan p = CapacityPlanner.plan(new CapacityPlanner.Request(seventyB, Gpu.A100_80GB, 1, 0.9,
                new KvCacheSizing.StepLimits(256, 2048, 8192, 16), CapacityPlanner.DEFAULT_RESERVED_BYTES, 2));
        assertEquals(0, p.kvBlocks());
        assertTrue(!p.fits() && p.minBlocks() > 512, "one sequence of 8192 needs its 512 blocks and the watermark");
    }
}

package dev.kvasir.models;

import dev.kvasir.kernels.AllReduce;
import dev.kvasir.kernels.DeviceTensor;
import dev.kvasir.kernels.GgmlType;
import dev.kvasir.kernels.cpu.CpuBackend;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The tensor-parallel hook of {@link LlamaModel} on the CPU backend: called on the attention output
 * projection's and the MLP down projection's result of every layer (twice per layer and step) with
 * {@code tokens * dim} values, before the residual add reads it; with a hook that leaves the values
 * alone the logits are those of {@link AllReduce#NONE}, to within 1e-5: not bit for bit, because
 * the CPU kernels' lane sums ({@code reduceLanes(ADD)}) round differently before and after C2
 * compiles them, and in a fresh JVM the two runs straddle that (seen in CI, 9e-8 apart). A hook
 * that lost or doubled a sum moves them by orders of magnitude more (the last check below).
 */
class AllReduceHookTest {

    private static final int BLOCK = 4;

    @Test
    void hookRunsTwicePerLayerOnTheProjectionsAndChangesNothingForOneRank() {
        LlamaConfig c = TinyModels.config(64, 3, 4, 2, 96, 96, LlamaConfig.RopeStyle.NORMAL, null, false);
        int[] prompt = {5, 17, 42, 8, 91};
        int[] table = Steps.identity(8);
        List<long[]> calls = new ArrayList<>(); // {tensor size, count}
        List<DeviceTensor> tensors = new ArrayList<>();
        AllReduce recording = (tensor, count) -> {
            calls.add(new long[] {tensor.size(), count});
            tensors.add(tensor);
        };
        try (TinyModels.Weights w = TinyModels.random(c, GgmlType.F32, 21); CpuBackend backend = new CpuBackend(2)) {
            float[] plainPrefill, plainDecode, hookedPrefill, hookedDecode;
            try (LlamaModel m = LlamaModel.create(c, w, backend, 8, BLOCK, 0, AllReduce.NONE)) {
                plainPrefill = Steps.run(m, prompt, 0, table, BLOCK).clone();
                plainDecode = Steps.run(m, new int[] {33}, prompt.length, table, BLOCK).clone();
            }
            try (LlamaModel m = LlamaModel.create(c, w, backend, 8, BLOCK, 0, recording)) {
                hookedPrefill = Steps.run(m, prompt, 0, table, BLOCK).clone();
                assertEquals(2 * c.numLayers(), calls.size(), "calls in a prefill step of " + c.numLayers() + " layers");
                for (long[] call : calls) {
                    assertEquals((long) prompt.length * c.dim(), call[1], "count: tokens x dim");
                    assertTrue(call[0] >= call[1], "the tensor holds the values summed");
                }
                calls.clear();
                hookedDecode = Steps.run(m, new int[] {33}, prompt.length, table, BLOCK).clone();
                assertEquals(2 * c.numLayers(), calls.size(), "calls in a decode step");
                for (long[] call : calls) assertEquals(c.dim(), call[1], "count of one decode token");
            }
            // Always the projection output buffer (the one the residual add reads).
            for (DeviceTensor t : tensors) assertSame(tensors.get(0), t);
            assertArrayEquals(plainPrefill, hookedPrefill, 1e-5f);
            assertArrayEquals(plainDecode, hookedDecode, 1e-5f);

            // The result is what the residual add uses: a hook acting as a second identical rank changes the logits.
            AllReduce twoIdenticalRanks = (tensor, count) -> {
                float[] v = new float[(int) count];
                backend.download(tensor, 0, v, 0, v.length);
                for (int i = 0; i < v.length; i++) v[i] *= 2;
                backend.upload(v, 0, tensor, 0, v.length);
            };
            try (LlamaModel m = LlamaModel.create(c, w, backend, 8, BLOCK, 0, twoIdenticalRanks)) {
                float[] doubled = Steps.run(m, prompt, 0, table, BLOCK);
                double moved = 0;
                for (int i = 0; i < doubled.length; i++) moved = Math.max(moved, Math.abs(doubled[i] - plainPrefill[i]));
                assertTrue(moved > 1e-3, "the hook's sum must reach the residual (logits moved " + moved + ")");
            }
        }
    }
}

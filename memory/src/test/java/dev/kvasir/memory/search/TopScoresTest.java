package dev.kvasir.memory.search;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import java.util.Random;
import org.junit.jupiter.api.Test;

class TopScoresTest {
    @Test
    void keepsTheBestScoresBestFirst() {
        Random r = new Random(7);
        for (int trial = 0; trial < 50; trial++) {
            int n = 1 + r.nextInt(300), k = 1 + r.nextInt(20);
            float[] scores = new float[n];
            TopScores top = new TopScores(k);
            for (int i = 0; i < n; i++) {
                scores[i] = r.nextInt(1000) / 10f;
                top.offer(i, scores[i]);
            }
            float[] sorted = scores.clone();
            java.util.Arrays.sort(sorted);
            float[] expected = new float[Math.min(n, k)];
            for (int i = 0; i < expected.length; i++) expected[i] = sorted[n - 1 - i];
            int[] slots = top.slotsDescending();
            float[] got = new float[slots.length];
            for (int i = 0; i < slots.length; i++) got[i] = scores[slots[i]];
            assertArrayEquals(expected, got);
        }
    }
}

package dev.kvasir.server.engine;

import dev.kvasir.server.KvasirServer;
import dev.kvasir.server.TestServers;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * {@code serve --tensor-parallel-size 2} on the CPU, end to end: the model split over two ranks
 * (a worker each, joined by the in-process all-reduce) under one engine and one block manager
 * answers over HTTP exactly what the unsplit server answers, from the prefix cache too, and forks by
 * copy-on-write on both ranks' caches (swapping every rank's blocks: TensorParallelTest).
 */
class TensorParallelServeTest {

    @Test
    void twoRanksAnswerWhatOneAnswers() throws Exception {
        List<String> single = GreedyAnswers.cpuAnswers();
        try (KvasirServer server = TestServers.start(TestServers.config().toBuilder().tensorParallelSize(2).build())) {
            assertEquals(2, server.tensorParallelSize());
            GreedyAnswers.assertAnswers(server, single);
        }
    }
}

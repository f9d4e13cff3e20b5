package dev.kvasir.server.cli;

import dev.kvasir.kernels.cuda.CudaRuntime;
import dev.kvasir.kernels.cuda.CudaTestSupport;
import dev.kvasir.models.ModelLocator;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * {@code generate --device cuda --tensor-parallel-size N}: the CPU's text on N devices, and the
 * fail-fast refusals: more ranks than visible GPUs, and no NCCL. Skips without CUDA; the cuda-sim
 * execution runs it on the simulator's 4 devices with its fake libnccl.so.2.
 */
class CudaTensorParallelCliTest {

    private static final String MODEL = ModelLocator.testModel("stories260K.gguf").toString();

    /** Exit code and stderr of {@code kvasir args} in this JVM. */
    private static String[] inProcess(String... args) {
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        PrintStream old = System.err;
        int code;
        try {
            System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
            code = KvasirCli.commandLine().execute(args);
        } finally {
            System.setErr(old);
        }
        return new String[] {String.valueOf(code), err.toString(StandardCharsets.UTF_8).strip()};
    }

    @Test
    void twoDevicesPrintTheCpusText() {
        CudaTestSupport.requireCuda();
        assumeTrue(CudaRuntime.deviceCount() >= 2, "needs 2 GPUs");
        String[] cpu = GenerateCommandTest.generate();
        String[] gpu = GenerateCommandTest.generate("--device", "cuda", "--tensor-parallel-size", "2");
        assertEquals(cpu[0], gpu[0]);
        assertTrue(gpu[1].contains("2 tensor-parallel ranks: cuda"), gpu[1]);
    }

    @Test
    void moreRanksThanGpusStopsAtOnce() {
        CudaTestSupport.requireCuda();
        int gpus = CudaRuntime.deviceCount();
        String[] r = inProcess("generate", "--model", MODEL, "--device", "cuda", "--tensor-parallel-size", String.valueOf(2 * gpus));
        assertEquals("2", r[0], r[1]);
        assertTrue(r[1].startsWith("generate: --tensor-parallel-size " + 2 * gpus + " needs " + 2 * gpus
                + " GPUs, one per rank, but CUDA sees " + gpus), r[1]);
    }

    /**
     * A process whose library path has everything CUDA needs but libnccl.so.2 (here: the
     * simulator's libraries less its NCCL): two ranks stop before loading the model, naming NCCL
     * and where it comes from.
     */
    @Test
    void withoutNcclTwoRanksStopNamingIt(@TempDir Path dir) throws Exception {
        CudaTestSupport.requireCuda();
        assumeTrue(CudaTestSupport.simulated(), "the library path is rebuilt from the simulator's libraries");
        Path libs = Path.of(System.getenv("LD_LIBRARY_PATH").split(":")[0]);
        try (Stream<Path> files = Files.list(libs)) {
            for (Path f : (Iterable<Path>) files::iterator) {
                if (!f.getFileName().toString().startsWith("libnccl")) Files.createSymbolicLink(dir.resolve(f.getFileName()), f);
            }
        }
        assertTrue(Files.exists(libs.resolve("libnccl.so.2")), "the simulator's NCCL is where the test expects it: " + libs);
        String[] r = runCli(dir, "generate", "--model", MODEL, "--device", "cuda", "--tensor-parallel-size", "2",
                "--max-tokens", "1");
        assertEquals("2", r[0], r[1]);
        assertTrue(r[1].contains("generate: --tensor-parallel-size 2 on cuda: NCCL (libnccl.so.2) was not found"), r[1]);
        assertTrue(r[1].contains("nvidia-nccl-cu13"), r[1]);
    }

    /** {@code kvasir args} in a new JVM with {@code LD_LIBRARY_PATH=libs}: exit code and stderr. */
    private static String[] runCli(Path libs, String... args) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED",
                "-cp", System.getProperty("java.class.path"), KvasirCli.class.getName()));
        cmd.addAll(List.of(args));
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectOutput(ProcessBuilder.Redirect.DISCARD);
        pb.environment().put("LD_LIBRARY_PATH", libs.toString());
        Process p = pb.start();
        String err = new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), "the CLI exits");
        return new String[] {String.valueOf(p.exitValue()), err};
    }
}

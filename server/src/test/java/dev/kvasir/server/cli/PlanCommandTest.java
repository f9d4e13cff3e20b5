package dev.kvasir.server.cli;

import dev.kvasir.models.ModelLocator;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@code kvasir plan}: the closing plan line, the refusal when nothing fits, and bad flags named. */
class PlanCommandTest {

    /** Exit code, stdout and stderr of {@code kvasir args}. */
    private static String[] plan(String... args) {
        ByteArrayOutputStream out = new ByteArrayOutputStream(), err = new ByteArrayOutputStream();
        StringWriter cliErr = new StringWriter();
        PrintStream oldOut = System.out, oldErr = System.err;
        int code;
        try {
            System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
            System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
            code = KvasirCli.commandLine().setErr(new PrintWriter(cliErr, true)).execute(args);
        } finally {
            System.setOut(oldOut);
            System.setErr(oldErr);
        }
        return new String[] {String.valueOf(code), out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8) + cliErr};
    }

    private static String lastLine(String text) {
        String[] lines = text.strip().split("\n");
        return lines[lines.length - 1];
    }

    @Test
    void llama3On8A100sEndsWithThePlanLineOfTheReadme() {
        String[] r = plan("plan", "--model", "llama-3-70b", "--gpu", "a100-80gb", "--tensor-parallel-size", "8", "--max-model-len", "8192");
        assertEquals("0", r[0], r[2]);
        assertEquals("plan: weights_gib_per_rank=18.14 kv_bytes_per_token_per_rank=40960 kv_blocks=86056 kv_tokens=1376896"
                + " max_seqs_at_max_model_len=168", lastLine(r[1]));
        assertTrue(r[1].contains("1 of 8 KV heads"), r[1]);
    }

    @Test
    void aModelThatDoesNotFitExitsOneSayingWhy() {
        String[] r = plan("plan", "--model", "llama-3-70b", "--gpu", "a100-40gb", "--max-model-len", "8192");
        assertEquals("1", r[0]);
        assertTrue(lastLine(r[1]).startsWith("plan: weights_gib_per_rank=131.42 ") && lastLine(r[1]).contains(" kv_blocks=0 "), r[1]);
        assertTrue(r[2].startsWith("plan: does not fit: one sequence of max-model-len 8192 needs"), r[2]);
    }

    @Test
    void aGgufFileIsPlannedFromItsHeader() {
        String[] r = plan("plan", "--model", ModelLocator.testModel("stories260K.gguf").toString(), "--gpu", "h200", "-tp", "2");
        assertEquals("0", r[0], r[2]);
        // 5 layers x 2 of 4 KV heads x 8 dims x 2 (K and V) x 2 bytes.
        assertTrue(lastLine(r[1]).contains(" kv_bytes_per_token_per_rank=320 "), r[1]);
    }

    @Test
    void badFlagsAreNamed() {
        String[] r = plan("plan", "--model", "llama-3-8b", "--gpu", "v100");
        assertEquals("1", r[0]);
        assertEquals("kvasir plan: --gpu must be one of a100-40gb, a100-80gb, h100-80gb, h200; got 'v100'", r[2].strip());
        r = plan("plan", "--model", "llama-3-8b", "--gpu", "a100-80gb", "-tp", "3");
        assertEquals("kvasir plan: --tensor-parallel-size 3 does not divide the model's 32 attention heads; use one that does"
                + " (1, 2, 4, 8, 16, 32)", r[2].strip());
        r = plan("plan", "--model", "llama-3-9b", "--gpu", "a100-80gb");
        assertTrue(r[2].contains("not a known model name (llama-3-8b, llama-3-70b)"), r[2]);
    }
}

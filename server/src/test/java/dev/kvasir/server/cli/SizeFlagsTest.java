package dev.kvasir.server.cli;

import org.junit.jupiter.api.Test;
import picocli.CommandLine;

import java.io.PrintWriter;
import java.io.StringWriter;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Every size flag takes units or refuses naming the flag; what a plain number means is each flag's. */
class SizeFlagsTest {

    private static ServeCommand parse(String... args) {
        CommandLine cl = new CommandLine(new ServeCommand());
        cl.parseArgs(args);
        return cl.getCommand();
    }

    @Test
    void unitsFollowKubernetesBinaryWithIDecimalWithout() {
        assertEquals(512L << 20, ByteSize.parse("512MiB", 1));
        assertEquals(512L << 20, ByteSize.parse("512mi", 1));
        assertEquals(2_000_000_000L, ByteSize.parse("2GB", 1));
        assertEquals(2_000_000_000L, ByteSize.parse("2g", 1));
        assertEquals(3L << 29, ByteSize.parse("1.5GiB", 1));
        assertEquals(1536, ByteSize.parse("1.5KiB", 1));
        assertEquals(1L << 40, ByteSize.parse("1TiB", 1));
        assertEquals(100, ByteSize.parse("100B", 1));
        assertEquals(100, ByteSize.parse(" 100 ", 1));
        assertEquals(4L << 30, ByteSize.parse("4", 1L << 30));
        assertEquals(1L << 29, ByteSize.parse("0.5", 1L << 30));
    }

    @Test
    void badSizesAreRefusedWithTheReason() {
        assertTrue(assertThrows(IllegalArgumentException.class, () -> ByteSize.parse("12XB", 1)).getMessage().contains("unknown unit"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> ByteSize.parse("-1GiB", 1)).getMessage().contains("not a size"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> ByteSize.parse("lots", 1)).getMessage().contains("not a size"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> ByteSize.parse("", 1)).getMessage().contains("not a size"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> ByteSize.parse("1.5", 1)).getMessage().contains("fraction"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> ByteSize.parse("9000000TiB", 1)).getMessage().contains("larger"));
    }

    /** The reported bug: a plain byte count was read as GiB, silently. */
    @Test
    void plainNumbersAreBytesExceptVllmsSwapSpace() {
        ServeCommand c = parse("--max-request-body", "1048576", "--kv-cache-memory", "268435456", "--swap-space", "4");
        assertEquals(1_048_576, c.maxRequestBody);
        assertEquals(256L << 20, c.kvCacheMemory);
        assertEquals(4L << 30, c.swapSpace);
        ServeCommand units = parse("--max-request-body", "100KiB", "--kv-cache-memory", "1.5GiB", "--swap-space", "512MiB");
        assertEquals(100 << 10, units.maxRequestBody);
        assertEquals(3L << 29, units.kvCacheMemory);
        assertEquals(512L << 20, units.swapSpace);
        ServeCommand defaults = parse();
        assertEquals(8 << 20, defaults.maxRequestBody);
        assertEquals(512L << 20, defaults.kvCacheMemory);
        assertEquals(0, defaults.swapSpace);
    }

    @Test
    void aBadSizeNamesTheFlagAndStopsBeforeAnythingLoads() {
        for (String flag : new String[] {"--max-request-body", "--kv-cache-memory", "--swap-space"}) {
            StringWriter err = new StringWriter();
            int code = KvasirCli.commandLine().setErr(new PrintWriter(err, true)).execute("serve", flag, "12XB");
            assertEquals(2, code, err.toString());
            assertTrue(err.toString().contains(flag) && err.toString().contains("12XB"), err.toString());
            assertFalse(err.toString().contains("\tat "), err.toString());
        }
    }

    @Test
    void aRequestBodyLimitAnIntCannotHoldIsRefusedNotClamped() {
        StringWriter err = new StringWriter();
        java.io.PrintStream saved = System.err;
        java.io.ByteArrayOutputStream captured = new java.io.ByteArrayOutputStream();
        System.setErr(new java.io.PrintStream(captured, true));
        try {
            int code = KvasirCli.commandLine().setErr(new PrintWriter(err, true)).execute("serve", "--max-request-body", "3GiB");
            assertEquals(2, code);
        } finally {
            System.setErr(saved);
        }
        assertTrue(captured.toString().contains("--max-request-body"), captured.toString());
    }

    @Test
    void helpSaysWhatAPlainNumberMeans() {
        String help = new CommandLine(new ServeCommand()).setUsageHelpWidth(400).getUsageMessage();
        assertTrue(help.contains("plain number is GiB, as in vLLM"), help);
        assertTrue(help.contains("or bytes"), help);
    }
}

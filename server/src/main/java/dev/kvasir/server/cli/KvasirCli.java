package dev.kvasir.server.cli;

import dev.kvasir.models.loader.ModelFormatException;
import picocli.CommandLine;
import picocli.CommandLine.Command;

import java.io.IOException;
import java.io.UncheckedIOException;

/** {@code scripts/kvasir}: the one command line of Kvasir. */
@Command(name = "kvasir", mixinStandardHelpOptions = true, version = "kvasir 0.1.0",
        description = "LLM inference server: paged KV cache, continuous batching, OpenAI-compatible API.",
        subcommands = {ServeCommand.class, GenerateCommand.class, PlanCommand.class})
public final class KvasirCli {

    public static void main(String[] args) {
        System.exit(commandLine().execute(args));
    }

    static CommandLine commandLine() {
        return new CommandLine(new KvasirCli()).setExecutionExceptionHandler(KvasirCli::reportFailure);
    }

    /**
     * A bad model file, a missing file or a bad setting is the user's to fix: one line naming what
     * was wrong, exit 1. Anything else is our bug and keeps its stack trace. KVASIR_DEBUG=1 always
     * shows the trace.
     */
    private static int reportFailure(Exception e, CommandLine cmd, CommandLine.ParseResult parsed) {
        boolean userError = e instanceof ModelFormatException || e instanceof IllegalArgumentException || e instanceof IllegalStateException
                || e instanceof IOException || e instanceof UncheckedIOException;
        if (!userError || System.getenv("KVASIR_DEBUG") != null) {
            e.printStackTrace(cmd.getErr());
        } else {
            cmd.getErr().println("kvasir " + cmd.getCommandName() + ": " + e.getMessage());
        }
        return 1;
    }
}

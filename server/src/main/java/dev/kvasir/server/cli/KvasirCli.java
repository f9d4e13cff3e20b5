package dev.kvasir.server.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/** {@code scripts/kvasir}: the one command line of Kvasir. */
@Command(name = "kvasir", mixinStandardHelpOptions = true, version = "kvasir 0.1.0",
        description = "LLM inference server: paged KV cache, continuous batching, OpenAI-compatible API.",
        subcommands = {ServeCommand.class, GenerateCommand.class})
public final class KvasirCli {

    public static void main(String[] args) {
        System.exit(new CommandLine(new KvasirCli()).execute(args));
    }
}

package dev.kvasir.server.cli;

import java.io.PrintWriter;
import java.io.StringWriter;

/** Runs the real command line from tests in other packages, capturing what it says on stderr. */
public final class KvasirCliAccess {

    private KvasirCliAccess() {}

    public record Result(int exitCode, String err) {}

    public static Result run(String... args) {
        StringWriter err = new StringWriter();
        int code = KvasirCli.commandLine().setErr(new PrintWriter(err, true)).execute(args);
        return new Result(code, err.toString());
    }
}

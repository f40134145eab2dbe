package dev.qforge.cli;

/** The command line run in-process, for tests of other packages (CliRun is this package's own). */
public final class CliHarness {
    private CliHarness() {
    }

    public record Result(int exit, String out, String err) {
    }

    public static Result run(String... args) {
        CliRun r = CliRun.of(args);
        return new Result(r.exit(), r.out(), r.err());
    }
}

package dev.qforge.cli;

import dev.qforge.QforgeException;
import picocli.CommandLine;
import picocli.CommandLine.Command;

import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * The {@code qforge} command line: thin commands over the library. A user's mistake (a malformed file,
 * a wrong option) is one line on stderr and a non-zero exit; {@code --debug}, anywhere on the line,
 * shows the stack trace as well.
 */
@Command(name = "qforge", mixinStandardHelpOptions = true, versionProvider = Main.Version.class,
        description = "Compress large language models and run them compressed.",
        subcommands = {
                DemoCommand.class,
                GenerateCommand.class,
                EvalCommand.class,
                ImatrixCommand.class,
                InspectCommand.class,
                SynthCommand.class,
                BenchCommand.class,
                PullCommand.class,
                QuantizeCommand.class,
                CommandLine.HelpCommand.class})
public final class Main implements Runnable {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    public static void main(String[] args) {
        System.exit(run(args, new PrintWriter(System.out, true), new PrintWriter(System.err, true)));
    }

    /** Runs the command line and returns the exit code: 0 success, 1 a failed run, 2 a usage error. */
    public static int run(String[] args, PrintWriter out, PrintWriter err) {
        List<String> rest = new ArrayList<>(Arrays.asList(args));
        boolean debug = rest.remove("--debug");
        CommandLine cli = new CommandLine(new Main());
        cli.setOut(out);
        cli.setErr(err);
        cli.setExecutionExceptionHandler((e, commandLine, parseResult) -> {
            if (debug) {
                e.printStackTrace(err);
            }
            err.println("qforge: " + oneLine(e));
            err.flush();
            return e instanceof QforgeException || e instanceof IllegalArgumentException ? 1 : 3;
        });
        return cli.execute(rest.toArray(String[]::new));
    }

    private static String oneLine(Throwable e) {
        if (e instanceof QforgeException || e instanceof IllegalArgumentException) {
            String m = e.getMessage();
            return m == null ? e.getClass().getSimpleName() : m.lines().findFirst().orElse("");
        }
        if (e instanceof OutOfMemoryError) {
            return "out of memory (" + e.getMessage() + "); give Java more with QFORGE_JAVA_OPTS=-Xmx...";
        }
        return "internal error: " + e + " (run with --debug for the stack trace; please report it)";
    }

    @Override
    public void run() {
        spec.commandLine().usage(spec.commandLine().getOut());
    }

    static final class Version implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() {
            String v = Main.class.getPackage().getImplementationVersion();
            return new String[]{"qforge " + (v == null ? "(development build)" : v)
                    + " on Java " + Runtime.version() + ", " + Runtime.getRuntime().availableProcessors() + " threads"};
        }
    }
}

package dev.qforge.cli;

import dev.qforge.QforgeException;
import dev.qforge.kernel.MatMulBackend;
import dev.qforge.kernel.Parallel;
import picocli.CommandLine.Command;
import picocli.CommandLine;

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
                ReportCommand.class,
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
        String envThreads = System.getProperty("qforge.threads");
        if (envThreads != null && !envThreads.isBlank() && !Parallel.isThreadCount(envThreads)) {
            err.println("qforge: QFORGE_THREADS must be a whole number of threads (at least 1), not '" + envThreads + "'");
            err.flush();
            return 1;
        }
        // The commands run models with oneDNN's prefill where it can run (the library's own default is the
        // Java GEMM); restored afterwards, so a caller in the same JVM keeps its choice.
        MatMulBackend before = MatMulBackend.current();
        explicitMatmul = null;
        String property = System.getProperty(MatMulBackend.PROPERTY);
        try {
            MatMulBackend.set(property == null || property.isBlank() ? MatMulBackend.AUTO : MatMulBackend.parse(property));
        } catch (IllegalArgumentException e) {
            err.println("qforge: -D" + MatMulBackend.PROPERTY + ": " + e.getMessage());
            err.flush();
            return 1;
        }
        try {
            return execute(rest, debug, out, err);
        } finally {
            MatMulBackend.set(before);
        }
    }

    private static int execute(List<String> rest, boolean debug, PrintWriter out, PrintWriter err) {
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
        try {
            return cli.execute(rest.toArray(String[]::new));
        } catch (OutOfMemoryError e) {
            // picocli hands only exceptions to the handler above; an Error reaches here
            if (debug) {
                e.printStackTrace(err);
            }
            err.println("qforge: " + oneLine(e));
            err.flush();
            return 1;
        }
    }

    private static String oneLine(Throwable e) {
        if (e instanceof QforgeException || e instanceof IllegalArgumentException) {
            String m = e.getMessage();
            return m == null ? e.getClass().getSimpleName() : m.lines().findFirst().orElse("");
        }
        if (e instanceof OutOfMemoryError) {
            long max = Runtime.getRuntime().maxMemory() >> 20;
            return "out of memory (" + e.getMessage() + ", Java may use " + max + " MiB); give it more with QFORGE_JAVA_OPTS=-Xmx<size>, e.g. -Xmx"
                    + Math.max(2, 2 * max / 1024 + 1) + "g";
        }
        return "internal error: " + e + " (run with --debug for the stack trace; please report it)";
    }

    /** Applies to every command (picocli copies it to each); the kernels use this many threads. */
    @CommandLine.Option(names = "--threads", paramLabel = "N", scope = CommandLine.ScopeType.INHERIT,
            description = "Threads for the computation (default: QFORGE_THREADS, else all cores).")
    void setThreads(int n) {
        if (n < 1) {
            throw new CommandLine.ParameterException(spec.commandLine(), "--threads must be at least 1, not " + n);
        }
        Parallel.setThreads(n);
    }

    /** The --matmul of this run, or null when not given. */
    private static volatile MatMulBackend explicitMatmul;

    @CommandLine.Option(names = "--matmul", paramLabel = "java|onednn|auto", scope = CommandLine.ScopeType.INHERIT,
            description = "Who multiplies prefill batches: oneDNN's BF16 matmul (onednn), qforge's F32 GEMM (java), "
                    + "or oneDNN where the CPU has a BF16 dot product (auto, the default; quantize and imatrix default to java).")
    void setMatmul(String name) {
        try {
            MatMulBackend b = MatMulBackend.parse(name);
            MatMulBackend.set(b);
            explicitMatmul = b;
        } catch (IllegalArgumentException e) {
            throw new CommandLine.ParameterException(spec.commandLine(), e.getMessage());
        }
    }

    /**
     * For the commands whose output is a quantized file: calibration runs on the Java GEMM unless --matmul
     * says otherwise, so the file does not depend on which native library or CPU the machine has.
     */
    static void calibrationMatmul() {
        if (explicitMatmul == null) {
            MatMulBackend.set(MatMulBackend.JAVA);
        }
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

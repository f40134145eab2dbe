package dev.qforge.cli;

import dev.qforge.hub.FileSelection;
import dev.qforge.hub.HubClient;
import dev.qforge.hub.ModelCache;
import dev.qforge.hub.ModelDownloader;
import dev.qforge.hub.RepoId;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;

/**
 * {@code qforge pull}: downloads a model from the Hugging Face Hub. Progress goes to stderr and the
 * local directory to stdout, so {@code dir=$(qforge pull owner/name)} works in scripts. Problems are
 * thrown as QforgeException for Main to print.
 */
@Command(name = "pull", mixinStandardHelpOptions = true,
        description = {
                "Download a model from the Hugging Face Hub: its config, tokenizer and safetensors weights.",
                "Resumes interrupted downloads and skips files that are already complete.",
                "Environment: HF_TOKEN (access token), HF_ENDPOINT (Hub URL, default https://huggingface.co), "
                        + "QFORGE_CACHE (default download root, ~/.cache/qforge)."})
public final class PullCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Parameters(paramLabel = "REPO_ID", description = "Model repo on the Hub, owner/name, e.g. HuggingFaceTB/SmolLM2-135M.")
    String repoId;

    @Option(names = "--revision", paramLabel = "REV", defaultValue = "main",
            description = "Branch, tag or commit to download (default: ${DEFAULT-VALUE}).")
    String revision;

    @Option(names = "--out", paramLabel = "DIR",
            description = "Directory to download into (default: $QFORGE_CACHE/models/<owner>--<name>).")
    Path out;

    @Option(names = "--token", paramLabel = "TOKEN",
            description = "Hugging Face access token for private or gated repos (default: $HF_TOKEN).")
    String token;

    @Option(names = "--include", paramLabel = "GLOB", split = ",",
            description = "Also download files matching GLOB (e.g. '*.bin'); repeatable or comma-separated.")
    List<String> include = new ArrayList<>();

    @Option(names = "--exclude", paramLabel = "GLOB", split = ",",
            description = "Skip files matching GLOB; wins over the defaults and --include.")
    List<String> exclude = new ArrayList<>();

    private final Map<String, String> env;

    public PullCommand() {
        this(System.getenv());
    }

    /** For tests: the environment to read HF_ENDPOINT, HF_TOKEN and QFORGE_CACHE from. */
    PullCommand(Map<String, String> env) {
        this.env = env;
    }

    @Override
    public Integer call() {
        RepoId repo = RepoId.parse(repoId);
        FileSelection selection = FileSelection.of(include, exclude);
        Path dest = out != null ? out : ModelCache.modelDir(env, repo);
        HubClient client = HubClient.fromEnvironment(env, token);
        Path local = new ModelDownloader(client, spec.commandLine().getErr()).download(repo, revision, dest, selection);
        spec.commandLine().getOut().println(local);
        spec.commandLine().getOut().flush();
        return 0;
    }
}

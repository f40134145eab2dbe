package dev.qforge.cli;

import dev.qforge.QforgeException;
import dev.qforge.hub.FakeHub;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.atomic.AtomicReference;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

class PullCommandTest {
    @TempDir
    Path dir;

    private final StringWriter out = new StringWriter();
    private final StringWriter err = new StringWriter();
    private final AtomicReference<Exception> thrown = new AtomicReference<>();

    private int run(Map<String, String> env, String... args) {
        CommandLine cmd = new CommandLine(new PullCommand(env));
        cmd.setOut(new PrintWriter(out, true));
        cmd.setErr(new PrintWriter(err, true));
        // Stands in for Main, which prints a QforgeException's message and exits 1.
        cmd.setExecutionExceptionHandler((e, c, p) -> {
            thrown.set(e);
            return 1;
        });
        return cmd.execute(args);
    }

    @Test
    void helpListsTheOptions() {
        assertEquals(0, run(Map.of(), "--help"));
        for (String option : new String[]{"REPO_ID", "--revision", "--out", "--token", "--include", "--exclude"}) {
            assertTrue(out.toString().contains(option), option);
        }
    }

    @Test
    void unreachableHubIsAOneLineError() throws IOException {
        int port;
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            port = s.getLocalPort();
        }
        // Retries use the default policy here (about 1.5 s of backoff), which is what users get offline.
        int code = run(Map.of("HF_ENDPOINT", "http://127.0.0.1:" + port), "acme/tiny-model",
                "--out", dir.toString());
        assertEquals(1, code);
        QforgeException e = assertInstanceOf(QforgeException.class, thrown.get());
        assertEquals("cannot reach http://127.0.0.1:" + port, e.getMessage().substring(0, e.getMessage().indexOf(" (")));
        assertTrue(e.getMessage().endsWith("check the network or set HF_ENDPOINT"), e.getMessage());
        assertFalse(e.getMessage().contains("\n"));
    }

    @Test
    void pullsIntoTheCacheWithTokenAndEndpointFromTheEnvironment() throws IOException {
        try (FakeHub hub = new FakeHub()) {
            hub.files.put("config.json", "{}".getBytes(StandardCharsets.UTF_8));
            hub.files.put("model.safetensors", FakeHub.bytes(5000, 1));
            hub.files.put("pytorch_model.bin", FakeHub.bytes(500, 2));
            hub.lfs.add("model.safetensors");
            hub.requiredToken = "hf_env";
            Map<String, String> env = Map.of("HF_ENDPOINT", hub.endpoint().toString(), "HF_TOKEN", "hf_env",
                    "QFORGE_CACHE", dir.toString());

            assertEquals(0, run(env, "acme/tiny-model", "--include", "*.bin,README*", "--exclude", "config.json"),
                    String.valueOf(thrown.get()));

            Path local = dir.resolve("models/acme--tiny-model");
            assertEquals(local.toAbsolutePath().toString(), out.toString().strip());
            assertTrue(Files.exists(local.resolve("model.safetensors")));
            assertTrue(Files.exists(local.resolve("pytorch_model.bin")));
            assertFalse(Files.exists(local.resolve("config.json")));
            assertTrue(err.toString().contains("model.safetensors: "), err.toString());

            // --token wins over HF_TOKEN.
            assertEquals(1, run(env, "acme/tiny-model", "--token", "hf_other", "--out", dir.resolve("x").toString()));
            assertTrue(thrown.get().getMessage().contains("token was refused"), thrown.get().getMessage());
        }
    }

    @Test
    void invalidRepoIdIsReported() {
        assertEquals(1, run(Map.of(), "not a repo"));
        assertInstanceOf(QforgeException.class, thrown.get());
        assertTrue(thrown.get().getMessage().contains("not a repo"));
    }

    @Test
    void missingRepoIdIsAUsageError() {
        assertEquals(2, run(Map.of()));
        assertTrue(err.toString().contains("REPO_ID"), err.toString());
    }
}

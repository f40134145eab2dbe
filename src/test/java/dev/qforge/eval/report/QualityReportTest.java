package dev.qforge.eval.report;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.w3c.dom.Document;

import javax.xml.parsers.DocumentBuilderFactory;
import java.io.ByteArrayInputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class QualityReportTest {
    @TempDir
    Path tmp;

    private static QualityReport sample() throws Exception {
        List<Measurement> m = List.of(
                new Measurement("Q2_K", "llama.cpp", "llama.cpp", 3_622_368, 3.453, 255.97, 3.35, 0.049295, 0.000291, 0.8001),
                new Measurement("IQ2_M", "llama.cpp", "llama.cpp", 3_408_352, 3.249, 254.3, 3.3, 0.031387, 0.000165, 0.8377),
                new Measurement("Q4_K_M", "llama.cpp", "llama.cpp", 5_339_616, 5.090, 254.18, 3.38, 0.003277, 0.000019, 0.9439),
                new Measurement("a <b> & \"c\"", "qforge", "llama.cpp", 3_619_072, 3.450, null, null, 0.009673, 0.000049, 0.90263),
                new Measurement("q4", "qforge", "qforge", 5_338_112, 5.088, 254.0, 3.3, 0.001007, null, null));
        JsonNode alloc = new ObjectMapper().readTree("""
                {"target_bytes": 5339616, "file_bytes": 5338112, "bits_per_weight": 5.088, "predicted_kld": 0.000793,
                 "lower_bound": 0.000789, "sensitivity": "test", "candidates": ["Q3_K", "Q4_K"],
                 "tensors": [{"name": "blk.0.attn_q.weight", "weights": 65536, "chosen": "Q4_K", "pinned": false,
                              "options": [{"type": "Q3_K", "bytes": 28160, "loss": 1.0, "expected_kld": 2.0e-6, "measured": true},
                                          {"type": "Q4_K", "bytes": 36864, "loss": 0.3, "expected_kld": 6.0e-7, "measured": false}]},
                             {"name": "output.weight", "weights": 1048576, "chosen": "Q3_K", "pinned": true,
                              "options": [{"type": "Q3_K", "bytes": 450560, "loss": 1.0, "expected_kld": 4.0e-3, "measured": true}]}]}""");
        return new QualityReport("test <report>", "subtitle & more", m, Map.of("q4", alloc), List.of("qforge quantize -m x --target-size 5339616"));
    }

    @Test
    void wellFormedSelfContainedWithEveryPointAndTheFronts() throws Exception {
        String html = sample().html();
        assertFalse(html.contains("http://") && html.replace("http://www.w3.org/", "").contains("http://"), "no link outside the page");
        assertFalse(html.contains("<script"), "no script");
        DocumentBuilderFactory f = DocumentBuilderFactory.newInstance();
        f.setNamespaceAware(true);
        Document d = f.newDocumentBuilder().parse(new ByteArrayInputStream(html.replace("<!DOCTYPE html>", "").getBytes(StandardCharsets.UTF_8)));
        assertEquals(5, d.getElementsByTagNameNS("http://www.w3.org/2000/svg", "circle").getLength(), "a point per file");
        assertEquals(2, d.getElementsByTagNameNS("http://www.w3.org/2000/svg", "path").getLength(), "a front per series");
        assertTrue(html.contains("test &lt;report&gt;") && html.contains("a &lt;b&gt; &amp; &quot;c&quot;"), "text is escaped");
        // llama.cpp's front at Q2_K's size is IQ2_M (smaller and better): the qforge file there is compared with it
        assertTrue(html.contains("0.031387 (llama.cpp IQ2_M) — ratio 0.308"), html);
        assertTrue(html.contains("class=\"chosen\">6.00e-07</td>"), "the chosen type is marked");
        assertTrue(html.contains("qforge quantize -m x --target-size 5339616"));
    }

    @Test
    void theFrontKeepsOnlyFilesNoSmallerFileBeats() throws Exception {
        List<Measurement> llama = sample().measurements().stream().filter(m -> m.series().equals("llama.cpp")).toList();
        assertEquals(List.of("IQ2_M", "Q4_K_M"), FrontPlot.front(llama).stream().map(Measurement::label).toList());
    }

    /** Rendered by a real browser where one is installed (Debian's chromium): the DOM it builds has the plots. */
    @Test
    void headlessChromiumRendersIt() throws Exception {
        String browser = null;
        for (String c : new String[]{"chromium", "chromium-browser", "google-chrome"}) {
            for (String dir : System.getenv().getOrDefault("PATH", "/usr/bin").split(":")) {
                if (Files.isExecutable(Path.of(dir, c))) {
                    browser = Path.of(dir, c).toString();
                    break;
                }
            }
            if (browser != null) {
                break;
            }
        }
        Assumptions.assumeTrue(browser != null, "no chromium installed: the page is checked as XML only");
        Path page = tmp.resolve("report.html");
        Files.writeString(page, sample().html());
        Path png = tmp.resolve("shot.png");
        ProcessBuilder pb = new ProcessBuilder(browser, "--headless", "--no-sandbox", "--disable-gpu", "--user-data-dir=" + tmp.resolve("profile"),
                "--window-size=1200,1600", "--screenshot=" + png, page.toUri().toString()).redirectErrorStream(true)
                .redirectOutput(tmp.resolve("chromium-shot.log").toFile());
        Process p = pb.start();
        assertTrue(p.waitFor(120, TimeUnit.SECONDS), "chromium finished");
        assertTrue(Files.exists(png) && Files.size(png) > 10_000, "a screenshot of the page: " + Files.readString(tmp.resolve("chromium-shot.log")));
        Process dump = new ProcessBuilder(browser, "--headless", "--no-sandbox", "--disable-gpu", "--user-data-dir=" + tmp.resolve("profile2"),
                "--dump-dom", page.toUri().toString()).redirectError(tmp.resolve("chromium-dom.log").toFile()).start();
        String dom = new String(dump.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(dump.waitFor(120, TimeUnit.SECONDS));
        assertEquals(5, dom.split("<circle").length - 1, "the browser's DOM has every point");
        assertTrue(dom.contains("<svg"), dom);
    }
}

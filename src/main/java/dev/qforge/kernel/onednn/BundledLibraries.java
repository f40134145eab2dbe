package dev.qforge.kernel.onednn;

import dev.qforge.CacheRoot;
import dev.qforge.format.AtomicFile;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.URL;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;

/**
 * The native files of oneDNN as Maven Central ships them (the org.bytedeco dnnl and opencl jars, classifier
 * linux-x86_64) copied out of the class path into a cache folder, because the dynamic loader needs real
 * files. The three go into one folder: libdnnl finds its libgomp and OpenCL loader there through its
 * {@code $ORIGIN} run path.
 *
 * <p>Each file is written as every qforge output is ({@link AtomicFile}: a temporary name, renamed into place,
 * swept after a kill), so no run leaves a half-written library for the next to load; a file already there
 * with the resource's size is used as it is.
 */
final class BundledLibraries {
    /** The version of the org.bytedeco jars in the pom; names the cache folder, so an upgrade re-extracts. */
    static final String VERSION = "dnnl-3.8.1-1.5.12";
    static final String DNNL = "libdnnl.so.3";
    static final String GOMP = "libgomp.so.1";
    private static final List<String> RESOURCES = List.of(
            "org/bytedeco/dnnl/linux-x86_64/" + DNNL,
            "org/bytedeco/dnnl/linux-x86_64/" + GOMP,
            "org/bytedeco/opencl/linux-x86_64/libOpenCL.so.1");

    private BundledLibraries() {
    }

    /** Null when these binaries can run here (Linux on x86-64), else why not. */
    static String platformProblem() {
        String os = System.getProperty("os.name", "").toLowerCase(Locale.ROOT);
        String arch = System.getProperty("os.arch", "").toLowerCase(Locale.ROOT);
        if (!os.startsWith("linux") || !(arch.equals("amd64") || arch.equals("x86_64"))) {
            return "the bundled oneDNN is built for Linux on x86-64, this is " + os + " on " + arch;
        }
        return null;
    }

    /** Null when the jars are on the class path, else which resource is missing. */
    static String missingResource() {
        for (String r : RESOURCES) {
            if (BundledLibraries.class.getClassLoader().getResource(r) == null) {
                return r;
            }
        }
        return null;
    }

    /** The folder holding the three files, extracted if not there yet. */
    static Path extract() {
        Path dir = CacheRoot.of(System.getenv()).resolve("native").resolve(VERSION);
        try {
            Files.createDirectories(dir);
            for (String r : RESOURCES) {
                URL url = BundledLibraries.class.getClassLoader().getResource(r);
                if (url == null) {
                    throw new IOException("resource " + r + " is not on the class path");
                }
                Path target = dir.resolve(r.substring(r.lastIndexOf('/') + 1));
                long size = url.openConnection().getContentLengthLong();
                if (Files.isRegularFile(target) && size >= 0 && Files.size(target) == size) {
                    continue;
                }
                AtomicFile.write(target, out -> {
                    try (InputStream in = url.openStream()) {
                        in.transferTo(out);
                    }
                });
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot extract oneDNN into " + dir + ": " + e.getMessage(), e);
        }
        return dir;
    }
}

package dev.kvasir.server.cli;

import dev.kvasir.models.ModelLocator;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;

/**
 * The model {@code kvasir serve} runs without {@code --model}: stories260K (1.2 MB), from the test
 * models folder, else the user's cache, else downloaded once from the Hugging Face hub into that
 * cache.
 */
final class DefaultModel {

    static final String FILE = "stories260K.gguf";
    static final String URL = "https://huggingface.co/ggml-org/models/resolve/main/tinyllamas/stories260K.gguf";

    private DefaultModel() {}

    static Path cacheDir() {
        return Path.of(System.getProperty("user.home"), ".cache", "kvasir", "models");
    }

    /** An existing copy, or null. */
    static Path findLocal() {
        Path dir = ModelLocator.testModelsDir();
        if (dir != null && Files.isRegularFile(dir.resolve(FILE))) return dir.resolve(FILE);
        Path cached = cacheDir().resolve(FILE);
        return Files.isRegularFile(cached) ? cached : null;
    }

    /** The local copy, downloading it first when there is none. */
    static Path locate(PrintStream progress) throws IOException, InterruptedException {
        Path local = findLocal();
        if (local != null) return local;
        Path target = cacheDir().resolve(FILE);
        Files.createDirectories(target.getParent());
        Path part = target.resolveSibling(FILE + ".part");
        progress.println("kvasir: no local " + FILE + "; downloading it once from " + URL);
        HttpClient client = HttpClient.newBuilder().followRedirects(HttpClient.Redirect.NORMAL)
                .connectTimeout(Duration.ofSeconds(15)).build();
        HttpResponse<InputStream> response;
        try {
            response = client.send(HttpRequest.newBuilder(URI.create(URL)).timeout(Duration.ofMinutes(5)).build(),
                    HttpResponse.BodyHandlers.ofInputStream());
        } catch (IOException e) {
            throw new IOException("cannot download the default model from " + URL + " (" + e.getMessage()
                    + "); without network access pass --model FILE, or put " + FILE + " in " + cacheDir(), e);
        }
        if (response.statusCode() != 200) {
            response.body().close();
            throw new IOException("downloading " + URL + " failed with HTTP " + response.statusCode());
        }
        long total = response.headers().firstValueAsLong("content-length").orElse(-1);
        try (InputStream in = response.body(); OutputStream out = Files.newOutputStream(part)) {
            byte[] buf = new byte[1 << 16];
            long done = 0;
            int lastShown = -1;
            for (int r; (r = in.read(buf)) > 0; ) {
                out.write(buf, 0, r);
                done += r;
                int pct = total > 0 ? (int) (done * 100 / total) : -1;
                if (pct != lastShown) {
                    lastShown = pct;
                    progress.print("\r" + bar(done, total));
                }
            }
            progress.println();
        }
        Files.move(part, target, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        return target;
    }

    /** {@code [#########-----------]  45%  0.5/1.2 MB}. */
    static String bar(long done, long total) {
        if (total <= 0) return String.format("%.1f MB", done / 1e6);
        int width = 30;
        int filled = (int) (done * width / total);
        return "[" + "#".repeat(filled) + "-".repeat(width - filled) + "] "
                + String.format("%3d%%  %.1f/%.1f MB", done * 100 / total, done / 1e6, total / 1e6);
    }
}

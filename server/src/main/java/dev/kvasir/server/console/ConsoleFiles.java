package dev.kvasir.server.console;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.URISyntaxException;
import java.net.URL;
import java.nio.file.FileSystem;
import java.nio.file.FileSystemAlreadyExistsException;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;

/**
 * The web console's static files, read once from the jar ({@value #ROOT}) into memory: a few small
 * files, so a request is a map lookup and never touches the disk. Only the files found at start can
 * be served; a request path is a key into that map, never a file system path.
 */
public final class ConsoleFiles {

    /** Where the files live on the class path. */
    public static final String ROOT = "dev/kvasir/server/ui/";
    private static final Map<String, String> TYPES = Map.of(
            "html", "text/html; charset=utf-8",
            "js", "text/javascript; charset=utf-8",
            "css", "text/css; charset=utf-8",
            "svg", "image/svg+xml",
            "png", "image/png",
            "json", "application/json",
            "txt", "text/plain; charset=utf-8");

    /**
     * One file.
     *
     * @param etag a strong validator: the first 16 bytes of the content's SHA-256, quoted
     */
    public record StaticFile(String name, String contentType, byte[] body, String etag) {}

    private final Map<String, StaticFile> files;

    private ConsoleFiles(Map<String, StaticFile> files) {
        this.files = Map.copyOf(files);
    }

    /** Reads every file under {@value #ROOT}; fails naming the file whose type is unknown. */
    public static ConsoleFiles load() {
        URL root = ConsoleFiles.class.getClassLoader().getResource(ROOT);
        if (root == null) throw new IllegalStateException("the web console's files are missing from the class path (" + ROOT + ")");
        try {
            URI uri = root.toURI();
            if (!uri.getScheme().equals("jar")) return read(Path.of(uri));
            FileSystem jar;
            boolean opened = false;
            try {
                jar = FileSystems.newFileSystem(uri, Map.of());
                opened = true;
            } catch (FileSystemAlreadyExistsException e) {
                jar = FileSystems.getFileSystem(uri);
            }
            try {
                return read(jar.provider().getPath(uri));
            } finally {
                if (opened) jar.close();
            }
        } catch (IOException e) {
            throw new UncheckedIOException("reading the web console's files from " + root, e);
        } catch (URISyntaxException e) {
            throw new IllegalStateException("the web console's location " + root + " is not a URI", e);
        }
    }

    private static ConsoleFiles read(Path dir) throws IOException {
        Map<String, StaticFile> out = new TreeMap<>();
        try (Stream<Path> walk = Files.walk(dir)) {
            for (Path p : (Iterable<Path>) walk.filter(Files::isRegularFile)::iterator) {
                String name = dir.relativize(p).toString().replace('\\', '/');
                String type = TYPES.get(extension(name));
                if (type == null) {
                    throw new IllegalStateException("web console file " + name + " has a type the server does not serve"
                            + " (known: " + String.join(", ", new TreeMap<>(TYPES).keySet()) + ")");
                }
                byte[] body = Files.readAllBytes(p);
                out.put(name, new StaticFile(name, type, body, etag(body)));
            }
        }
        if (!out.containsKey("index.html")) throw new IllegalStateException("the web console has no index.html under " + dir);
        return new ConsoleFiles(out);
    }

    /**
     * The file a request path names: {@code /} (and {@code /ui}) is {@code index.html}, {@code /ui/NAME}
     * is NAME; null when there is none.
     */
    public StaticFile find(String path) {
        if (path.equals("/") || path.equals("/ui")) return files.get("index.html");
        if (!path.startsWith("/ui/")) return null;
        return files.get(path.substring(4));
    }

    /** Every file, by name (tests, the README's screenshots script). */
    public Map<String, StaticFile> files() {
        return files;
    }

    private static String extension(String name) {
        int dot = name.lastIndexOf('.');
        return dot < 0 ? "" : name.substring(dot + 1).toLowerCase(Locale.ROOT);
    }

    private static String etag(byte[] body) {
        try {
            byte[] digest = MessageDigest.getInstance("SHA-256").digest(body);
            return "\"" + HexFormat.of().formatHex(digest, 0, 16) + "\"";
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is missing from this Java runtime", e);
        }
    }
}

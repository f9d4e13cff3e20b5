package dev.kvasir.server.api;

import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;

import javax.net.ssl.SSLException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The server's TLS context from vLLM's {@code --ssl-keyfile} and {@code --ssl-certfile}: PEM files,
 * read by Netty's {@link SslContextBuilder}. PKCS#8 keys it reads itself; PKCS#1 RSA and SEC1 EC
 * keys ({@code BEGIN RSA PRIVATE KEY}, {@code BEGIN EC PRIVATE KEY}) through BouncyCastle, which is
 * on the class path for that. Unencrypted keys only, as vLLM's flags take them.
 */
public final class TlsContexts {

    private TlsContexts() {}

    /**
     * @throws IllegalArgumentException naming the flag and file that could not be used
     */
    public static SslContext server(Path keyFile, Path certFile) {
        requireReadable("--ssl-keyfile", keyFile);
        requireReadable("--ssl-certfile", certFile);
        try {
            return SslContextBuilder.forServer(certFile.toFile(), keyFile.toFile()).build();
        } catch (SSLException | IllegalArgumentException e) {
            throw new IllegalArgumentException("--ssl-keyfile " + keyFile + " / --ssl-certfile " + certFile
                    + ": not a PEM private key and the certificate chain that goes with it (" + rootMessage(e) + ")");
        }
    }

    private static void requireReadable(String flag, Path file) {
        if (!Files.isRegularFile(file)) throw new IllegalArgumentException(flag + " " + file + ": no such file");
        if (!Files.isReadable(file)) throw new IllegalArgumentException(flag + " " + file + ": not readable");
    }

    private static String rootMessage(Throwable e) {
        Throwable t = e;
        while (t.getCause() != null && t.getCause() != t) t = t.getCause();
        return t == e ? String.valueOf(e.getMessage()) : e.getMessage() + ": " + t.getMessage();
    }
}

package dev.kvasir.server;

import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.jce.provider.BouncyCastleProvider;
import org.bouncycastle.openssl.jcajce.JcaPEMWriter;
import org.bouncycastle.openssl.jcajce.JcaPKCS8Generator;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;

import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;
import javax.net.ssl.X509TrustManager;
import java.io.IOException;
import java.io.StringWriter;
import java.math.BigInteger;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.KeyStore;
import java.security.cert.X509Certificate;
import java.security.spec.ECGenParameterSpec;
import java.time.Duration;
import java.time.Instant;
import java.util.Date;

/**
 * Self-signed certificates for localhost and 127.0.0.1, made by the tests with BouncyCastle, with
 * the private key written in each PEM form {@code --ssl-keyfile} takes.
 */
public final class TestCertificates {

    /** How the private key is written. */
    public enum KeyFormat { RSA_PKCS8, RSA_PKCS1, EC_SEC1 }

    /** The written files and a trust manager that trusts exactly this certificate. */
    public record Issued(Path keyFile, Path certFile, X509Certificate certificate) {

        public X509TrustManager trustManager() {
            try {
                KeyStore store = KeyStore.getInstance("PKCS12");
                store.load(null, null);
                store.setCertificateEntry("kvasir-test", certificate);
                TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
                tmf.init(store);
                return (X509TrustManager) tmf.getTrustManagers()[0];
            } catch (GeneralSecurityException | IOException e) {
                throw new IllegalStateException(e);
            }
        }

        public SSLContext sslContext() {
            try {
                SSLContext context = SSLContext.getInstance("TLS");
                context.init(null, new javax.net.ssl.TrustManager[] {trustManager()}, null);
                return context;
            } catch (GeneralSecurityException e) {
                throw new IllegalStateException(e);
            }
        }
    }

    private TestCertificates() {}

    public static Issued issue(Path dir, KeyFormat format) throws Exception {
        boolean ec = format == KeyFormat.EC_SEC1;
        // BouncyCastle's EC keys encode their curve and public point, so the SEC1 file is complete, as
        // openssl writes it (the JDK's encode neither, and no reader could tell the curve).
        KeyPairGenerator generator = ec ? KeyPairGenerator.getInstance("EC", new BouncyCastleProvider())
                : KeyPairGenerator.getInstance("RSA");
        if (ec) generator.initialize(new ECGenParameterSpec("secp256r1"));
        else generator.initialize(2048);
        KeyPair pair = generator.generateKeyPair();
        X500Name name = new X500Name("CN=localhost");
        Instant now = Instant.now();
        JcaX509v3CertificateBuilder builder = new JcaX509v3CertificateBuilder(name, BigInteger.valueOf(now.toEpochMilli()),
                Date.from(now.minus(Duration.ofHours(1))), Date.from(now.plus(Duration.ofDays(2))), name, pair.getPublic());
        builder.addExtension(Extension.subjectAlternativeName, false, new GeneralNames(new GeneralName[] {
                new GeneralName(GeneralName.dNSName, "localhost"), new GeneralName(GeneralName.iPAddress, "127.0.0.1")}));
        X509Certificate cert = new JcaX509CertificateConverter().getCertificate(
                builder.build(new JcaContentSignerBuilder(ec ? "SHA256withECDSA" : "SHA256withRSA").build(pair.getPrivate())));
        Path certFile = Files.writeString(dir.resolve(format + "-cert.pem"), pem(cert));
        // A bare private key is written in its traditional form (PKCS#1 RSA, SEC1 EC); PKCS#8 needs the generator.
        Object key = format == KeyFormat.RSA_PKCS8 ? new JcaPKCS8Generator(pair.getPrivate(), null) : pair.getPrivate();
        Path keyFile = Files.writeString(dir.resolve(format + "-key.pem"), pem(key));
        return new Issued(keyFile, certFile, cert);
    }

    private static String pem(Object o) throws IOException {
        StringWriter out = new StringWriter();
        try (JcaPEMWriter w = new JcaPEMWriter(out)) {
            w.writeObject(o);
        }
        return out.toString();
    }
}

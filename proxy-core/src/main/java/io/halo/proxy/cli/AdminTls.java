package io.halo.proxy.cli;

import java.io.IOException;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.PrivateKey;
import java.security.cert.Certificate;
import java.util.Collection;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;

/**
 * The CLI's TLS to an {@code https} admin API: the CA that signed Halo's admin certificate ({@code
 * --cacert}, else the JDK's trusted authorities) and, where the API asks for one, a client
 * certificate ({@code --cert}, {@code --key}: PEM, the key unencrypted PKCS#8). The host name of
 * {@code --admin} must be in the certificate (the JDK's HttpClient checks it).
 */
final class AdminTls {

  private AdminTls() {}

  /** An SSL context trusting {@code ca} (null: the JDK's default) with {@code cert}/{@code key}. */
  static SSLContext context(Path ca, Path cert, Path key) {
    if ((cert == null) != (key == null)) {
      throw new AdminClient.AdminClientException("--cert and --key go together");
    }
    try {
      TrustManagerFactory tmf =
          TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
      if (ca == null) {
        tmf.init((KeyStore) null);
      } else {
        KeyStore trust = KeyStore.getInstance("PKCS12");
        trust.load(null, null);
        int i = 0;
        for (Certificate c : certificates(ca, "--cacert")) {
          trust.setCertificateEntry("ca" + i++, c);
        }
        tmf.init(trust);
      }
      KeyManagerFactory kmf = null;
      if (cert != null) {
        KeyStore keys = KeyStore.getInstance("PKCS12");
        keys.load(null, null);
        char[] none = new char[0];
        keys.setKeyEntry(
            "client",
            privateKey(key),
            none,
            certificates(cert, "--cert").toArray(new Certificate[0]));
        kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
        kmf.init(keys, none);
      }
      SSLContext ctx = SSLContext.getInstance("TLS");
      ctx.init(kmf == null ? null : kmf.getKeyManagers(), tmf.getTrustManagers(), null);
      return ctx;
    } catch (GeneralSecurityException | IOException e) {
      throw new AdminClient.AdminClientException("cannot set up TLS: " + e.getMessage(), e);
    }
  }

  private static Collection<? extends Certificate> certificates(Path file, String option)
      throws IOException {
    try {
      return io.halo.proxy.transport.Pem.certificates(file);
    } catch (IllegalArgumentException e) {
      throw new AdminClient.AdminClientException(option + " " + e.getMessage(), e);
    }
  }

  private static PrivateKey privateKey(Path file) throws IOException {
    try {
      return io.halo.proxy.transport.Pem.privateKey(file);
    } catch (IllegalArgumentException e) {
      throw new AdminClient.AdminClientException("--key " + e.getMessage(), e);
    }
  }
}

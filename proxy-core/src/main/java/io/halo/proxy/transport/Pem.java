package io.halo.proxy.transport;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.PrivateKey;
import java.security.cert.Certificate;
import java.security.cert.CertificateException;
import java.security.cert.CertificateFactory;
import java.security.spec.PKCS8EncodedKeySpec;
import java.util.Base64;
import java.util.Collection;

/**
 * PEM files for the JDK's own TLS (the CLI's and the admin API's HTTPS clients): certificates and
 * unencrypted PKCS#8 keys. Reads files: never on an event loop.
 */
public final class Pem {

  private Pem() {}

  /**
   * Every certificate in {@code file}.
   *
   * @throws IllegalArgumentException the file holds no certificate or is not PEM
   */
  public static Collection<? extends Certificate> certificates(Path file) throws IOException {
    try (InputStream in = Files.newInputStream(file)) {
      Collection<? extends Certificate> all =
          CertificateFactory.getInstance("X.509").generateCertificates(in);
      if (all.isEmpty()) {
        throw new IllegalArgumentException(file + " holds no certificate");
      }
      return all;
    } catch (CertificateException e) {
      throw new IllegalArgumentException(file + " is not a PEM certificate: " + e.getMessage(), e);
    }
  }

  /**
   * An unencrypted PKCS#8 PEM key ({@code BEGIN PRIVATE KEY}): EC, RSA or Ed25519.
   *
   * @throws IllegalArgumentException the file holds no such key
   */
  public static PrivateKey privateKey(Path file) throws IOException {
    String pem = Files.readString(file, StandardCharsets.US_ASCII);
    int begin = pem.indexOf("-----BEGIN PRIVATE KEY-----");
    int end = pem.indexOf("-----END PRIVATE KEY-----");
    if (begin < 0 || end < begin) {
      throw new IllegalArgumentException(
          file
              + ": expected an unencrypted PKCS#8 PEM key (BEGIN PRIVATE KEY); convert with"
              + " openssl pkcs8 -topk8 -nocrypt");
    }
    byte[] der =
        Base64.getMimeDecoder()
            .decode(pem.substring(begin + "-----BEGIN PRIVATE KEY-----".length(), end));
    for (String algorithm : new String[] {"EC", "RSA", "Ed25519"}) {
      try {
        return KeyFactory.getInstance(algorithm).generatePrivate(new PKCS8EncodedKeySpec(der));
      } catch (GeneralSecurityException e) {
        // try the next algorithm
      }
    }
    throw new IllegalArgumentException(file + ": not an EC, RSA or Ed25519 key");
  }
}

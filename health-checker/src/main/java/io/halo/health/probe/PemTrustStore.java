package io.halo.health.probe;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.cert.Certificate;
import java.security.cert.CertificateFactory;

/**
 * A PKCS#12 trust store made from a PEM file of CA certificates, for drivers that read no PEM
 * (Connector/J). Written once per probe into a private temp file, removed when the JVM exits. It
 * holds only public certificates; the password is a formality of the format.
 */
final class PemTrustStore {

  static final String PASSWORD = "halo";

  private PemTrustStore() {}

  static Path write(Path pem) {
    try {
      KeyStore ks = KeyStore.getInstance("PKCS12");
      ks.load(null, null);
      try (InputStream in = Files.newInputStream(pem)) {
        int i = 0;
        for (Certificate c : CertificateFactory.getInstance("X.509").generateCertificates(in)) {
          ks.setCertificateEntry("ca" + i++, c);
        }
      }
      Path file = Files.createTempFile("halo-truststore-", ".p12");
      file.toFile().deleteOnExit();
      try (OutputStream out = Files.newOutputStream(file)) {
        ks.store(out, PASSWORD.toCharArray());
      }
      return file;
    } catch (IOException e) {
      throw new UncheckedIOException("cannot make a trust store from " + pem, e);
    } catch (GeneralSecurityException e) {
      throw new IllegalArgumentException("cannot read CA certificates from " + pem, e);
    }
  }
}

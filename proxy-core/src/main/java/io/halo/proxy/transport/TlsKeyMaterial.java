package io.halo.proxy.transport;

import io.netty.handler.ssl.OpenSslCachingX509KeyManagerFactory;
import io.netty.handler.ssl.SslProvider;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.KeyStore;
import java.security.PrivateKey;
import java.security.cert.Certificate;
import java.security.cert.CertificateFactory;
import java.security.spec.PKCS8EncodedKeySpec;
import java.util.Base64;
import java.util.Collection;
import javax.net.ssl.KeyManagerFactory;

/**
 * A server's certificate chain and key as a {@link KeyManagerFactory} whose key material BoringSSL
 * keeps between handshakes.
 *
 * <p>Design memo. Given PEM files, Netty's OpenSSL server context installs a certificate callback
 * that, at every handshake, asks a plain {@code KeyManagerFactory} for the chain and key and
 * converts both to native form again (PEM encoding, parsing the private key): measured here as most
 * of Halo's CPU per TLS connection. Wrapped in {@link OpenSslCachingX509KeyManagerFactory} the
 * conversion happens once per alias. Files are read here (blocking: at start or on the TLS reload
 * thread, never on an event loop). Only unencrypted PKCS#8 keys ({@code BEGIN PRIVATE KEY}, what
 * the config documents) are read; anything else returns null and the caller falls back to Netty's
 * own reading of the files.
 */
final class TlsKeyMaterial {

  private static final char[] NO_PASSWORD = new char[0];

  private TlsKeyMaterial() {}

  /**
   * The caching factory for {@code cert}/{@code key} with the OpenSSL engine; null with the JDK's
   * engine (which has no per-handshake conversion) or a key form not read here.
   */
  static KeyManagerFactory cachingFactory(Path cert, Path key)
      throws IOException, GeneralSecurityException {
    if (TlsEngine.provider() == SslProvider.JDK) {
      return null;
    }
    PrivateKey privateKey = pkcs8(key);
    if (privateKey == null) {
      return null;
    }
    Collection<? extends Certificate> chain;
    try (InputStream in = Files.newInputStream(cert)) {
      chain = CertificateFactory.getInstance("X.509").generateCertificates(in);
    }
    if (chain.isEmpty()) {
      return null;
    }
    KeyStore store = KeyStore.getInstance("PKCS12");
    store.load(null, null);
    store.setKeyEntry("halo", privateKey, NO_PASSWORD, chain.toArray(new Certificate[0]));
    KeyManagerFactory plain =
        KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
    plain.init(store, NO_PASSWORD);
    KeyManagerFactory caching = new OpenSslCachingX509KeyManagerFactory(plain);
    caching.init(store, NO_PASSWORD);
    return caching;
  }

  /** An unencrypted PKCS#8 PEM key (EC, RSA or Ed25519), or null for another form. */
  private static PrivateKey pkcs8(Path key) throws IOException {
    String pem = Files.readString(key, StandardCharsets.US_ASCII);
    String begin = "-----BEGIN PRIVATE KEY-----";
    int from = pem.indexOf(begin);
    int to = pem.indexOf("-----END PRIVATE KEY-----");
    if (from < 0 || to < from) {
      return null;
    }
    byte[] der;
    try {
      der = Base64.getMimeDecoder().decode(pem.substring(from + begin.length(), to));
    } catch (IllegalArgumentException e) {
      return null;
    }
    for (String algorithm : new String[] {"EC", "RSA", "Ed25519"}) {
      try {
        return KeyFactory.getInstance(algorithm).generatePrivate(new PKCS8EncodedKeySpec(der));
      } catch (GeneralSecurityException e) {
        // the next algorithm
      }
    }
    return null;
  }

  /**
   * Trust in the authorities of {@code ca} with the revocation lists of {@code crl} checked (PKIX;
   * no CRL distribution point or OCSP is fetched: only the lists given). A certificate they revoke
   * is refused, and so is one whose issuer has no current list there (as PostgreSQL with {@code
   * ssl_crl_file}). Reads the files: at start or on the TLS reload thread, never on an event loop.
   */
  static javax.net.ssl.TrustManagerFactory revoking(Path ca, Path crl)
      throws IOException, GeneralSecurityException {
    CertificateFactory x509 = CertificateFactory.getInstance("X.509");
    KeyStore anchors = KeyStore.getInstance(KeyStore.getDefaultType());
    anchors.load(null, null);
    int n = 0;
    try (InputStream in = Files.newInputStream(ca)) {
      for (Certificate c : x509.generateCertificates(in)) {
        anchors.setCertificateEntry("ca-" + n++, c);
      }
    }
    if (n == 0) {
      throw new GeneralSecurityException("no certificate in " + ca);
    }
    Collection<? extends java.security.cert.CRL> lists;
    try (InputStream in = Files.newInputStream(crl)) {
      lists = x509.generateCRLs(in);
    }
    if (lists.isEmpty()) {
      throw new GeneralSecurityException("no certificate revocation list in " + crl);
    }
    java.security.cert.PKIXBuilderParameters params =
        new java.security.cert.PKIXBuilderParameters(
            anchors, new java.security.cert.X509CertSelector());
    params.addCertStore(
        java.security.cert.CertStore.getInstance(
            "Collection", new java.security.cert.CollectionCertStoreParameters(lists)));
    params.setRevocationEnabled(true);
    javax.net.ssl.TrustManagerFactory f = javax.net.ssl.TrustManagerFactory.getInstance("PKIX");
    f.init(new javax.net.ssl.CertPathTrustManagerParameters(params));
    return f;
  }
}

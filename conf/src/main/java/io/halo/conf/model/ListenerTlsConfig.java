package io.halo.conf.model;

import java.nio.file.Path;
import java.util.Objects;

/**
 * TLS between clients and one listener.
 *
 * @param mode whether clients may or must use TLS
 * @param cert PEM file with Halo's certificate chain (server certificate first); required unless
 *     {@code mode: disable}
 * @param key PEM file with the certificate's private key (PKCS#8, unencrypted); required with cert
 * @param ca PEM file of the authorities client certificates are checked against; required when
 *     {@code client_certificates} is not {@code none}
 * @param clientCertificates whether Halo asks the client for a certificate
 * @param crl PEM file of certificate revocation lists issued by {@code ca}: a client certificate
 *     they revoke is refused, and every client certificate needs a current list of its issuer
 *     (PostgreSQL's {@code ssl_crl_file}); null: no revocation check
 */
public record ListenerTlsConfig(
    Mode mode, Path cert, Path key, Path ca, ClientCertificates clientCertificates, Path crl) {

  /** Without revocation lists. */
  public ListenerTlsConfig(
      Mode mode, Path cert, Path key, Path ca, ClientCertificates clientCertificates) {
    this(mode, cert, key, ca, clientCertificates, null);
  }

  /** No TLS on the listener: a client asking for it is answered "no" and continues in plaintext. */
  public static final ListenerTlsConfig DISABLED =
      new ListenerTlsConfig(Mode.DISABLE, null, null, null, ClientCertificates.NONE);

  /**
   * What a listener offers. On the server side {@code allow} and {@code prefer} behave alike (as in
   * PgBouncer's {@code client_tls_sslmode}): TLS is accepted when the client asks, plaintext too.
   */
  public enum Mode {
    DISABLE,
    ALLOW,
    PREFER,
    /** Plaintext logins are refused (PostgreSQL 28000, MySQL ERR 3159). */
    REQUIRE
  }

  /** Whether the TLS handshake asks for (and checks) a client certificate. */
  public enum ClientCertificates {
    NONE,
    OPTIONAL,
    REQUIRE
  }

  public ListenerTlsConfig {
    Objects.requireNonNull(mode, "mode");
    Objects.requireNonNull(clientCertificates, "client_certificates");
    if (mode != Mode.DISABLE && (cert == null || key == null)) {
      throw new IllegalArgumentException(
          "cert and key are required with mode: " + mode.name().toLowerCase(java.util.Locale.ROOT));
    }
    if (crl != null && ca == null) {
      throw new IllegalArgumentException(
          "ca is required with crl (the lists revoke certificates its authorities issued)");
    }
    if (clientCertificates != ClientCertificates.NONE && ca == null) {
      throw new IllegalArgumentException(
          "ca is required with client_certificates: "
              + clientCertificates.name().toLowerCase(java.util.Locale.ROOT)
              + " (client certificates are checked against it)");
    }
  }

  public boolean enabled() {
    return mode != Mode.DISABLE;
  }
}

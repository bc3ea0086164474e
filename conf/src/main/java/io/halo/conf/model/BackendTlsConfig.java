package io.halo.conf.model;

import java.nio.file.Path;
import java.util.Locale;
import java.util.Objects;

/**
 * TLS between Halo and a backend, for the relays and the health probes alike. The modes are libpq's
 * {@code sslmode} values.
 *
 * @param ca PEM file of the authorities the backend's certificate is checked against; required for
 *     {@code verify-ca} and {@code verify-full}
 * @param cert PEM client certificate Halo presents (optional; with key)
 * @param key PEM private key of cert (PKCS#8, unencrypted)
 * @param allowPlaintextPassword whether Halo may send a password in cleartext to a backend over a
 *     connection without TLS when the backend asks for one (PostgreSQL {@code password}
 *     authentication); off by default
 * @param serverPublicKey PEM file of a MySQL server's RSA public key, pinned: caching_sha2_password
 *     full authentication over a connection without TLS encrypts the password with it (Halo never
 *     fetches the key from the server); null = such a login is refused unless over TLS
 */
public record BackendTlsConfig(
    Mode mode, Path ca, Path cert, Path key, boolean allowPlaintextPassword, Path serverPublicKey) {

  /** Plaintext to the backend. */
  public static final BackendTlsConfig DISABLED =
      new BackendTlsConfig(Mode.DISABLE, null, null, null, false);

  /** No pinned server key. */
  public BackendTlsConfig(Mode mode, Path ca, Path cert, Path key, boolean allowPlaintextPassword) {
    this(mode, ca, cert, key, allowPlaintextPassword, null);
  }

  public enum Mode {
    /** Never TLS. */
    DISABLE,
    /** TLS when the backend offers it, plaintext otherwise; the certificate is not checked. */
    PREFER,
    /** TLS or no connection; the certificate is not checked. */
    REQUIRE,
    /** TLS, and the certificate must chain to {@code ca}. */
    VERIFY_CA,
    /** As verify-ca, and the certificate must name the backend's host (SAN DNS or IP). */
    VERIFY_FULL;

    public boolean verifies() {
      return this == VERIFY_CA || this == VERIFY_FULL;
    }

    /** The YAML spelling, e.g. {@code verify-full} (also pgjdbc's sslmode value). */
    public String yamlName() {
      return name().toLowerCase(Locale.ROOT).replace('_', '-');
    }
  }

  public BackendTlsConfig {
    Objects.requireNonNull(mode, "mode");
    if (mode.verifies() && ca == null) {
      throw new IllegalArgumentException(
          "ca is required with mode: " + mode.yamlName() + " (the backend's certificate chain)");
    }
    if ((cert == null) != (key == null)) {
      throw new IllegalArgumentException("cert and key go together: give both or neither");
    }
  }

  public boolean enabled() {
    return mode != Mode.DISABLE;
  }
}

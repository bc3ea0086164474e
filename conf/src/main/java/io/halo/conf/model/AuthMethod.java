package io.halo.conf.model;

/** How Halo authenticates a client (PostgreSQL names; MySQL maps them to its own plugins). */
public enum AuthMethod {
  /** SCRAM-SHA-256 (PostgreSQL), caching_sha2_password (MySQL). The default. */
  SCRAM_SHA_256,
  /** md5 (PostgreSQL), mysql_native_password (MySQL). */
  MD5,
  /** No password asked. For local use only. */
  TRUST,
  /**
   * A TLS client certificate, checked against the listener's {@code tls.ca} in the handshake, whose
   * name (CN, or a SAN listed in the user's {@code certificate_names}) names the user; no password
   * asked (PostgreSQL's {@code cert} method in pg_hba.conf).
   */
  CERT;

  /** Whether the client proves a password (false for trust and cert). */
  public boolean asksPassword() {
    return this == SCRAM_SHA_256 || this == MD5;
  }

  /** As the config writes it: {@code scram-sha-256}, {@code md5}, {@code trust}. */
  public String yamlName() {
    return name().toLowerCase(java.util.Locale.ROOT).replace('_', '-');
  }
}

package io.halo.conf.model;

import java.util.Objects;

/**
 * A client account that Halo authenticates, and the credentials Halo uses for that user's backend
 * connections. {@code backendUser} and {@code backendPassword} default to the client credentials
 * (the loader fills them in).
 *
 * @param password the password, or a verifier as the servers store it ({@link StoredPassword}: a
 *     SCRAM-SHA-256 verifier, an md5 hash, a mysql_native_password hash); may be null only for
 *     {@link AuthMethod#TRUST}
 * @param backendPassword may be null when the backend trusts the user; when it is a SCRAM verifier
 *     (the user's own, by default) the backend login replays the client's SCRAM keys (passthrough)
 * @param maxConnections client sessions of this user at once through Halo (all clusters), 0 for no
 *     cap; beyond it a new session is refused (PostgreSQL 53300, MySQL 1226)
 * @param maxTransactionsPerSecond transactions this user may start per second (a statement outside
 *     a transaction counts as one), 0 for no rate limit; beyond it the transaction is refused with
 *     an error (53300) and the session stays usable
 * @param transactionBurst the token bucket's capacity: transactions the user may start at once
 *     after being idle
 * @param allow the networks this user may connect from (empty: any), checked before the password
 *     (PostgreSQL 28000, MySQL 1130)
 * @param requireTls whether this user must connect over TLS (checked before the password)
 * @param certificateNames with {@link AuthMethod#CERT}: the client-certificate names that log in as
 *     this user, each {@code CN:<common name>}, {@code DNS:<name>}, {@code email:<address>} or
 *     {@code URI:<uri>} (subject alternative names); a name without a known prefix is a common
 *     name. Empty means {@code CN:<user name>}, as PostgreSQL's {@code cert} method
 */
public record UserConfig(
    String name,
    String password,
    AuthMethod auth,
    String backendUser,
    String backendPassword,
    int maxConnections,
    int maxTransactionsPerSecond,
    int transactionBurst,
    java.util.List<Cidr> allow,
    boolean requireTls,
    java.util.List<String> certificateNames) {

  public UserConfig {
    allow = java.util.List.copyOf(allow);
    certificateNames = java.util.List.copyOf(certificateNames);
    Objects.requireNonNull(name, "name");
    Objects.requireNonNull(auth, "auth");
    Objects.requireNonNull(backendUser, "backendUser");
    if (name.isEmpty()) {
      throw new IllegalArgumentException("user name is empty");
    }
    if (!certificateNames.isEmpty() && auth != AuthMethod.CERT) {
      throw new IllegalArgumentException(
          "user '" + name + "': certificate_names applies only to auth: cert");
    }
    for (String n : certificateNames) {
      CertificateName.parse(n);
    }
    if (auth != AuthMethod.TRUST
        && auth != AuthMethod.CERT
        && (password == null || password.isEmpty())) {
      throw new IllegalArgumentException(
          "user '" + name + "' needs a password for auth " + auth.yamlName());
    }
    if (maxConnections < 0 || maxTransactionsPerSecond < 0) {
      throw new IllegalArgumentException(
          "user '"
              + name
              + "': max_connections and max_transactions_per_second must not be negative (0: no limit)");
    }
    if (maxTransactionsPerSecond > 0 && transactionBurst < 1) {
      throw new IllegalArgumentException(
          "user '" + name + "': transaction_burst must be at least 1");
    }
  }

  /** Certificate names by default (the user name as CN). */
  public UserConfig(
      String name,
      String password,
      AuthMethod auth,
      String backendUser,
      String backendPassword,
      int maxConnections,
      int maxTransactionsPerSecond,
      int transactionBurst,
      java.util.List<Cidr> allow,
      boolean requireTls) {
    this(
        name,
        password,
        auth,
        backendUser,
        backendPassword,
        maxConnections,
        maxTransactionsPerSecond,
        transactionBurst,
        allow,
        requireTls,
        java.util.List.of());
  }

  /** Any address, TLS or not. */
  public UserConfig(
      String name,
      String password,
      AuthMethod auth,
      String backendUser,
      String backendPassword,
      int maxConnections,
      int maxTransactionsPerSecond,
      int transactionBurst) {
    this(
        name,
        password,
        auth,
        backendUser,
        backendPassword,
        maxConnections,
        maxTransactionsPerSecond,
        transactionBurst,
        java.util.List.of(),
        false);
  }

  /** No per-user limits. */
  public UserConfig(
      String name, String password, AuthMethod auth, String backendUser, String backendPassword) {
    this(name, password, auth, backendUser, backendPassword, 0, 0, 0);
  }

  /**
   * The certificate names that log in as this user ({@link AuthMethod#CERT}): {@code
   * certificate_names}, or the user name as common name.
   */
  public java.util.List<CertificateName> certificateIdentities() {
    return certificateNames.isEmpty()
        ? java.util.List.of(new CertificateName(CertificateName.Kind.CN, name))
        : certificateNames.stream().map(CertificateName::parse).toList();
  }

  @Override
  public String toString() {
    return "UserConfig[name="
        + name
        + ", auth="
        + auth
        + ", backendUser="
        + backendUser
        + (maxConnections > 0 ? ", maxConnections=" + maxConnections : "")
        + (maxTransactionsPerSecond > 0
            ? ", maxTransactionsPerSecond="
                + maxTransactionsPerSecond
                + ", transactionBurst="
                + transactionBurst
            : "")
        + (allow.isEmpty() ? "" : ", allow=" + allow)
        + (requireTls ? ", requireTls" : "")
        + (certificateNames.isEmpty() ? "" : ", certificateNames=" + certificateNames)
        + "]";
  }
}

package io.halo.proxy.mysql.auth;

import io.halo.conf.model.AuthMethod;
import io.halo.conf.model.StoredPassword;
import io.halo.conf.model.UserConfig;
import java.util.List;
import java.util.Optional;

/**
 * What Halo checks MySQL client logins against: per user the method and the stored hashes
 * (SHA1(SHA1(pw)) for mysql_native_password, SHA256(SHA256(pw)) for caching_sha2_password), derived
 * once at start, or taken from a configured {@code *<40 hex>} hash (native only). A null hash
 * matches no login. The users are a {@link io.halo.proxy.session.UserTable}, which a config reload
 * replaces (shared by every cluster's copy made with {@link #withAuthQuery}).
 */
public final class MySqlCredentials {

  /**
   * One user's hashes; the method follows the config's auth (scram-sha-256 maps to caching_sha2).
   */
  public record Entry(UserConfig user, byte[] nativeStored, byte[] sha2Stored) {

    public String plugin() {
      return user.auth() == AuthMethod.MD5 ? MySqlAuth.NATIVE : MySqlAuth.CACHING_SHA2;
    }
  }

  private final io.halo.proxy.session.UserTable<Entry> users;
  private final io.halo.proxy.session.AuthLookup authQuery;

  private MySqlCredentials(
      io.halo.proxy.session.UserTable<Entry> users, io.halo.proxy.session.AuthLookup authQuery) {
    this.users = users;
    this.authQuery = authQuery;
  }

  /** The same users, and {@code lookup} for those not listed (a cluster's {@code auth_query}). */
  public MySqlCredentials withAuthQuery(io.halo.proxy.session.AuthLookup lookup) {
    return new MySqlCredentials(users, lookup);
  }

  /** Where users not listed are looked up, or null when they cannot log in. */
  public io.halo.proxy.session.AuthLookup authQuery() {
    return authQuery;
  }

  public static MySqlCredentials of(List<UserConfig> users) {
    return new MySqlCredentials(
        io.halo.proxy.session.UserTable.of(users, MySqlCredentials::entry, Entry::user), null);
  }

  /** Makes {@code users} the listed users of every copy of these credentials (a config reload). */
  public void reload(List<UserConfig> users) {
    this.users.replace(users);
  }

  private static Entry entry(UserConfig u) {
    String pw = u.password() == null ? "" : u.password();
    // A certificate user's password is the backend's (Halo logs in with it): it never checks
    // a client.
    Entry e =
        u.auth() == AuthMethod.CERT
            ? new Entry(u, null, null)
            : switch (StoredPassword.of(pw)) {
              case PLAINTEXT ->
                  new Entry(u, MySqlScramble.nativeStored(pw), MySqlScramble.sha2Stored(pw));
              case MYSQL_NATIVE -> new Entry(u, StoredPassword.mysqlNative(pw), null);
              // A PostgreSQL verifier checks no MySQL login: such a login fails like a wrong
              // password (never with the verifier's text as the password).
              case SCRAM_SHA_256, MD5 -> new Entry(u, null, null);
            };
    return e;
  }

  public Optional<Entry> lookup(String user) {
    return Optional.ofNullable(users.get(user));
  }
}

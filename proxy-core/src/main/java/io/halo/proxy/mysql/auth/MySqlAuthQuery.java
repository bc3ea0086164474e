package io.halo.proxy.mysql.auth;

import io.halo.conf.model.AuthMethod;
import io.halo.conf.model.StoredPassword;
import io.halo.conf.model.UserConfig;
import java.util.List;

/**
 * The MySQL/MariaDB side of {@code auth_query}: the default query and what a looked-up row means.
 * Only mysql_native_password accounts can log in this way (Halo checks the client's scramble
 * against the {@code *<40 hex>} hash, then logs in to the backend by native passthrough); other
 * plugins, and accounts without a password, are refused like a wrong password (ERR 1045).
 *
 * <p>Host matching: the default query reads the account {@code 'user'@'%'}, the one that matches
 * connections from any host, Halo's backend connections included. Accounts restricted to some hosts
 * ({@code 'user'@'10.%'}) are not used; write a query of your own to pick another row.
 */
public final class MySqlAuthQuery {

  /** The default {@code auth_query} for MySQL/MariaDB clusters. */
  public static final String DEFAULT_QUERY =
      "SELECT authentication_string, plugin FROM mysql.user WHERE user = ? AND host = '%'";

  private MySqlAuthQuery() {}

  /** Why the row cannot log in, or null when it can. */
  public static String unusable(String secret, String plugin) {
    if (plugin != null && !plugin.isEmpty() && !MySqlAuth.NATIVE.equals(plugin)) {
      return "the account uses " + plugin + "; auth_query serves mysql_native_password only";
    }
    if (StoredPassword.of(secret) != StoredPassword.MYSQL_NATIVE) {
      return "the account has no mysql_native_password hash";
    }
    return null;
  }

  /** The user's credentials from its native hash ({@link #unusable} returned null). */
  public static MySqlCredentials.Entry entry(String user, String secret) {
    return MySqlCredentials.of(List.of(new UserConfig(user, secret, AuthMethod.MD5, user, secret)))
        .lookup(user)
        .orElseThrow();
  }
}

package io.halo.proxy.pg.auth;

import io.halo.conf.model.AuthMethod;
import io.halo.conf.model.StoredPassword;
import io.halo.conf.model.UserConfig;
import java.util.List;

/**
 * The PostgreSQL side of {@code auth_query}: the default query (as PgBouncer's) and what a
 * looked-up {@code passwd} means. A SCRAM verifier is checked with SCRAM and used for SCRAM
 * passthrough to the backends; an md5 hash with md5, and logs in to md5 backends with the hash.
 * Anything else (a plaintext {@code passwd} cannot occur in pg_shadow) is no usable secret.
 */
public final class PgAuthQuery {

  /** PgBouncer's default {@code auth_query}. */
  public static final String DEFAULT_QUERY =
      "SELECT usename, passwd, valuntil FROM pg_shadow WHERE usename = $1";

  private PgAuthQuery() {}

  /** The user's credentials from its stored secret, or null when it is no verifier Halo can use. */
  public static Credentials.Entry entry(String user, String secret) {
    StoredPassword form;
    try {
      form = StoredPassword.of(secret);
    } catch (IllegalArgumentException malformed) {
      return null;
    }
    AuthMethod method =
        switch (form) {
          case SCRAM_SHA_256 -> AuthMethod.SCRAM_SHA_256;
          case MD5 -> AuthMethod.MD5;
          default -> null;
        };
    if (method == null) {
      return null;
    }
    return Credentials.of(List.of(new UserConfig(user, secret, method, user, secret)))
        .lookup(user)
        .orElse(null);
  }
}

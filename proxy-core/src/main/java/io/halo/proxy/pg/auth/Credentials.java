package io.halo.proxy.pg.auth;

import io.halo.conf.model.AuthMethod;
import io.halo.conf.model.StoredPassword;
import io.halo.conf.model.UserConfig;
import java.util.List;
import java.util.Optional;

/**
 * What Halo checks client logins against: per user the method and the derived secrets (SCRAM
 * verifier, md5 hash), taken as they are when the config holds a verifier ({@link StoredPassword}).
 * Derived once at start, because PBKDF2 is deliberately slow and must not run per login on an event
 * loop. The users are a {@link io.halo.proxy.session.UserTable}, which a config reload replaces
 * (shared by every cluster's copy made with {@link #withAuthQuery}).
 */
public final class Credentials {

  /** One user's secrets. */
  public record Entry(UserConfig user, Scram.Verifier scram, String md5) {}

  private final io.halo.proxy.session.UserTable<Entry> users;
  private final io.halo.proxy.session.AuthLookup authQuery;

  private Credentials(
      io.halo.proxy.session.UserTable<Entry> users, io.halo.proxy.session.AuthLookup authQuery) {
    this.users = users;
    this.authQuery = authQuery;
  }

  /** The same users, and {@code lookup} for those not listed (a cluster's {@code auth_query}). */
  public Credentials withAuthQuery(io.halo.proxy.session.AuthLookup lookup) {
    return new Credentials(users, lookup);
  }

  /** Where users not listed are looked up, or null when they cannot log in. */
  public io.halo.proxy.session.AuthLookup authQuery() {
    return authQuery;
  }

  public static Credentials of(List<UserConfig> users) {
    return new Credentials(
        io.halo.proxy.session.UserTable.of(users, Credentials::entry, Entry::user), null);
  }

  /**
   * Makes {@code users} the listed users of every copy of these credentials (a config reload).
   * Derives new secrets (PBKDF2): not on an event loop.
   */
  public void reload(List<UserConfig> users) {
    this.users.replace(users);
  }

  private static Entry entry(UserConfig u) {
    StoredPassword form = StoredPassword.of(u.password());
    Scram.Verifier scram = null;
    String md5 = null;
    if (u.auth() == AuthMethod.SCRAM_SHA_256) {
      scram =
          form == StoredPassword.SCRAM_SHA_256
              ? Scram.Verifier.parse(u.password())
              : Scram.Verifier.of(u.password(), Scram.randomBytes(16), Scram.DEFAULT_ITERATIONS);
    } else if (u.auth() == AuthMethod.MD5) {
      // A mysql_native_password hash serves MySQL listeners only: no md5 secret here, so a
      // PostgreSQL md5 login as that user fails like a wrong password.
      md5 =
          switch (form) {
            case MD5 -> u.password().toLowerCase(java.util.Locale.ROOT);
            case PLAINTEXT -> Md5.stored(u.name(), u.password());
            default -> null;
          };
    }
    return new Entry(u, scram, md5);
  }

  public Optional<Entry> lookup(String user) {
    return Optional.ofNullable(users.get(user));
  }
}

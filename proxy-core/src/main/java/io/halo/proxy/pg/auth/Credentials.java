package io.halo.proxy.pg.auth;

import io.halo.conf.model.AuthMethod;
import io.halo.conf.model.UserConfig;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * What Halo checks client logins against: per user the method and the derived secrets (SCRAM
 * verifier, md5 hash). Derived once at start, because PBKDF2 is deliberately slow and must not run
 * per login on an event loop. Immutable.
 */
public final class Credentials {

  /** One user's secrets. */
  public record Entry(UserConfig user, Scram.Verifier scram, String md5) {}

  private final Map<String, Entry> byName;

  private Credentials(Map<String, Entry> byName) {
    this.byName = Map.copyOf(byName);
  }

  public static Credentials of(List<UserConfig> users) {
    Map<String, Entry> map = new HashMap<>();
    for (UserConfig u : users) {
      Scram.Verifier scram =
          u.auth() == AuthMethod.SCRAM_SHA_256
              ? Scram.Verifier.of(u.password(), Scram.randomBytes(16), Scram.DEFAULT_ITERATIONS)
              : null;
      String md5 = u.auth() == AuthMethod.MD5 ? Md5.stored(u.name(), u.password()) : null;
      map.put(u.name(), new Entry(u, scram, md5));
    }
    return new Credentials(map);
  }

  public Optional<Entry> lookup(String user) {
    return Optional.ofNullable(byName.get(user));
  }
}

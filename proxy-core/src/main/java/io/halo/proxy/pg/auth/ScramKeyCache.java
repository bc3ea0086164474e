package io.halo.proxy.pg.auth;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import java.util.Arrays;

/**
 * SCRAM salted passwords Halo computed as a client (logging in to backends), kept so that PBKDF2,
 * slow by design, runs once per backend user and salt, not on every backend login. A login whose
 * salt is not cached computes it on the {@link io.halo.proxy.session.CryptoPool}, never on its
 * event loop. Also holds the ClientKeys of SCRAM passthrough logins ({@link #clientKey}). Bounded;
 * shared by the sessions of one Halo.
 */
public final class ScramKeyCache {

  /** Iterations above this are refused (each login with a new salt costs that much CPU). */
  public static final int MAX_ITERATIONS = 100_000;

  private static final int MAX_ENTRIES = 1_000;

  private record Key(String password, String salt, int iterations) {}

  private final Cache<Key, byte[]> salted = Caffeine.newBuilder().maximumSize(MAX_ENTRIES).build();

  /**
   * SCRAM passthrough: per stored verifier (its text), the ClientKey a client last proved for it.
   * Like PgBouncer, Halo keeps it in memory for the backend logins of that user's sessions (a split
   * relay's second connection, a session moved after a failover).
   */
  private final Cache<String, byte[]> clientKeys =
      Caffeine.newBuilder().maximumSize(10 * MAX_ENTRIES).build();

  /** PBKDF2-SHA256 of the password, computed once per (password, salt, iterations). */
  public byte[] saltedPassword(String password, byte[] salt, int iterations) throws ScramException {
    if (iterations < 1 || iterations > MAX_ITERATIONS) {
      throw new ScramException(
          "backend asks for "
              + iterations
              + " SCRAM iterations; Halo accepts 1.."
              + MAX_ITERATIONS);
    }
    byte[] key =
        salted.get(
            new Key(password, Scram.b64(salt), iterations),
            k -> Scram.saltedPassword(password, salt, iterations));
    return Arrays.copyOf(key, key.length);
  }

  /**
   * Whether {@link #saltedPassword} would answer from the cache (cheap enough for an event loop).
   */
  public boolean cached(String password, byte[] salt, int iterations) {
    return salted.getIfPresent(new Key(password, Scram.b64(salt), iterations)) != null;
  }

  /** Remembers the ClientKey a client proved for {@code verifier} (its stored text). */
  public void rememberClientKey(String verifier, byte[] clientKey) {
    clientKeys.put(verifier, clientKey.clone());
  }

  /** The ClientKey a client proved for {@code verifier}, or null when none has logged in yet. */
  public byte[] clientKey(String verifier) {
    byte[] key = clientKeys.getIfPresent(verifier);
    return key == null ? null : key.clone();
  }
}

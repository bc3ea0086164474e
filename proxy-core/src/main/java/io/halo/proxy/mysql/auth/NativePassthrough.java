package io.halo.proxy.mysql.auth;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import io.halo.conf.model.StoredPassword;
import io.halo.conf.model.UserConfig;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Locale;

/**
 * Backend logins for users configured with only a mysql_native_password hash ({@code *<40 hex>}),
 * as ProxySQL does: a client's response to Halo's scramble is SHA1(pw) XOR SHA1(scramble +
 * SHA1(SHA1(pw))), so with the hash Halo recovers SHA1(pw), and with it answers any backend's
 * scramble the same way. It works when the backend user uses mysql_native_password with the same
 * password. SHA1(pw) logs in like the password wherever that hash is stored; it is kept in memory
 * only, per hash, bounded, process-wide (keyed by the hash, so Halos in one JVM agree).
 */
public final class NativePassthrough {

  private static final Cache<String, byte[]> STAGE1 =
      Caffeine.newBuilder().maximumSize(10_000).build();

  private NativePassthrough() {}

  /**
   * After a successful mysql_native_password check of {@code user}: remembers SHA1(pw) when the
   * backend login needs it (the backend password is a native hash). Cheap: three SHA-1s.
   */
  public static void learn(UserConfig user, byte[] scramble, byte[] token) {
    String backend = user.backendPassword();
    if (backend == null || StoredPassword.of(backend) != StoredPassword.MYSQL_NATIVE) {
      return;
    }
    byte[] stored = StoredPassword.mysqlNative(backend);
    byte[] stage1 = MySqlScramble.xor(token, sha1(scramble, stored));
    if (MessageDigest.isEqual(sha1(stage1), stored)) {
      STAGE1.put(key(backend), stage1);
    }
  }

  /**
   * The token for {@code plugin} and {@code scramble} when Halo holds only {@code hash}.
   *
   * @throws IllegalArgumentException when the backend asks for another plugin, or no client has
   *     logged in as this user since Halo started
   */
  static byte[] token(String plugin, String hash, byte[] scramble) {
    if (!MySqlAuth.NATIVE.equals(plugin)) {
      throw new IllegalArgumentException(
          "backend asks for "
              + plugin
              + ", but Halo holds only a mysql_native_password hash for this user; the backend"
              + " user must use mysql_native_password with the same password");
    }
    byte[] stage1 = STAGE1.getIfPresent(key(hash));
    if (stage1 == null) {
      throw new IllegalArgumentException(
          "Halo holds only a mysql_native_password hash for this user and no client has logged in"
              + " with it since Halo started");
    }
    return MySqlScramble.xor(stage1, sha1(scramble, sha1(stage1)));
  }

  private static String key(String hash) {
    return hash.toUpperCase(Locale.ROOT);
  }

  private static byte[] sha1(byte[]... parts) {
    try {
      MessageDigest md = MessageDigest.getInstance("SHA-1");
      for (byte[] p : parts) {
        md.update(p);
      }
      return md.digest();
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("SHA-1 is not available in this JVM", e);
    }
  }
}

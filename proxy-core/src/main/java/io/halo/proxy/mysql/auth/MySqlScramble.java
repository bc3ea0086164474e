package io.halo.proxy.mysql.auth;

import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;

/**
 * The two MySQL password scrambles Halo checks (as a server) and computes (as a client).
 *
 * <pre>
 * mysql_native_password:  token = SHA1(pw) XOR SHA1(scramble || SHA1(SHA1(pw)))
 *                         stored = SHA1(SHA1(pw))
 * caching_sha2_password:  token = SHA256(pw) XOR SHA256(SHA256(SHA256(pw)) || scramble)
 *                         stored = SHA256(SHA256(pw))     (the fast path; the full path sends the
 *                                                          password RSA-encrypted or over TLS)
 * </pre>
 *
 * A server only needs the stored value: from the token it recovers the first hash and checks that
 * hashing it gives the stored value.
 */
public final class MySqlScramble {

  private MySqlScramble() {}

  public static byte[] nativeToken(String password, byte[] scramble) {
    if (password == null || password.isEmpty()) {
      return new byte[0];
    }
    byte[] stage1 = digest("SHA-1", password.getBytes(StandardCharsets.UTF_8));
    byte[] stage2 = digest("SHA-1", stage1);
    return xor(stage1, digest("SHA-1", scramble, stage2));
  }

  public static byte[] nativeStored(String password) {
    return digest("SHA-1", digest("SHA-1", password.getBytes(StandardCharsets.UTF_8)));
  }

  /**
   * Whether {@code token} answers {@code scramble} for {@code stored}; a null stored never does.
   */
  public static boolean nativeMatches(byte[] stored, byte[] scramble, byte[] token) {
    if (stored == null || token.length != 20) {
      return false;
    }
    byte[] stage1 = xor(token, digest("SHA-1", scramble, stored));
    return MessageDigest.isEqual(digest("SHA-1", stage1), stored);
  }

  public static byte[] sha2Token(String password, byte[] scramble) {
    if (password == null || password.isEmpty()) {
      return new byte[0];
    }
    byte[] stage1 = digest("SHA-256", password.getBytes(StandardCharsets.UTF_8));
    byte[] stage2 = digest("SHA-256", stage1);
    return xor(stage1, digest("SHA-256", stage2, scramble));
  }

  public static byte[] sha2Stored(String password) {
    return digest("SHA-256", digest("SHA-256", password.getBytes(StandardCharsets.UTF_8)));
  }

  /**
   * Whether {@code token} answers {@code scramble} for {@code stored}; a null stored never does.
   */
  public static boolean sha2Matches(byte[] stored, byte[] scramble, byte[] token) {
    if (stored == null || token.length != 32) {
      return false;
    }
    byte[] stage1 = xor(token, digest("SHA-256", stored, scramble));
    return MessageDigest.isEqual(digest("SHA-256", stage1), stored);
  }

  private static byte[] digest(String algorithm, byte[]... parts) {
    try {
      MessageDigest md = MessageDigest.getInstance(algorithm);
      for (byte[] p : parts) {
        md.update(p);
      }
      return md.digest();
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException(algorithm + " is not available in this JVM", e);
    }
  }

  static byte[] xor(byte[] a, byte[] b) {
    byte[] out = new byte[a.length];
    for (int i = 0; i < a.length; i++) {
      out[i] = (byte) (a[i] ^ b[i]);
    }
    return out;
  }
}

package io.halo.proxy.pg.auth;

import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.util.HexFormat;

/** PostgreSQL's md5 password scheme: {@code "md5" + md5hex(md5hex(password + user) + salt)}. */
public final class Md5 {

  private Md5() {}

  /** What pg_authid stores: {@code "md5" + md5hex(password + user)}. */
  public static String stored(String user, String password) {
    return "md5" + hex(md5((password + user).getBytes(StandardCharsets.UTF_8)));
  }

  /** What a client sends for a 4-byte salt, given the stored form. */
  public static String response(String stored, byte[] salt) {
    byte[] inner = stored.substring(3).getBytes(StandardCharsets.US_ASCII);
    byte[] salted = new byte[inner.length + salt.length];
    System.arraycopy(inner, 0, salted, 0, inner.length);
    System.arraycopy(salt, 0, salted, inner.length, salt.length);
    return "md5" + hex(md5(salted));
  }

  /** Constant-time check of a client's response. */
  public static boolean matches(String stored, byte[] salt, String response) {
    return MessageDigest.isEqual(
        response(stored, salt).getBytes(StandardCharsets.US_ASCII),
        response.getBytes(StandardCharsets.US_ASCII));
  }

  private static byte[] md5(byte[] data) {
    try {
      return MessageDigest.getInstance("MD5").digest(data);
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("MD5 is not available in this JVM", e);
    }
  }

  private static String hex(byte[] b) {
    return HexFormat.of().formatHex(b);
  }
}

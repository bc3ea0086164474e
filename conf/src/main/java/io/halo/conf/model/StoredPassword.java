package io.halo.conf.model;

import java.util.Base64;
import java.util.HexFormat;

/**
 * What a user's {@code password} holds: the password itself, or a verifier the servers store, so
 * that the config need not hold a plaintext password.
 *
 * <ul>
 *   <li>{@code SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>}: PostgreSQL's {@code
 *       pg_authid.rolpassword} for SCRAM (salt and keys in base64, keys 32 bytes);
 *   <li>{@code md5<32 hex>}: PostgreSQL's md5 hash, {@code "md5" + md5(password + user)};
 *   <li>{@code *<40 hex>}: MySQL/MariaDB's {@code mysql_native_password} hash, {@code "*" +
 *       SHA1(SHA1(password))} as {@code mysql.user.authentication_string} shows it.
 * </ul>
 *
 * Anything else is a plaintext password, except that a value starting with {@code SCRAM-SHA-256$}
 * must be a well-formed verifier (a typo in a pasted verifier is an error, not a password).
 */
public enum StoredPassword {
  PLAINTEXT,
  SCRAM_SHA_256,
  MD5,
  MYSQL_NATIVE;

  /** The expected form of a SCRAM verifier, for error messages. */
  public static final String SCRAM_FORMAT =
      "SCRAM-SHA-256$<iterations>:<base64 salt>$<base64 StoredKey>:<base64 ServerKey>"
          + " (as pg_authid.rolpassword shows it)";

  private static final String SCRAM_PREFIX = "SCRAM-SHA-256$";

  /**
   * The form of {@code value}.
   *
   * @throws IllegalArgumentException naming the expected format, for a malformed SCRAM verifier
   */
  public static StoredPassword of(String value) {
    if (value == null) {
      return PLAINTEXT;
    }
    if (value.startsWith(SCRAM_PREFIX)) {
      scram(value);
      return SCRAM_SHA_256;
    }
    if (value.length() == 35 && value.startsWith("md5") && hex(value.substring(3))) {
      return MD5;
    }
    if (value.length() == 41 && value.charAt(0) == '*' && hex(value.substring(1))) {
      return MYSQL_NATIVE;
    }
    return PLAINTEXT;
  }

  /** Whether this is a stored verifier rather than the password itself. */
  public boolean isVerifier() {
    return this != PLAINTEXT;
  }

  /** A parsed SCRAM verifier. */
  public record Scram(int iterations, byte[] salt, byte[] storedKey, byte[] serverKey) {}

  /**
   * Parses a SCRAM verifier.
   *
   * @throws IllegalArgumentException naming what is wrong and the expected format
   */
  public static Scram scram(String value) {
    String rest = value.startsWith(SCRAM_PREFIX) ? value.substring(SCRAM_PREFIX.length()) : "";
    int dollar = rest.indexOf('$');
    if (dollar < 0) {
      throw bad("no '$' between the salt and the keys");
    }
    String[] head = rest.substring(0, dollar).split(":", -1);
    String[] keys = rest.substring(dollar + 1).split(":", -1);
    if (head.length != 2 || keys.length != 2) {
      throw bad("expected <iterations>:<salt> and <StoredKey>:<ServerKey>");
    }
    int iterations;
    try {
      iterations = Integer.parseInt(head[0]);
    } catch (NumberFormatException e) {
      throw bad("iterations '" + head[0] + "' is not a number");
    }
    if (iterations < 1) {
      throw bad("iterations must be at least 1");
    }
    byte[] salt = base64(head[1], "salt");
    byte[] stored = base64(keys[0], "StoredKey");
    byte[] server = base64(keys[1], "ServerKey");
    if (salt.length == 0) {
      throw bad("the salt is empty");
    }
    if (stored.length != 32 || server.length != 32) {
      throw bad("StoredKey and ServerKey must be 32 bytes each (SHA-256)");
    }
    return new Scram(iterations, salt, stored, server);
  }

  /** The 20-byte SHA1(SHA1(password)) of a {@code *<40 hex>} hash. */
  public static byte[] mysqlNative(String value) {
    return HexFormat.of().parseHex(value.substring(1));
  }

  private static byte[] base64(String text, String what) {
    try {
      return Base64.getDecoder().decode(text);
    } catch (IllegalArgumentException e) {
      throw bad("the " + what + " is not base64");
    }
  }

  private static IllegalArgumentException bad(String why) {
    return new IllegalArgumentException(
        "is not a SCRAM verifier: " + why + "; expected " + SCRAM_FORMAT);
  }

  private static boolean hex(String s) {
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'))) {
        return false;
      }
    }
    return true;
  }
}

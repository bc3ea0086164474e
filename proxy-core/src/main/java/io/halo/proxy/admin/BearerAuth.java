package io.halo.proxy.admin;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;

/**
 * Checks {@code Authorization: Bearer <token>} against {@code admin.token} (everything) and {@code
 * admin.read_only_token} (reads only). Both sides are hashed before the constant-time {@link
 * MessageDigest#isEqual} so that the comparison time reveals neither a matching prefix nor the
 * token's length. A config reload replaces both tokens at once ({@link #replace}); a request is
 * checked against one pair, old or new.
 */
final class BearerAuth {

  private static final String SCHEME = "bearer ";

  /** What a request's credentials allow. */
  enum Access {
    NONE,
    READ,
    FULL
  }

  /** The hashed tokens; {@code full} null: every request is accepted. */
  private record Keys(byte[] full, byte[] readOnly) {}

  private volatile Keys keys;

  /**
   * @param token null: every request is accepted
   */
  BearerAuth(String token) {
    this(token, null);
  }

  BearerAuth(String token, String readOnlyToken) {
    replace(token, readOnlyToken);
  }

  /** Takes new tokens (a config reload): requests from now on are checked against them. */
  void replace(String token, String readOnlyToken) {
    keys =
        new Keys(
            token == null ? null : sha256(token),
            readOnlyToken == null ? null : sha256(readOnlyToken));
  }

  boolean required() {
    return keys.full() != null;
  }

  /**
   * @param header the Authorization header, null when absent
   */
  boolean accepts(String header) {
    return access(header) == Access.FULL;
  }

  /**
   * @param header the Authorization header, null when absent
   */
  Access access(String header) {
    Keys k = keys;
    byte[] full = k.full();
    byte[] readOnly = k.readOnly();
    if (full == null) {
      return Access.FULL;
    }
    if (header == null
        || header.length() < SCHEME.length()
        || !header.regionMatches(true, 0, SCHEME, 0, SCHEME.length())) {
      return Access.NONE;
    }
    byte[] given = sha256(header.substring(SCHEME.length()).trim());
    boolean isFull = MessageDigest.isEqual(full, given);
    boolean isRead = readOnly != null && MessageDigest.isEqual(readOnly, given);
    return isFull ? Access.FULL : isRead ? Access.READ : Access.NONE;
  }

  private static byte[] sha256(String s) {
    try {
      return MessageDigest.getInstance("SHA-256").digest(s.getBytes(StandardCharsets.UTF_8));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("SHA-256 is missing from this JVM", e);
    }
  }
}

package io.halo.proxy.admin;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;

/**
 * Checks {@code Authorization: Bearer <token>}. Both sides are hashed before the constant-time
 * {@link MessageDigest#isEqual} so that the comparison time reveals neither a matching prefix nor
 * the token's length.
 */
final class BearerAuth {

  private static final String SCHEME = "bearer ";

  private final byte[] expected;

  /** @param token null: every request is accepted */
  BearerAuth(String token) {
    this.expected = token == null ? null : sha256(token);
  }

  boolean required() {
    return expected != null;
  }

  /** @param header the Authorization header, null when absent */
  boolean accepts(String header) {
    if (expected == null) {
      return true;
    }
    if (header == null || header.length() < SCHEME.length()
        || !header.regionMatches(true, 0, SCHEME, 0, SCHEME.length())) {
      return false;
    }
    return MessageDigest.isEqual(expected, sha256(header.substring(SCHEME.length()).trim()));
  }

  private static byte[] sha256(String s) {
    try {
      return MessageDigest.getInstance("SHA-256").digest(s.getBytes(StandardCharsets.UTF_8));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("SHA-256 is missing from this JVM", e);
    }
  }
}

package io.halo.proxy.pg.auth;

import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.util.Base64;
import javax.crypto.Mac;
import javax.crypto.SecretKeyFactory;
import javax.crypto.spec.PBEKeySpec;
import javax.crypto.spec.SecretKeySpec;

/**
 * SCRAM-SHA-256 primitives (RFC 5802, RFC 7677) shared by Halo's server side (clients logging in to
 * Halo) and client side (Halo logging in to a backend).
 *
 * <p>Passwords are used as given (UTF-8) without SASLprep; that is the same for all-ASCII
 * passwords, which is what PostgreSQL itself falls back to for passwords SASLprep rejects.
 */
public final class Scram {

  public static final String MECHANISM = "SCRAM-SHA-256";

  /** SCRAM-SHA-256 bound to the TLS connection (tls-server-end-point), offered over TLS. */
  public static final String MECHANISM_PLUS = "SCRAM-SHA-256-PLUS";

  public static final int DEFAULT_ITERATIONS = 4096;

  private Scram() {}

  /** The verifier PostgreSQL would store for a password: salt, iterations, StoredKey, ServerKey. */
  public record Verifier(byte[] salt, int iterations, byte[] storedKey, byte[] serverKey) {

    public static Verifier of(String password, byte[] salt, int iterations) {
      byte[] salted = saltedPassword(password, salt, iterations);
      return new Verifier(
          salt, iterations, sha256(hmac(salted, "Client Key")), hmac(salted, "Server Key"));
    }

    /** Parses PostgreSQL's stored form ({@link io.halo.conf.model.StoredPassword#SCRAM_FORMAT}). */
    public static Verifier parse(String stored) {
      io.halo.conf.model.StoredPassword.Scram v = io.halo.conf.model.StoredPassword.scram(stored);
      return new Verifier(v.salt(), v.iterations(), v.storedKey(), v.serverKey());
    }
  }

  public static byte[] saltedPassword(String password, byte[] salt, int iterations) {
    try {
      SecretKeyFactory f = SecretKeyFactory.getInstance("PBKDF2WithHmacSHA256");
      // PBEKeySpec takes chars and encodes them as UTF-8 for PBKDF2WithHmacSHA256.
      return f.generateSecret(new PBEKeySpec(password.toCharArray(), salt, iterations, 256))
          .getEncoded();
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("PBKDF2WithHmacSHA256 is not available in this JVM", e);
    }
  }

  public static byte[] hmac(byte[] key, String message) {
    return hmac(key, message.getBytes(StandardCharsets.UTF_8));
  }

  public static byte[] hmac(byte[] key, byte[] message) {
    try {
      Mac mac = Mac.getInstance("HmacSHA256");
      mac.init(new SecretKeySpec(key, "HmacSHA256"));
      return mac.doFinal(message);
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("HmacSHA256 is not available in this JVM", e);
    }
  }

  public static byte[] sha256(byte[] data) {
    try {
      return MessageDigest.getInstance("SHA-256").digest(data);
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("SHA-256 is not available in this JVM", e);
    }
  }

  public static byte[] xor(byte[] a, byte[] b) {
    byte[] out = new byte[a.length];
    for (int i = 0; i < a.length; i++) {
      out[i] = (byte) (a[i] ^ b[i]);
    }
    return out;
  }

  /** A printable nonce of 18 random bytes, base64 (no commas, as SCRAM requires). */
  public static String nonce() {
    return b64(randomBytes(18));
  }

  public static byte[] randomBytes(int n) {
    return io.halo.proxy.session.Secrets.bytes(n);
  }

  public static String b64(byte[] b) {
    return Base64.getEncoder().encodeToString(b);
  }

  public static byte[] unb64(String s) {
    return Base64.getDecoder().decode(s);
  }

  /** The value of attribute {@code name} ("r", "s", ...) in a SCRAM message, or null. */
  public static String attribute(String message, char name) {
    for (String part : message.split(",")) {
      if (part.length() >= 2 && part.charAt(0) == name && part.charAt(1) == '=') {
        return part.substring(2);
      }
    }
    return null;
  }
}

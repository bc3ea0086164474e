package io.halo.proxy.session;

import java.security.DrbgParameters;
import java.security.NoSuchAlgorithmException;
import java.security.SecureRandom;

/**
 * The one source of secrets for both engines (SCRAM nonces and salts, MySQL scrambles, cancel
 * keys): a NIST DRBG seeded once from the operating system when Halo starts ({@link #init}, off the
 * event loops), so that drawing a secret on an event loop is CPU work only. The platform's default
 * {@code SecureRandom} (NativePRNG) reads {@code /dev/urandom} on every call, a blocking file read
 * on the loop. Thread-safe.
 */
public final class Secrets {

  private static final SecureRandom RANDOM = create();

  private Secrets() {}

  private static SecureRandom create() {
    SecureRandom r;
    try {
      r =
          SecureRandom.getInstance(
              "DRBG",
              DrbgParameters.instantiation(
                  256,
                  DrbgParameters.Capability.RESEED_ONLY,
                  "halo".getBytes(java.nio.charset.StandardCharsets.US_ASCII)));
    } catch (NoSuchAlgorithmException e) {
      r = new SecureRandom();
    }
    r.nextBytes(new byte[1]); // a DRBG is seeded on first use: do it here, not on an event loop
    return r;
  }

  /** Seeds the generator now (call at start, off the event loops). */
  public static void init() {
    RANDOM.nextInt();
  }

  public static byte[] bytes(int n) {
    byte[] b = new byte[n];
    RANDOM.nextBytes(b);
    return b;
  }

  public static int nextInt() {
    return RANDOM.nextInt();
  }

  /** Uniform in [0, bound). */
  public static int nextInt(int bound) {
    return RANDOM.nextInt(bound);
  }

  /** Printable, non-NUL bytes (33..126), as MySQL servers send in their scramble. */
  public static byte[] printable(int n) {
    // One draw from the generator for all of them (a DRBG call hashes and locks; twenty calls per
    // MySQL greeting showed in the connect profile), uniform by rejection: a byte below 188 (2 x
    // 94) maps to one of the 94 values with equal chance; the rest are drawn again.
    byte[] b = new byte[n];
    byte[] pool = new byte[n + n / 2 + 8];
    int used = pool.length;
    for (int i = 0; i < n; ) {
      if (used == pool.length) {
        RANDOM.nextBytes(pool);
        used = 0;
      }
      int v = pool[used++] & 0xff;
      if (v < 188) {
        b[i++] = (byte) (33 + v % 94);
      }
    }
    return b;
  }
}

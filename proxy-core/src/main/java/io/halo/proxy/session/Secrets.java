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

  /**
   * Secret bytes drawn from the generator a block at a time, per thread, each handed out once and
   * wiped: a DRBG call hashes under a lock, and every connection needs a few small secrets (a
   * cancel key, a nonce, a scramble), which showed in the connect profile.
   */
  private static final ThreadLocal<Draw> DRAWS = ThreadLocal.withInitial(Draw::new);

  private static final class Draw {
    private final byte[] block = new byte[512];
    private int used = block.length;

    int nextByte() {
      if (used == block.length) {
        RANDOM.nextBytes(block);
        used = 0;
      }
      int v = block[used] & 0xff;
      block[used++] = 0;
      return v;
    }

    int nextInt() {
      return nextByte() << 24 | nextByte() << 16 | nextByte() << 8 | nextByte();
    }
  }

  public static byte[] bytes(int n) {
    Draw d = DRAWS.get();
    byte[] b = new byte[n];
    for (int i = 0; i < n; i++) {
      b[i] = (byte) d.nextByte();
    }
    return b;
  }

  public static int nextInt() {
    return DRAWS.get().nextInt();
  }

  /** Uniform in [0, bound), as {@link java.util.Random#nextInt(int)} draws it. */
  public static int nextInt(int bound) {
    if (bound <= 0) {
      throw new IllegalArgumentException("bound must be positive: " + bound);
    }
    Draw d = DRAWS.get();
    int r = d.nextInt() >>> 1;
    int m = bound - 1;
    if ((bound & m) == 0) {
      return (int) ((bound * (long) r) >> 31);
    }
    for (int u = r; u - (r = u % bound) + m < 0; u = d.nextInt() >>> 1) {
      // rejected: u fell in the last, partial run of bound values
    }
    return r;
  }

  /** Printable, non-NUL bytes (33..126), as MySQL servers send in their scramble. */
  public static byte[] printable(int n) {
    // uniform by rejection: a byte below 188 (2 x 94) maps to one of the 94 values with equal
    // chance; the rest are drawn again
    Draw d = DRAWS.get();
    byte[] b = new byte[n];
    for (int i = 0; i < n; ) {
      int v = d.nextByte();
      if (v < 188) {
        b[i++] = (byte) (33 + v % 94);
      }
    }
    return b;
  }
}

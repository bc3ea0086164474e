package io.halo.proxy.mysql.auth;

import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;

/**
 * MariaDB's {@code client_ed25519} authentication: the client signs the server's 32-byte nonce with
 * an Ed25519 key derived from the password, and the server checks the signature against the public
 * key it stores ({@code IDENTIFIED VIA ed25519 USING PASSWORD('...')}).
 *
 * <p>Design memo. MariaDB hashes the password itself where RFC 8032 hashes a 32-byte seed: {@code h
 * = SHA-512(password)}, then the usual clamping of {@code h[0..32]} into the secret scalar and
 * {@code h[32..64]} as the nonce prefix. The JDK's EdDSA only takes 32-byte seeds, so the
 * arithmetic is done here, on the twisted Edwards curve in extended coordinates with {@link
 * BigInteger} (RFC 8032, section 5.1; the reference code's structure). With a 32-byte "password" it
 * is plain Ed25519, which the RFC's test vectors check. It runs once per backend login of a user
 * whose backend account uses ed25519 (a few milliseconds), not per query. This is not constant-time
 * code: the secret is the backend password Halo already holds in memory, and the signing happens on
 * Halo's side only.
 */
public final class Ed25519Password {

  private static final BigInteger P = BigInteger.TWO.pow(255).subtract(BigInteger.valueOf(19));
  private static final BigInteger L =
      BigInteger.TWO.pow(252).add(new BigInteger("27742317777372353535851937790883648493"));
  private static final BigInteger D =
      BigInteger.valueOf(-121665).multiply(BigInteger.valueOf(121666).modInverse(P)).mod(P);
  private static final BigInteger D2 = D.shiftLeft(1).mod(P);
  private static final BigInteger[] BASE = base();
  private static final BigInteger[] NEUTRAL = {
    BigInteger.ZERO, BigInteger.ONE, BigInteger.ONE, BigInteger.ZERO
  };

  private Ed25519Password() {}

  /** The 64-byte signature of {@code nonce} with the key derived from {@code password}. */
  public static byte[] sign(String password, byte[] nonce) {
    return sign(password.getBytes(StandardCharsets.UTF_8), nonce);
  }

  static byte[] sign(byte[] password, byte[] message) {
    byte[] h = sha512(password);
    byte[] scalarBytes = java.util.Arrays.copyOf(h, 32);
    scalarBytes[0] &= (byte) 248;
    scalarBytes[31] &= 63;
    scalarBytes[31] |= 64;
    BigInteger a = littleEndian(scalarBytes);
    byte[] publicKey = compress(multiply(a, BASE));
    BigInteger r = littleEndian(sha512(java.util.Arrays.copyOfRange(h, 32, 64), message)).mod(L);
    byte[] bigR = compress(multiply(r, BASE));
    BigInteger k = littleEndian(sha512(bigR, publicKey, message)).mod(L);
    BigInteger s = r.add(k.multiply(a)).mod(L);
    byte[] out = new byte[64];
    System.arraycopy(bigR, 0, out, 0, 32);
    System.arraycopy(toLittleEndian(s), 0, out, 32, 32);
    return out;
  }

  /** The 32-byte public key of {@code password} (what the server stores, base64 encoded). */
  static byte[] publicKey(byte[] password) {
    byte[] h = sha512(password);
    byte[] scalarBytes = java.util.Arrays.copyOf(h, 32);
    scalarBytes[0] &= (byte) 248;
    scalarBytes[31] &= 63;
    scalarBytes[31] |= 64;
    return compress(multiply(littleEndian(scalarBytes), BASE));
  }

  // ---------------------------------------------------------------- curve arithmetic

  private static BigInteger[] add(BigInteger[] p, BigInteger[] q) {
    BigInteger a = p[1].subtract(p[0]).multiply(q[1].subtract(q[0])).mod(P);
    BigInteger b = p[1].add(p[0]).multiply(q[1].add(q[0])).mod(P);
    BigInteger c = p[3].multiply(D2).multiply(q[3]).mod(P);
    BigInteger d = p[2].shiftLeft(1).multiply(q[2]).mod(P);
    BigInteger e = b.subtract(a);
    BigInteger f = d.subtract(c);
    BigInteger g = d.add(c);
    BigInteger hh = b.add(a);
    return new BigInteger[] {
      e.multiply(f).mod(P), g.multiply(hh).mod(P), f.multiply(g).mod(P), e.multiply(hh).mod(P)
    };
  }

  private static BigInteger[] multiply(BigInteger s, BigInteger[] point) {
    BigInteger[] q = NEUTRAL;
    BigInteger[] p = point;
    for (int i = 0; i < s.bitLength(); i++) {
      if (s.testBit(i)) {
        q = add(q, p);
      }
      p = add(p, p);
    }
    return q;
  }

  private static byte[] compress(BigInteger[] point) {
    BigInteger zInv = point[2].modInverse(P);
    BigInteger x = point[0].multiply(zInv).mod(P);
    BigInteger y = point[1].multiply(zInv).mod(P);
    BigInteger v = x.testBit(0) ? y.setBit(255) : y;
    return toLittleEndian(v);
  }

  private static BigInteger[] base() {
    BigInteger y = BigInteger.valueOf(4).multiply(BigInteger.valueOf(5).modInverse(P)).mod(P);
    // x^2 = (y^2 - 1) / (d y^2 + 1)
    BigInteger y2 = y.multiply(y).mod(P);
    BigInteger x2 =
        y2.subtract(BigInteger.ONE)
            .multiply(D.multiply(y2).add(BigInteger.ONE).modInverse(P))
            .mod(P);
    BigInteger x = x2.modPow(P.add(BigInteger.valueOf(3)).shiftRight(3), P);
    if (!x.multiply(x).subtract(x2).mod(P).equals(BigInteger.ZERO)) {
      BigInteger sqrtMinus1 = BigInteger.TWO.modPow(P.subtract(BigInteger.ONE).shiftRight(2), P);
      x = x.multiply(sqrtMinus1).mod(P);
    }
    if (x.testBit(0)) {
      x = P.subtract(x); // the base point's x is even
    }
    return new BigInteger[] {x, y, BigInteger.ONE, x.multiply(y).mod(P)};
  }

  // ---------------------------------------------------------------- encodings

  private static BigInteger littleEndian(byte[] b) {
    byte[] be = new byte[b.length + 1];
    for (int i = 0; i < b.length; i++) {
      be[b.length - i] = b[i];
    }
    return new BigInteger(be);
  }

  private static byte[] toLittleEndian(BigInteger v) {
    byte[] be = v.toByteArray();
    byte[] out = new byte[32];
    for (int i = 0; i < 32 && i < be.length; i++) {
      out[i] = be[be.length - 1 - i];
    }
    return out;
  }

  private static byte[] sha512(byte[]... parts) {
    try {
      MessageDigest md = MessageDigest.getInstance("SHA-512");
      for (byte[] part : parts) {
        md.update(part);
      }
      return md.digest();
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("SHA-512 is part of every JDK", e);
    }
  }
}

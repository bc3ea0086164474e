package io.halo.proxy.mysql.auth;

import static org.assertj.core.api.Assertions.assertThat;

import java.security.KeyFactory;
import java.security.Signature;
import java.security.spec.EdECPoint;
import java.security.spec.EdECPublicKeySpec;
import java.security.spec.NamedParameterSpec;
import java.util.HexFormat;
import org.junit.jupiter.api.Test;

class Ed25519PasswordTest {

  private static final HexFormat HEX = HexFormat.of();

  /** RFC 8032 section 7.1, TEST 1 and TEST 3: with a 32-byte "password" it is plain Ed25519. */
  @Test
  void rfc8032_vectors() {
    byte[] seed1 = HEX.parseHex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60");
    assertThat(HEX.formatHex(Ed25519Password.publicKey(seed1)))
        .isEqualTo("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a");
    assertThat(HEX.formatHex(Ed25519Password.sign(seed1, new byte[0])))
        .isEqualTo(
            "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b");
    byte[] seed3 = HEX.parseHex("c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7");
    assertThat(HEX.formatHex(Ed25519Password.sign(seed3, HEX.parseHex("af82"))))
        .isEqualTo(
            "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a");
  }

  /** A password of any length signs a 32-byte nonce that the JDK's own Ed25519 verifies. */
  @Test
  void a_password_signature_verifies_with_the_jdk() throws Exception {
    byte[] nonce = HEX.parseHex("0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20");
    byte[] pw = "s3cret-password".getBytes(java.nio.charset.StandardCharsets.UTF_8);
    byte[] sig = Ed25519Password.sign("s3cret-password", nonce);
    byte[] pk = Ed25519Password.publicKey(pw);
    boolean xOdd = (pk[31] & 0x80) != 0;
    byte[] y = pk.clone();
    y[31] &= 0x7f;
    byte[] be = new byte[32];
    for (int i = 0; i < 32; i++) {
      be[i] = y[31 - i];
    }
    var key =
        KeyFactory.getInstance("Ed25519")
            .generatePublic(
                new EdECPublicKeySpec(
                    NamedParameterSpec.ED25519,
                    new EdECPoint(xOdd, new java.math.BigInteger(1, be))));
    Signature v = Signature.getInstance("Ed25519");
    v.initVerify(key);
    v.update(nonce);
    assertThat(v.verify(sig)).isTrue();
    nonce[0] ^= 1;
    v.initVerify(key);
    v.update(nonce);
    assertThat(v.verify(sig)).isFalse();
  }
}

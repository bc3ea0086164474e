package io.halo.proxy.mysql.auth;

import io.halo.conf.model.StoredPassword;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.PublicKey;
import java.security.spec.X509EncodedKeySpec;
import java.util.Base64;
import javax.crypto.Cipher;

/** Plugin names and the client side of the authentication plugins Halo speaks to backends. */
public final class MySqlAuth {

  public static final String NATIVE = "mysql_native_password";
  public static final String CACHING_SHA2 = "caching_sha2_password";

  /** MariaDB's ed25519 plugin (backend logins only): a signature of the 32-byte nonce. */
  public static final String ED25519 = "client_ed25519";

  private MySqlAuth() {}

  /**
   * The first auth response for {@code plugin}; null when Halo cannot speak it. A {@code *<40 hex>}
   * password is a native hash: see {@link NativePassthrough}.
   */
  public static byte[] token(String plugin, String password, byte[] scramble) {
    if (password != null && StoredPassword.of(password) == StoredPassword.MYSQL_NATIVE) {
      return NativePassthrough.token(plugin, password, scramble);
    }
    return switch (plugin) {
      case NATIVE -> MySqlScramble.nativeToken(password, scramble);
      case CACHING_SHA2 -> MySqlScramble.sha2Token(password, scramble);
      case ED25519 -> Ed25519Password.sign(password, scramble);
      default -> null;
    };
  }

  /**
   * caching_sha2_password full authentication without TLS: the password (NUL-terminated) XOR the
   * scramble, RSA-OAEP encrypted with the server's public key (PEM).
   */
  public static byte[] rsaEncryptedPassword(String password, byte[] scramble, String pem)
      throws GeneralSecurityException {
    String body = pem.replaceAll("-----(BEGIN|END) PUBLIC KEY-----", "").replaceAll("\\s", "");
    PublicKey key =
        KeyFactory.getInstance("RSA")
            .generatePublic(new X509EncodedKeySpec(Base64.getDecoder().decode(body)));
    return rsaEncryptedPassword(password, scramble, key);
  }

  /** As above with a key already parsed (a pinned {@code server_public_key}). */
  public static byte[] rsaEncryptedPassword(String password, byte[] scramble, PublicKey key)
      throws GeneralSecurityException {
    byte[] pw = (password + "\0").getBytes(StandardCharsets.UTF_8);
    byte[] mixed = new byte[pw.length];
    for (int i = 0; i < pw.length; i++) {
      mixed[i] = (byte) (pw[i] ^ scramble[i % scramble.length]);
    }
    Cipher c = Cipher.getInstance("RSA/ECB/OAEPWithSHA-1AndMGF1Padding");
    c.init(Cipher.ENCRYPT_MODE, key);
    return c.doFinal(mixed);
  }
}

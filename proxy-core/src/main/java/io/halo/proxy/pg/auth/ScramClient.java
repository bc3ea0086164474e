package io.halo.proxy.pg.auth;

import io.halo.conf.model.StoredPassword;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.Arrays;

/**
 * The client side of one SCRAM-SHA-256 exchange (Halo logging in to a backend).
 *
 * <p>When the configured password is a stored SCRAM verifier ({@link StoredPassword}), Halo has no
 * password: it logs in with the ClientKey a client proved to it for that verifier (SCRAM
 * passthrough, as PgBouncer 1.14+ does). That works only if the backend stores the same verifier
 * (same salt and iterations), which this checks against the server-first-message.
 */
public final class ScramClient {

  private final String password;
  private final ScramKeyCache keys;

  /** The verifier of a passthrough login; null when {@code password} is the password itself. */
  private final Scram.Verifier passthrough;

  private final String clientNonce = Scram.nonce();
  private String clientFirstBare;
  private byte[] expectedServerSignature;

  public ScramClient(String password) {
    this(password, new ScramKeyCache());
  }

  public ScramClient(String password, ScramKeyCache keys) {
    this.password = password;
    this.keys = keys;
    this.passthrough =
        StoredPassword.of(password) == StoredPassword.SCRAM_SHA_256
            ? Scram.Verifier.parse(password)
            : null;
  }

  public String clientFirst() {
    // The user name is taken from the startup packet by PostgreSQL; send it empty.
    clientFirstBare = "n=,r=" + clientNonce;
    return "n,," + clientFirstBare;
  }

  /**
   * Whether answering {@code serverFirst} needs a PBKDF2 computation not yet cached; if so, {@link
   * #derive} it off the event loop first. Malformed messages say no ({@link #clientFinal} refuses).
   */
  public boolean needsDerivation(String serverFirst) {
    String salt = Scram.attribute(serverFirst, 's');
    String iterations = Scram.attribute(serverFirst, 'i');
    try {
      return passthrough == null
          && salt != null
          && iterations != null
          && !keys.cached(password, Scram.unb64(salt), Integer.parseInt(iterations));
    } catch (IllegalArgumentException e) {
      return false;
    }
  }

  /** Computes (and caches) the salted password {@code serverFirst} asks for. Any thread. */
  public void derive(String serverFirst) throws ScramException {
    try {
      keys.saltedPassword(
          password,
          Scram.unb64(Scram.attribute(serverFirst, 's')),
          Integer.parseInt(Scram.attribute(serverFirst, 'i')));
    } catch (IllegalArgumentException e) {
      throw new ScramException("malformed SCRAM server-first-message: " + e.getMessage());
    }
  }

  public String clientFinal(String serverFirst) throws ScramException {
    String nonce = Scram.attribute(serverFirst, 'r');
    String salt = Scram.attribute(serverFirst, 's');
    String iterations = Scram.attribute(serverFirst, 'i');
    if (nonce == null || salt == null || iterations == null || !nonce.startsWith(clientNonce)) {
      throw new ScramException("malformed SCRAM server-first-message");
    }
    String withoutProof = "c=biws,r=" + nonce;
    byte[] authMessage =
        (clientFirstBare + "," + serverFirst + "," + withoutProof).getBytes(StandardCharsets.UTF_8);
    byte[] clientKey;
    byte[] serverKey;
    if (passthrough != null) {
      byte[] backendSalt;
      try {
        backendSalt = Scram.unb64(salt);
      } catch (IllegalArgumentException e) {
        throw new ScramException("malformed SCRAM server-first-message: " + e.getMessage());
      }
      if (!Arrays.equals(backendSalt, passthrough.salt())
          || !iterations.equals(Integer.toString(passthrough.iterations()))) {
        throw new ScramException(
            "SCRAM passthrough: the backend stores another verifier for this user (salt or"
                + " iterations differ from the configured one); copy the backend's"
                + " pg_authid.rolpassword into the config, or set the same verifier on every"
                + " backend");
      }
      clientKey = keys.clientKey(password);
      if (clientKey == null) {
        throw new ScramException(
            "SCRAM passthrough: Halo holds only a verifier for this user and no client has"
                + " logged in with SCRAM since Halo started");
      }
      serverKey = passthrough.serverKey();
    } else {
      byte[] salted;
      try {
        salted = keys.saltedPassword(password, Scram.unb64(salt), Integer.parseInt(iterations));
      } catch (IllegalArgumentException e) {
        throw new ScramException("malformed SCRAM server-first-message: " + e.getMessage());
      }
      clientKey = Scram.hmac(salted, "Client Key");
      serverKey = Scram.hmac(salted, "Server Key");
    }
    byte[] proof = Scram.xor(clientKey, Scram.hmac(Scram.sha256(clientKey), authMessage));
    expectedServerSignature = Scram.hmac(serverKey, authMessage);
    return withoutProof + ",p=" + Scram.b64(proof);
  }

  /** Checks the server-final-message: the backend must prove it knows the password too. */
  public void serverFinal(String message) throws ScramException {
    String v = Scram.attribute(message, 'v');
    if (v == null || expectedServerSignature == null) {
      throw new ScramException("malformed SCRAM server-final-message: " + message);
    }
    if (!MessageDigest.isEqual(Scram.unb64(v), expectedServerSignature)) {
      throw new ScramException("backend's SCRAM server signature does not match");
    }
  }
}

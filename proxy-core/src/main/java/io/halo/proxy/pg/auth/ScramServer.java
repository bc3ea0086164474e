package io.halo.proxy.pg.auth;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;

/**
 * The server side of one SCRAM-SHA-256 exchange with a client (Halo authenticating a client). Not
 * thread-safe; lives in one session's event loop.
 *
 * <pre>
 * client-first:  n,,n=,r=&lt;cnonce&gt;
 * server-first:  r=&lt;cnonce+snonce&gt;,s=&lt;salt&gt;,i=&lt;iterations&gt;
 * client-final:  c=biws,r=&lt;cnonce+snonce&gt;,p=&lt;proof&gt;
 *   (SCRAM-SHA-256-PLUS: client-first starts p=tls-server-end-point,, and c= carries that header
 *   followed by the hash of Halo's certificate, so a relay with another certificate fails)
 * server-final:  v=&lt;server signature&gt;
 * </pre>
 *
 * For an unknown user the exchange runs against a random verifier and fails at the end, so a client
 * cannot tell unknown users from wrong passwords (as PostgreSQL does).
 */
public final class ScramServer {

  private final Scram.Verifier verifier;

  /**
   * tls-server-end-point data of the client's TLS connection (the hash of Halo's certificate), or
   * null without TLS: then SCRAM-SHA-256-PLUS is not offered.
   */
  private final byte[] channelBinding;

  private String clientFirstBare;
  private String serverFirst;
  private String nonce;
  private byte[] clientKey;

  /** What the client-final-message's {@code c=} must carry, base64: gs2 header (+ binding data). */
  private String expectedBinding;

  public ScramServer(Scram.Verifier verifier) {
    this(verifier, null);
  }

  /**
   * @param channelBinding tls-server-end-point data (ServerTls.channelBinding) when the client came
   *     over TLS, else null
   */
  public ScramServer(Scram.Verifier verifier, byte[] channelBinding) {
    this.verifier = verifier;
    this.channelBinding = channelBinding == null ? null : channelBinding.clone();
  }

  /** Whether SCRAM-SHA-256-PLUS may be offered (the client is on TLS). */
  public boolean bindingAvailable() {
    return channelBinding != null;
  }

  /** Made once per process: unknown users' salts derive from it, so nobody can compute them. */
  private static final byte[] UNKNOWN_USER_SECRET = Scram.randomBytes(32);

  /**
   * A verifier no password matches, for an unknown user. Its salt is derived from the name and a
   * secret made at start, so it is the same at every attempt, as a real user's is: a fresh random
   * salt each time told a prober which names exist (two probes, two salts). The exchange that
   * follows is the real one, with the real iteration count.
   */
  public static Scram.Verifier impossibleVerifier(String user) {
    byte[] salt = java.util.Arrays.copyOf(Scram.hmac(UNKNOWN_USER_SECRET, "salt:" + user), 16);
    return new Scram.Verifier(
        salt, Scram.DEFAULT_ITERATIONS, Scram.randomBytes(32), Scram.randomBytes(32));
  }

  /**
   * Takes the client-first-message and returns the server-first-message.
   *
   * @throws ScramException if the message is malformed or asks for channel binding
   */
  public String clientFirst(String message) throws ScramException {
    return clientFirst(message, false);
  }

  /**
   * As above, for the mechanism the client chose: {@code plus} for SCRAM-SHA-256-PLUS.
   *
   * <p>gs2-header: {@code p=tls-server-end-point} binds the exchange to this TLS connection (PLUS
   * only); {@code n} means the client does not bind; {@code y} means it could but believes the
   * server cannot, which, when Halo offered PLUS, is a downgrade by someone in the middle.
   */
  public String clientFirst(String message, boolean plus) throws ScramException {
    int first = message.indexOf(',');
    int second = first < 0 ? -1 : message.indexOf(',', first + 1);
    if (second < 0) {
      throw new ScramException("malformed SCRAM client-first-message");
    }
    String flag = message.substring(0, first);
    if (flag.startsWith("p=")) {
      if (channelBinding == null) {
        throw new ScramException("channel binding is not supported without TLS");
      }
      if (!plus || !flag.equals("p=tls-server-end-point")) {
        throw new ScramException(
            "unsupported SCRAM channel binding '"
                + flag.substring(2)
                + "' (Halo supports tls-server-end-point with SCRAM-SHA-256-PLUS)");
      }
    } else if (plus) {
      throw new ScramException("SCRAM-SHA-256-PLUS chosen without channel binding");
    } else if (flag.equals("y") && channelBinding != null) {
      throw new ScramException(
          "SCRAM channel binding negotiation error: the client believes Halo does not support"
              + " channel binding, but it does (is someone in the middle?)");
    } else if (!flag.equals("n") && !flag.equals("y")) {
      throw new ScramException("malformed SCRAM client-first-message");
    }
    byte[] gs2Header = message.substring(0, second + 1).getBytes(StandardCharsets.UTF_8);
    byte[] binding = gs2Header;
    if (plus) {
      binding = java.util.Arrays.copyOf(gs2Header, gs2Header.length + channelBinding.length);
      System.arraycopy(channelBinding, 0, binding, gs2Header.length, channelBinding.length);
    }
    expectedBinding = Scram.b64(binding);
    clientFirstBare = message.substring(second + 1);
    String clientNonce = Scram.attribute(clientFirstBare, 'r');
    if (clientNonce == null || clientNonce.isEmpty()) {
      throw new ScramException("SCRAM client-first-message has no nonce");
    }
    nonce = clientNonce + Scram.nonce();
    serverFirst = "r=" + nonce + ",s=" + Scram.b64(verifier.salt()) + ",i=" + verifier.iterations();
    return serverFirst;
  }

  /**
   * Takes the client-final-message, checks the proof and returns the server-final-message.
   *
   * @throws ScramException if the proof is wrong or the message malformed
   */
  public String clientFinal(String message) throws ScramException {
    if (serverFirst == null) {
      throw new ScramException("SCRAM client-final-message before client-first-message");
    }
    int proofAt = message.lastIndexOf(",p=");
    if (proofAt < 0) {
      throw new ScramException("SCRAM client-final-message has no proof");
    }
    String withoutProof = message.substring(0, proofAt);
    if (!nonce.equals(Scram.attribute(withoutProof, 'r'))) {
      throw new ScramException("SCRAM nonce mismatch");
    }
    if (!expectedBinding.equals(Scram.attribute(withoutProof, 'c'))) {
      throw new ScramException(
          "SCRAM channel binding check failed: the exchange was not made over this connection");
    }
    byte[] proof;
    try {
      proof = Scram.unb64(message.substring(proofAt + 3));
    } catch (IllegalArgumentException e) {
      throw new ScramException("SCRAM proof is not base64");
    }
    if (proof.length != 32) {
      throw new ScramException("SCRAM proof has the wrong length");
    }
    byte[] authMessage =
        (clientFirstBare + "," + serverFirst + "," + withoutProof).getBytes(StandardCharsets.UTF_8);
    byte[] clientSignature = Scram.hmac(verifier.storedKey(), authMessage);
    byte[] clientKey = Scram.xor(proof, clientSignature);
    if (!MessageDigest.isEqual(Scram.sha256(clientKey), verifier.storedKey())) {
      throw new ScramException("password does not match");
    }
    this.clientKey = clientKey;
    return "v=" + Scram.b64(Scram.hmac(verifier.serverKey(), authMessage));
  }

  /**
   * The ClientKey the client proved (ClientProof XOR HMAC(StoredKey, AuthMessage)), after a
   * successful {@link #clientFinal}; null before. It logs in wherever the same verifier is stored
   * (SCRAM passthrough), so it is a secret like the password.
   */
  public byte[] clientKey() {
    return clientKey == null ? null : clientKey.clone();
  }
}

package io.halo.proxy.transport;

import io.halo.conf.model.BackendConfig;
import io.halo.conf.model.BackendTlsConfig;
import io.halo.conf.model.ClusterConfig;
import io.netty.buffer.ByteBufAllocator;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.SslHandler;
import io.netty.handler.ssl.util.InsecureTrustManagerFactory;
import java.util.HashMap;
import java.util.Map;
import javax.net.ssl.SSLException;

/**
 * TLS from Halo to the backends of one cluster, for both engines: each backend's {@link
 * BackendTlsConfig} with its client {@link SslContext}, built once when Halo starts (reading PEM
 * files blocks; never on an event loop). The connectors ask {@link #of(String)} by backend name and
 * decide when to upgrade (PostgreSQL after the backend's {@code S}, MySQL after its greeting).
 *
 * <p>{@code prefer} and {@code require} encrypt without checking the certificate (libpq's meaning);
 * {@code verify-ca} checks the chain against {@code ca}; {@code verify-full} also checks that the
 * certificate names the host Halo connects to (SAN DNS or IP).
 */
public final class BackendTls {

  /** No TLS to any backend. */
  public static final BackendTls NONE = new BackendTls(Map.of());

  private final Map<String, Backend> backends;

  /**
   * One backend's TLS: its settings, unless disabled its client context, and the MySQL server's
   * pinned RSA public key ({@code server_public_key}) or null.
   */
  public record Backend(
      BackendTlsConfig config, SslContext context, java.security.PublicKey serverPublicKey) {
    static final Backend DISABLED = new Backend(BackendTlsConfig.DISABLED, null, null);

    public boolean enabled() {
      return config.enabled();
    }

    /** Whether a backend that refuses TLS is refused in turn (every mode but prefer). */
    public boolean required() {
      return config.enabled() && config.mode() != BackendTlsConfig.Mode.PREFER;
    }

    /** A client-side handler for a connection to {@code host:port} (the name it must carry). */
    public SslHandler newHandler(ByteBufAllocator alloc, String host, int port) {
      SslHandler h = context.newHandler(alloc, host, port);
      h.setHandshakeTimeoutMillis(10_000);
      return h;
    }
  }

  private BackendTls(Map<String, Backend> backends) {
    this.backends = Map.copyOf(backends);
  }

  /**
   * The cluster's backend TLS, files read now (blocking: call off the event loops).
   *
   * @throws IllegalStateException naming the backend and file when one cannot be used
   */
  public static BackendTls load(ClusterConfig cluster) {
    Map<String, Backend> m = new HashMap<>();
    Map<BackendTlsConfig, SslContext> built = new HashMap<>();
    for (BackendConfig b : cluster.backends()) {
      BackendTlsConfig c = b.tls();
      java.security.PublicKey pinned = null;
      if (c.serverPublicKey() != null) {
        try {
          pinned = rsaPublicKey(c.serverPublicKey());
        } catch (java.io.IOException
            | java.security.GeneralSecurityException
            | RuntimeException e) {
          throw new IllegalStateException(
              "cluster "
                  + cluster.name()
                  + ", backend "
                  + b.name()
                  + ": tls.server_public_key "
                  + c.serverPublicKey()
                  + " is not an RSA public key in PEM (BEGIN PUBLIC KEY): "
                  + ServerTls.rootMessage(e),
              e);
        }
      }
      if (!c.enabled()) {
        // allow_plaintext_password and server_public_key may still be set
        m.put(b.name(), new Backend(c, null, pinned));
        continue;
      }
      SslContext ctx = built.get(c);
      if (ctx == null) {
        try {
          ctx = build(c);
        } catch (SSLException | RuntimeException e) {
          throw new IllegalStateException(
              "cluster "
                  + cluster.name()
                  + ", backend "
                  + b.name()
                  + ": cannot use its tls files ("
                  + (c.ca() == null ? "" : "ca " + c.ca() + " ")
                  + (c.cert() == null ? "" : "cert " + c.cert() + " key " + c.key())
                  + "): "
                  + ServerTls.rootMessage(e),
              e);
        }
        built.put(c, ctx);
      }
      m.put(b.name(), new Backend(c, ctx, pinned));
    }
    return new BackendTls(m);
  }

  /** Backends' TLS given directly (by name), as {@link #load} builds it from a cluster's config. */
  public static BackendTls of(Map<String, Backend> backends) {
    return new BackendTls(backends);
  }

  /** The TLS of backend {@code name}; disabled for a backend this cluster does not know. */
  public Backend of(String name) {
    return backends.getOrDefault(name, Backend.DISABLED);
  }

  /**
   * A PEM RSA public key as MySQL writes it ({@code public_key.pem}, {@code SHOW STATUS LIKE
   * 'Caching_sha2_password_rsa_public_key'}).
   */
  public static java.security.PublicKey rsaPublicKey(java.nio.file.Path pem)
      throws java.io.IOException, java.security.GeneralSecurityException {
    String text = java.nio.file.Files.readString(pem, java.nio.charset.StandardCharsets.US_ASCII);
    int begin = text.indexOf("-----BEGIN PUBLIC KEY-----");
    int end = text.indexOf("-----END PUBLIC KEY-----");
    if (begin < 0 || end < begin) {
      throw new java.security.spec.InvalidKeySpecException("no BEGIN PUBLIC KEY block");
    }
    byte[] der =
        java.util.Base64.getMimeDecoder()
            .decode(text.substring(begin + "-----BEGIN PUBLIC KEY-----".length(), end));
    return java.security.KeyFactory.getInstance("RSA")
        .generatePublic(new java.security.spec.X509EncodedKeySpec(der));
  }

  private static SslContext build(BackendTlsConfig c) throws SSLException {
    SslContextBuilder b =
        SslContextBuilder.forClient()
            .sslProvider(TlsEngine.provider())
            .protocols(TlsEngine.PROTOCOLS)
            .endpointIdentificationAlgorithm(
                c.mode() == BackendTlsConfig.Mode.VERIFY_FULL ? "HTTPS" : null);
    if (c.mode().verifies()) {
      b.trustManager(c.ca().toFile());
    } else {
      b.trustManager(InsecureTrustManagerFactory.INSTANCE);
    }
    if (c.cert() != null) {
      b.keyManager(c.cert().toFile(), c.key().toFile());
    }
    return b.build();
  }
}

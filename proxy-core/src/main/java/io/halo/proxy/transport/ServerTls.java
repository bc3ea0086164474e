package io.halo.proxy.transport;

import io.halo.conf.model.ListenerTlsConfig;
import io.netty.buffer.ByteBufAllocator;
import io.netty.channel.Channel;
import io.netty.handler.ssl.ClientAuth;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.SslHandler;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SSLException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The TLS side of one client listener, for both engines: the current server {@link SslContext} and
 * the {@link SslHandler}s made from it. The adapters decide only <em>when</em> a connection
 * upgrades (PostgreSQL after an SSLRequest, MySQL after the SSL request packet).
 *
 * <p>Design memo. The context is built off the event loops (reading PEM files blocks): at start,
 * and by {@link #reloadIfChanged()} on Halo's TLS reload thread when the certificate, key or CA
 * file changed (modification time or size). A new context replaces the old one atomically; a
 * connection keeps the engine it was made with, so open sessions go on over the old certificate and
 * new ones get the new certificate. A file that does not parse (e.g. caught half-written) leaves
 * the old context serving and is logged once; it is tried again when it changes again.
 */
public final class ServerTls {

  private static final Logger log = LoggerFactory.getLogger(ServerTls.class);

  /** TLS handshake bound; the listener's startup timeout bounds the whole login anyway. */
  private static final long HANDSHAKE_TIMEOUT_MS = 10_000;

  /** A listener without TLS. */
  public static final ServerTls NONE = new ServerTls("-", ListenerTlsConfig.DISABLED, null, null);

  private final String name;
  private final ListenerTlsConfig config;

  /** The ALPN protocol this listener's protocol announces (PostgreSQL: postgresql), or null. */
  private final String alpn;

  private volatile SslContext context;
  private List<Object> stamp;

  private ServerTls(String name, ListenerTlsConfig config, String alpn, SslContext context) {
    this.name = name;
    this.config = config;
    this.alpn = alpn;
    this.context = context;
  }

  /**
   * The listener's TLS, its files read now (blocking: call off the event loops).
   *
   * @throws IllegalStateException naming the file when a file cannot be read or parsed
   */
  public static ServerTls load(String name, ListenerTlsConfig config) {
    return load(name, config, null);
  }

  /**
   * As above, selecting {@code alpn} when a client offers it by ALPN (a client that offers other
   * protocols only gets none; one that offers none is served).
   */
  public static ServerTls load(String name, ListenerTlsConfig config, String alpn) {
    Objects.requireNonNull(config, "config");
    if (!config.enabled()) {
      return NONE;
    }
    ServerTls tls = new ServerTls(name, config, alpn, null);
    tls.stamp = stamp(config);
    try {
      tls.context = build(config, alpn);
    } catch (SSLException | RuntimeException e) {
      throw new IllegalStateException(
          "["
              + name
              + "] cannot use tls.cert "
              + config.cert()
              + " / tls.key "
              + config.key()
              + (config.ca() == null ? "" : " / tls.ca " + config.ca())
              + ": "
              + rootMessage(e),
          e);
    }
    return tls;
  }

  public ListenerTlsConfig config() {
    return config;
  }

  public boolean enabled() {
    return config.enabled();
  }

  /** Whether a client must use TLS to log in. */
  public boolean required() {
    return config.mode() == ListenerTlsConfig.Mode.REQUIRE;
  }

  /** A new server-side handler from the current context (runs on the event loop: no I/O). */
  public SslHandler newHandler(ByteBufAllocator alloc) {
    SslContext current = context;
    if (current == null) {
      throw new IllegalStateException("[" + name + "] TLS is disabled on this listener");
    }
    SslHandler handler = current.newHandler(alloc);
    handler.setHandshakeTimeoutMillis(HANDSHAKE_TIMEOUT_MS);
    return handler;
  }

  /** Whether {@code ch} already speaks TLS. */
  public static boolean active(Channel ch) {
    return ch.pipeline().get(SslHandler.class) != null;
  }

  /**
   * SCRAM's tls-server-end-point data for {@code ch} (RFC 5929): the hash of the certificate Halo
   * presented on it (DER), with the hash function of the certificate's signature algorithm, SHA-256
   * for MD5 and SHA-1; null when {@code ch} has no TLS (or its certificate cannot be read).
   */
  public static byte[] channelBinding(Channel ch) {
    SslHandler ssl = ch.pipeline().get(SslHandler.class);
    if (ssl == null) {
      return null;
    }
    java.security.cert.Certificate[] local = ssl.engine().getSession().getLocalCertificates();
    if (local == null
        || local.length == 0
        || !(local[0] instanceof java.security.cert.X509Certificate cert)) {
      return null;
    }
    String alg = cert.getSigAlgName().toUpperCase(java.util.Locale.ROOT);
    String hash =
        alg.startsWith("SHA384") ? "SHA-384" : alg.startsWith("SHA512") ? "SHA-512" : "SHA-256";
    try {
      return java.security.MessageDigest.getInstance(hash).digest(cert.getEncoded());
    } catch (java.security.cert.CertificateEncodingException
        | java.security.NoSuchAlgorithmException e) {
      return null;
    }
  }

  /**
   * Puts TLS in front of everything on {@code ch}: bytes read from now on are decrypted before the
   * protocol decoders see them. Call after the plaintext answer that announces TLS was written.
   */
  public void upgrade(Channel ch) {
    ch.pipeline().addFirst("tls", newHandler(ch.alloc()));
  }

  /**
   * Rebuilds the context when one of its files changed. Blocking file I/O: call on the TLS reload
   * thread, never on an event loop.
   *
   * @return whether a new context now serves new connections
   */
  public synchronized boolean reloadIfChanged() {
    if (!config.enabled()) {
      return false;
    }
    List<Object> now = stamp(config);
    if (now.equals(stamp)) {
      return false;
    }
    stamp = now;
    try {
      context = build(config, alpn);
      log.info("[{}] TLS certificate reloaded from {}", name, config.cert());
      return true;
    } catch (SSLException | RuntimeException e) {
      log.warn(
          "[{}] TLS files changed but cannot be used, the previous certificate stays: {}",
          name,
          rootMessage(e));
      return false;
    }
  }

  private static SslContext build(ListenerTlsConfig config, String alpn) throws SSLException {
    javax.net.ssl.KeyManagerFactory cached;
    try {
      cached = TlsKeyMaterial.cachingFactory(config.cert(), config.key());
    } catch (IOException | java.security.GeneralSecurityException e) {
      throw new SSLException("cannot read " + config.cert() + " / " + config.key(), e);
    }
    SslContextBuilder b =
        (cached != null
                ? SslContextBuilder.forServer(cached)
                : SslContextBuilder.forServer(config.cert().toFile(), config.key().toFile()))
            .sslProvider(TlsEngine.provider())
            .protocols(TlsEngine.PROTOCOLS);
    if (alpn != null) {
      b.applicationProtocolConfig(
          new io.netty.handler.ssl.ApplicationProtocolConfig(
              io.netty.handler.ssl.ApplicationProtocolConfig.Protocol.ALPN,
              io.netty.handler.ssl.ApplicationProtocolConfig.SelectorFailureBehavior.NO_ADVERTISE,
              io.netty.handler.ssl.ApplicationProtocolConfig.SelectedListenerFailureBehavior.ACCEPT,
              alpn));
    }
    if (config.crl() != null) {
      try {
        b.trustManager(TlsKeyMaterial.revoking(config.ca(), config.crl()));
      } catch (IOException | java.security.GeneralSecurityException e) {
        throw new SSLException("cannot use " + config.ca() + " / " + config.crl(), e);
      }
    } else if (config.ca() != null) {
      b.trustManager(config.ca().toFile());
    }
    b.clientAuth(
        switch (config.clientCertificates()) {
          case NONE -> ClientAuth.NONE;
          case OPTIONAL -> ClientAuth.OPTIONAL;
          case REQUIRE -> ClientAuth.REQUIRE;
        });
    return b.build();
  }

  /** Modification time and size of each file: what a rotation changes. */
  private static List<Object> stamp(ListenerTlsConfig config) {
    List<Object> s = new ArrayList<>();
    for (Path p : new Path[] {config.cert(), config.key(), config.ca(), config.crl()}) {
      if (p == null) {
        continue;
      }
      try {
        s.add(Files.getLastModifiedTime(p).to(TimeUnit.NANOSECONDS));
        s.add(Files.size(p));
      } catch (IOException e) {
        s.add(e.getClass().getSimpleName());
      }
    }
    return s;
  }

  /**
   * Whether {@code cause} is a failed TLS handshake or a TLS record error (a client that does not
   * trust Halo's certificate, an unknown client certificate, a protocol version Halo refuses):
   * expected on a network, logged briefly by the adapters and ended by the SslHandler itself.
   */
  public static boolean isTlsFailure(Throwable cause) {
    for (Throwable t = cause; t != null; t = t.getCause() == t ? null : t.getCause()) {
      if (t instanceof SSLException || t instanceof io.netty.handler.ssl.NotSslRecordException) {
        return true;
      }
    }
    return false;
  }

  /**
   * A client connection failed its TLS handshake (or sent plaintext to TLS): logged in one line and
   * closed. False when {@code cause} is not a TLS failure.
   */
  public static boolean closeOnTlsFailure(
      io.netty.channel.ChannelHandlerContext ctx,
      String listener,
      org.slf4j.Logger log,
      Throwable cause) {
    if (!isTlsFailure(cause)) {
      return false;
    }
    log.info(
        "[{}] client {}: TLS handshake failed: {}",
        listener,
        ctx.channel().remoteAddress(),
        describeFailure(cause));
    ctx.close();
    return true;
  }

  /** One line for a log: the innermost message of a TLS failure. */
  public static String describeFailure(Throwable cause) {
    Throwable t = cause;
    while (t.getCause() != null && t.getCause() != t) {
      t = t.getCause();
    }
    return t.getMessage() == null ? t.toString() : t.getMessage();
  }

  static String rootMessage(Throwable e) {
    Throwable t = e;
    while (t.getCause() != null && t.getCause() != t) {
      t = t.getCause();
    }
    String m = t.getMessage();
    String top = e.getMessage();
    return t == e || m == null ? String.valueOf(top) : top + " (" + m + ")";
  }
}

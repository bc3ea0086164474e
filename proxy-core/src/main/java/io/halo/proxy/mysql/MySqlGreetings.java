package io.halo.proxy.mysql;

import io.halo.proxy.mysql.auth.MySqlAuth;
import io.halo.proxy.mysql.packet.MySqlCapabilities;
import io.halo.proxy.mysql.packet.MySqlPackets;
import io.halo.proxy.mysql.packet.ServerGreeting;
import io.halo.routing.RouteRequest;
import io.halo.routing.RouteResult;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.channel.Channel;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.Promise;
import java.time.Duration;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Halo's MySQL greeting follows the backend's: its server version with {@link #VERSION_SUFFIX}, and
 * the capabilities {@link MySqlCapabilities} lets through of those the backend offers. Each
 * listener keeps the last backend greeting it saw ({@link MySqlListenerContext#backendGreeting});
 * before its first backend login it reads one for the purpose. See docs/mysql.md.
 */
final class MySqlGreetings {

  private static final Logger log = LoggerFactory.getLogger(MySqlGreetings.class);

  /** Suffix of the server version in Halo's greeting: the backend's version, then this. */
  static final String VERSION_SUFFIX = "-halo";

  /** The greeting's server version when no backend greeting could be read. */
  static final String FALLBACK_VERSION = "11.4.5-MariaDB" + VERSION_SUFFIX;

  /** After a failed greeting read, clients get the fallback greeting for this long. */
  private static final long RETRY_NANOS = java.util.concurrent.TimeUnit.SECONDS.toNanos(1);

  private MySqlGreetings() {}

  /**
   * A listener's knowledge of its backend's greeting: the last one seen, the one read in flight (at
   * most one per listener, whatever the number of clients waiting for it), and when a failed read
   * may be tried again. Before the first backend login, an unauthenticated client could otherwise
   * make Halo open one backend connection per client connection.
   */
  static final class Known {
    private final java.util.concurrent.atomic.AtomicReference<ServerGreeting.Info> last =
        new java.util.concurrent.atomic.AtomicReference<>();
    private final java.util.concurrent.atomic.AtomicReference<Future<ServerGreeting.Info>> reading =
        new java.util.concurrent.atomic.AtomicReference<>();
    private volatile long retryAt = System.nanoTime();

    ServerGreeting.Info get() {
      return last.get();
    }

    void set(ServerGreeting.Info info) {
      last.set(info);
    }
  }

  /**
   * The backend greeting to follow, on {@code client}'s event loop: the listener's last one; with
   * none yet, one read from the backend a session would be routed to now (a connection closed after
   * the greeting), bounded by {@code backend_connect_timeout} and half of {@code auth_timeout};
   * null (fallback) when none can be had.
   */
  static Future<ServerGreeting.Info> backend(Channel client, MySqlListenerContext listener) {
    Promise<ServerGreeting.Info> result = client.eventLoop().newPromise();
    Known state = listener.backendGreeting();
    ServerGreeting.Info known = state.get();
    if (known != null || System.nanoTime() - state.retryAt < 0) {
      return result.setSuccess(known); // known, or a read failed a moment ago: the fallback
    }
    Promise<ServerGreeting.Info> read = client.eventLoop().newPromise();
    Future<ServerGreeting.Info> running = state.reading.compareAndExchange(null, read);
    if (running != null) {
      // another client's read is on its way: share it
      running.addListener(f -> result.setSuccess(state.get()));
      return result;
    }
    read.addListener(f -> result.setSuccess(state.get()));
    RouteResult route =
        listener.router().route(new RouteRequest("", "", null, client.remoteAddress()));
    if (!(route instanceof RouteResult.Routed routed)) {
      state.reading.set(null);
      read.setSuccess(null);
      return result;
    }
    // at most half of auth_timeout and of startup_timeout, so the client gets its greeting (the
    // fallback one at worst) and still has time to log in after a slow backend
    Duration bound = listener.server().backendConnectTimeout();
    Duration half =
        min(
            listener.server().authTimeout().dividedBy(2),
            listener.server().startupTimeout().dividedBy(2));
    Future<ServerGreeting> g =
        MySqlBackendConnector.greeting(
            client.eventLoop(),
            listener.transports(),
            routed.backend(),
            bound.compareTo(half) < 0 ? bound : half);
    g.addListener(
        f -> {
          if (g.isSuccess()) {
            state.last.compareAndSet(null, g.getNow().info());
          } else {
            state.retryAt = System.nanoTime() + RETRY_NANOS;
            log.debug(
                "[{}] no backend greeting for Halo's own: {}",
                listener.name(),
                g.cause().getMessage());
          }
          state.reading.set(null);
          read.setSuccess(state.get());
        });
    return result;
  }

  private static Duration min(Duration a, Duration b) {
    return a.compareTo(b) <= 0 ? a : b;
  }

  /**
   * A backend login showed {@code seen}; later clients greet as it when it differs from {@code
   * greeted}.
   */
  static void learned(
      MySqlListenerContext listener, ServerGreeting seen, ServerGreeting.Info greeted) {
    if (seen != null && !seen.info().equals(greeted)) {
      listener.backendGreeting().set(seen.info());
    }
  }

  /**
   * Halo's greeting (protocol 10) after {@code backend}'s (null: the fallback); with {@code tls} it
   * offers CLIENT_SSL (the listener's TLS, whatever the backend offers).
   */
  static ByteBuf handshake(
      ByteBufAllocator alloc,
      ServerGreeting.Info backend,
      int connectionId,
      byte[] scramble,
      boolean tls) {
    String version = backend == null ? FALLBACK_VERSION : backend.serverVersion() + VERSION_SUFFIX;
    int caps =
        backend == null
            ? MySqlCapabilities.FALLBACK
            : MySqlCapabilities.offered(backend.capabilities());
    if (tls) {
      caps |= io.halo.proxy.mysql.packet.MySqlPackets.CLIENT_SSL;
    }
    int ext = backend == null ? 0 : MySqlCapabilities.mariaDbOffered(backend.mariaDbCapabilities());
    return MySqlPackets.handshakeV10(
        alloc, version, connectionId, scramble, caps, ext, 45, MySqlAuth.CACHING_SHA2);
  }
}

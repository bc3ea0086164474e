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

  private MySqlGreetings() {}

  /**
   * The backend greeting to follow, on {@code client}'s event loop: the listener's last one; with
   * none yet, one read from the backend a session would be routed to now (a connection closed after
   * the greeting), bounded by {@code backend_connect_timeout} and half of {@code auth_timeout};
   * null (fallback) when none can be had.
   */
  static Future<ServerGreeting.Info> backend(Channel client, MySqlListenerContext listener) {
    Promise<ServerGreeting.Info> result = client.eventLoop().newPromise();
    ServerGreeting.Info known = listener.backendGreeting().get();
    if (known != null) {
      return result.setSuccess(known);
    }
    RouteResult route =
        listener.router().route(new RouteRequest("", "", null, client.remoteAddress()));
    if (!(route instanceof RouteResult.Routed routed)) {
      return result.setSuccess(null);
    }
    // at most half of auth_timeout, so the client still has time to log in after a slow backend
    Duration bound = listener.server().backendConnectTimeout();
    Duration half = listener.server().authTimeout().dividedBy(2);
    Future<ServerGreeting> g =
        MySqlBackendConnector.greeting(
            client.eventLoop(),
            listener.transports(),
            routed.backend(),
            bound.compareTo(half) < 0 ? bound : half);
    g.addListener(
        f -> {
          if (g.isSuccess()) {
            listener.backendGreeting().compareAndSet(null, g.getNow().info());
          } else {
            log.debug(
                "[{}] no backend greeting for Halo's own: {}",
                listener.name(),
                g.cause().getMessage());
          }
          result.setSuccess(listener.backendGreeting().get());
        });
    return result;
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

  /** Halo's greeting (protocol 10) after {@code backend}'s (null: the fallback). */
  static ByteBuf handshake(
      ByteBufAllocator alloc, ServerGreeting.Info backend, int connectionId, byte[] scramble) {
    String version = backend == null ? FALLBACK_VERSION : backend.serverVersion() + VERSION_SUFFIX;
    int caps =
        backend == null
            ? MySqlCapabilities.FALLBACK
            : MySqlCapabilities.offered(backend.capabilities());
    int ext = backend == null ? 0 : MySqlCapabilities.mariaDbOffered(backend.mariaDbCapabilities());
    return MySqlPackets.handshakeV10(
        alloc, version, connectionId, scramble, caps, ext, 45, MySqlAuth.CACHING_SHA2);
  }
}

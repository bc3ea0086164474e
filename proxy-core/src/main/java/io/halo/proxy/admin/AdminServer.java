package io.halo.proxy.admin;

import io.halo.conf.model.AdminConfig;
import io.halo.health.ClusterControl;
import io.halo.proxy.transport.Transports;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.socket.SocketChannel;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.timeout.IdleStateHandler;
import java.net.InetSocketAddress;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The admin HTTP API: {@code GET /health}, {@code /metrics}, {@code /api/v1/...}. Runs on the event
 * loop groups it is given (it does not own them) and owns a small bounded executor for the blocking
 * actions (failover, switchover, drain/enable/disable).
 */
public final class AdminServer implements AutoCloseable {

  private static final Logger log = LoggerFactory.getLogger(AdminServer.class);

  /** Largest request body accepted; larger ones get 413. */
  public static final int MAX_BODY_BYTES = 64 * 1024;

  /** A connection with no traffic for this long is closed (unless an action is running on it). */
  static final int IDLE_SECONDS = 120;

  static final int ACTION_THREADS = 2;
  static final int ACTION_QUEUE = 8;

  /** The accepted connections, closed by {@link #close()}. */
  private final io.netty.channel.group.ChannelGroup connections =
      new io.netty.channel.group.DefaultChannelGroup(
          "admin", io.netty.util.concurrent.GlobalEventExecutor.INSTANCE);

  private final AdminConfig config;
  private final Transports transports;
  private final EventLoopGroup boss;
  private final EventLoopGroup workers;
  private final AdminRouter router = new AdminRouter();
  private final AdminJson json = new AdminJson();
  private final AdminEndpoints endpoints;
  private final BearerAuth auth;
  private final io.halo.proxy.session.HandOff actions;
  private final String actionLimits;
  private final io.halo.proxy.transport.ServerTls tls;
  private volatile Channel channel;

  public AdminServer(
      AdminConfig config,
      List<ClusterControl> clusters,
      ProxyView proxy,
      Transports transports,
      EventLoopGroup boss,
      EventLoopGroup workers) {
    this(config, clusters, proxy, transports, boss, workers, ACTION_THREADS, ACTION_QUEUE);
  }

  /** With the action executor's size and queue bound, for tests. */
  AdminServer(
      AdminConfig config,
      List<ClusterControl> clusters,
      ProxyView proxy,
      Transports transports,
      EventLoopGroup boss,
      EventLoopGroup workers,
      int actionThreads,
      int actionQueue) {
    this.config = Objects.requireNonNull(config, "config");
    this.transports = Objects.requireNonNull(transports, "transports");
    this.boss = Objects.requireNonNull(boss, "boss");
    this.workers = Objects.requireNonNull(workers, "workers");
    this.endpoints =
        new AdminEndpoints(
            clusters,
            Objects.requireNonNull(proxy, "proxy"),
            json,
            new LeaderForwarder(config, json));
    this.auth = new BearerAuth(config.token(), config.readOnlyToken());
    // Reads the PEM files now (construction is at start, off the event loops); a bad file stops
    // the start naming it.
    this.tls = io.halo.proxy.transport.ServerTls.load("admin", config.tls());
    // handed to without a lock from the admin API's event loop (a ThreadPoolExecutor's is one)
    this.actions =
        new io.halo.proxy.session.HandOff("halo-admin-action", actionThreads, actionQueue);
    this.actionLimits = actionThreads + " running, " + actionQueue + " waiting at most";
  }

  /** Admin connections open at once at most; more are closed as they come. */
  static final int MAX_CONNECTIONS = 256;

  /**
   * Admin connections open at once from one address at most, so that one remote client (a runaway
   * script, a flood) cannot take every connection and lock out the operators and scrapers. Not for
   * loopback, which every local tool shares (the CLI, a scraper, a sidecar): there the overall
   * limit applies.
   */
  static final int MAX_CONNECTIONS_PER_ADDRESS = 32;

  /** How many of the open connections come from {@code ch}'s address; 0 for loopback. */
  private long fromSameAddress(SocketChannel ch) {
    java.net.InetAddress from = ch.remoteAddress().getAddress();
    if (from.isLoopbackAddress()) {
      return 0;
    }
    return connections.stream()
        .filter(
            c ->
                c.remoteAddress() instanceof java.net.InetSocketAddress a
                    && a.getAddress().equals(from))
        .count();
  }

  /**
   * Binds {@code admin.listen}.
   *
   * @throws IllegalStateException naming the address when it cannot be bound
   */
  public void start() throws InterruptedException {
    if (channel != null) {
      throw new IllegalStateException("admin API already started on " + boundAddress());
    }
    ServerBootstrap b =
        new ServerBootstrap()
            .group(boss, workers)
            .channel(transports.serverChannel())
            .childOption(ChannelOption.TCP_NODELAY, true)
            .childHandler(
                new ChannelInitializer<SocketChannel>() {
                  @Override
                  protected void initChannel(SocketChannel ch) {
                    if (connections.size() >= MAX_CONNECTIONS
                        || fromSameAddress(ch) >= MAX_CONNECTIONS_PER_ADDRESS) {
                      ch.close(); // (operators and scrapers need a few; a flood gets none)
                      return;
                    }
                    connections.add(ch);
                    if (tls.enabled()) {
                      // HTTPS only: a plain-HTTP request fails the handshake and is closed.
                      ch.pipeline().addLast("tls", tls.newHandler(ch.alloc()));
                    }
                    ch.pipeline()
                        .addLast("idle", new IdleStateHandler(0, 0, IDLE_SECONDS, TimeUnit.SECONDS))
                        .addLast("http", new HttpServerCodec())
                        .addLast("aggregate", new AdminAggregator(MAX_BODY_BYTES, json))
                        .addLast(
                            "admin",
                            new AdminHandler(router, endpoints, json, auth, actions, actionLimits));
                  }
                });
    ChannelFuture bind = b.bind(config.listen().host(), config.listen().port()).await();
    if (!bind.isSuccess()) {
      Throwable cause = bind.cause();
      throw new IllegalStateException(
          "admin API cannot listen on "
              + config.listen()
              + ": "
              + (cause == null ? "unknown reason" : cause.getMessage()),
          cause);
    }
    channel = bind.channel();
    log.info(
        "admin: API listening on {}://{} ({}{})",
        config.scheme(),
        new io.halo.conf.model.HostPort(
            boundAddress().getAddress().getHostAddress(), boundAddress().getPort()),
        auth.required() ? "bearer token required" : "no token: keep it on loopback",
        tls.enabled()
            ? ", TLS "
                + io.halo.proxy.transport.TlsEngine.describe()
                + ", client certificates "
                + config.tls().clientCertificates().name().toLowerCase(java.util.Locale.ROOT)
            : "");
  }

  /** Takes reloaded tokens ({@code admin.token}, {@code admin.read_only_token}). */
  public void tokens(String token, String readOnlyToken) {
    auth.replace(token, readOnlyToken);
  }

  /** The bound address (the real port when {@code admin.listen} asked for port 0). */
  public InetSocketAddress boundAddress() {
    if (channel == null) {
      throw new IllegalStateException("admin API on " + config.listen() + " is not started");
    }
    return (InetSocketAddress) channel.localAddress();
  }

  /** The API's TLS ({@link io.halo.proxy.transport.ServerTls#NONE} for plain HTTP). */
  public io.halo.proxy.transport.ServerTls tls() {
    return tls;
  }

  /** Actions accepted but not started yet. */
  int actionsWaiting() {
    return actions.waiting();
  }

  /**
   * Stops listening, lets running actions finish for up to 5 s (a failover interrupted half-way
   * helps nobody), then interrupts them, then closes the open connections (kept-alive clients, and
   * the other instances' leader watches, which learn from it that this instance is going).
   */
  @Override
  public void close() {
    if (channel != null) {
      channel.close().awaitUninterruptibly(5, TimeUnit.SECONDS);
    }
    actions.stop();
    try {
      if (!actions.awaitTermination(java.time.Duration.ofSeconds(5))) {
        log.warn("admin: actions still running 5 s after close; interrupting them");
        actions.stopNow();
      }
    } catch (InterruptedException e) {
      actions.stopNow();
      Thread.currentThread().interrupt();
    }
    connections.close().awaitUninterruptibly(2, TimeUnit.SECONDS);
  }
}

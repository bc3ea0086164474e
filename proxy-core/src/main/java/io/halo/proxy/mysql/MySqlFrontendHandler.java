package io.halo.proxy.mysql;

import io.halo.conf.model.AuthMethod;
import io.halo.proxy.mysql.auth.MySqlAuth;
import io.halo.proxy.mysql.auth.MySqlCredentials;
import io.halo.proxy.mysql.auth.MySqlScramble;
import io.halo.proxy.mysql.packet.HandshakeResponse;
import io.halo.proxy.mysql.packet.MySqlCapabilities;
import io.halo.proxy.mysql.packet.MySqlPacket;
import io.halo.proxy.mysql.packet.MySqlPacketDecoder;
import io.halo.proxy.mysql.packet.MySqlPackets;
import io.halo.proxy.mysql.packet.ServerGreeting;
import io.halo.proxy.session.ClientRules;
import io.halo.proxy.transport.ServerTls;
import io.halo.routing.RouteRequest;
import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.DecoderException;
import io.netty.handler.codec.TooLongFrameException;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.ScheduledFuture;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A MySQL client connection from Halo's initial handshake until it relays: Halo's own handshake
 * (protocol 10, its own connection id and scramble), client authentication against Halo's users —
 * caching_sha2_password (fast path: Halo knows the password, so every scramble can be checked and
 * no RSA exchange is needed) or mysql_native_password, switching the client's plugin when it
 * offered another — then routing, the backend login, an OK to the client, and the hand-over to the
 * relay. Bounded by {@code server.auth_timeout}; every failure is an ERR packet with the right code
 * and SQLSTATE, then a close.
 *
 * <p>Size: the MySQL handshake state machine (greeting, SSL request, auth switch, native and
 * caching_sha2, stored hashes, address rules) in one place; what follows authentication is the
 * shared Establisher.
 */
final class MySqlFrontendHandler extends ChannelInboundHandlerAdapter {

  private static final Logger log = LoggerFactory.getLogger(MySqlFrontendHandler.class);

  /**
   * Every capability Halo can take part in (its own login plus what it relays); the greeting offers
   * the subset the backend offers, and backend logins ask for the client's of these that the
   * backend offers (see {@link MySqlCapabilities}).
   */
  static final int CAPABILITIES = MySqlCapabilities.LOGIN | MySqlCapabilities.RELAYED;

  private enum Phase {
    HANDSHAKE,
    /** Waiting for {@code auth_query}'s answer; the client sends nothing meanwhile. */
    LOOKUP,
    AUTH_SWITCH,
    CONNECTING,
    CLOSING
  }

  private final MySqlListenerContext listener;
  private final ServerTls tls;
  private final byte[] scramble = io.halo.proxy.session.Secrets.printable(20);
  private final int connectionId;
  private final io.halo.proxy.session.CancelRegistry.Key idKey;
  private final SessionTarget target = new SessionTarget();

  /** Where this client's session runs, for KILL translation; set once the backend is chosen. */
  static final class SessionTarget implements MySqlKill.Target {
    private volatile Bound bound;

    /** Interrupts a command the session holds in Halo, on {@link #loop}; null before a session. */
    private volatile Runnable interrupter;

    private volatile io.netty.channel.EventLoop loop;

    /** Ends a session that holds no backend connection, on {@link #loop}; null when none can. */
    private volatile Runnable ender;

    /** The Halo user the client logged in as, once known. */
    private volatile String user;

    void user(String name) {
      user = name;
    }

    @Override
    public String user() {
      return user;
    }

    /** The session (either relay) that may hold a command: {@code interrupter} runs on loop. */
    void interruptible(io.netty.channel.EventLoop on, Runnable interrupt) {
      interruptible(on, interrupt, null);
    }

    /** As above, for a session that a KILL may end while it holds no connection ({@code end}). */
    void interruptible(io.netty.channel.EventLoop on, Runnable interrupt, Runnable end) {
      loop = on;
      interrupter = interrupt;
      ender = end;
    }

    @Override
    public boolean endSession(Runnable then) {
      Runnable end = ender;
      return end != null
          && onLoop(
              () -> {
                try {
                  end.run();
                } finally {
                  then.run(); // the killer is answered (and reads again) whatever happened
                }
              });
    }

    @Override
    public boolean interruptWaiting() {
      return onLoop(interrupter);
    }

    /** Runs {@code r} on the session's loop, whose state it is; false when there is none. */
    private boolean onLoop(Runnable r) {
      if (r == null) {
        return false;
      }
      loop.execute(r);
      return true;
    }

    private record Bound(io.halo.health.state.BackendNode node, long threadId) {}

    void bind(io.halo.health.state.BackendNode node, long threadId) {
      bound = new Bound(node, threadId);
    }

    @Override
    public io.halo.health.state.BackendNode backendNode() {
      Bound b = bound;
      return b == null ? null : b.node();
    }

    @Override
    public long backendThreadId() {
      Bound b = bound;
      return b == null ? 0 : b.threadId();
    }
  }

  private Phase phase = Phase.HANDSHAKE;

  /** The backend greeting Halo's own greeting followed (null: the fallback). */
  private ServerGreeting.Info greeted;

  private ScheduledFuture<?> authTimer;
  private HandshakeResponse hello;
  private MySqlCredentials.Entry credentials;
  private String switchedTo;

  /** Why a looked-up account cannot log in (another plugin, no hash); logged, never sent. */
  private String lookupRefusal;

  /** Sequence id of the last packet; -1 before Halo's greeting (which is 0). */
  private int seq = -1;

  /** Route, admission and backend login once the client is authenticated. */
  private io.halo.proxy.session.Establisher<MySqlBackendConnection> establisher;

  MySqlFrontendHandler(MySqlListenerContext listener) {
    this(listener, ServerTls.NONE);
  }

  MySqlFrontendHandler(MySqlListenerContext listener, ServerTls tls) {
    this.listener = listener;
    this.tls = tls;
    this.idKey = listener.connectionIds().register(target);
    this.connectionId = idKey.processId();
  }

  @Override
  public void handlerAdded(ChannelHandlerContext ctx) {
    ctx.channel().closeFuture().addListener(f -> listener.connectionIds().unregister(idKey));
    long ms = listener.server().authTimeout().toMillis();
    authTimer =
        ctx.executor()
            .schedule(
                () -> {
                  if (phase == Phase.HANDSHAKE
                      || phase == Phase.LOOKUP
                      || phase == Phase.AUTH_SWITCH) {
                    fail(
                        ctx,
                        MySqlError.BAD_HANDSHAKE,
                        "Bad handshake: not completed within " + ms + " ms");
                  }
                },
                ms,
                TimeUnit.MILLISECONDS);
  }

  @Override
  public void channelActive(ChannelHandlerContext ctx) {
    Future<ServerGreeting.Info> backend = MySqlGreetings.backend(ctx.channel(), listener);
    if (backend.isDone()) {
      greet(ctx, backend.getNow());
    } else {
      backend.addListener(
          f -> {
            if (ctx.channel().isActive()) {
              greet(ctx, backend.getNow());
            }
          });
    }
    ctx.fireChannelActive();
  }

  private void greet(ChannelHandlerContext ctx, ServerGreeting.Info backend) {
    greeted = backend;
    ctx.writeAndFlush(
        frame(
            ctx,
            MySqlGreetings.handshake(ctx.alloc(), backend, connectionId, scramble, tls.enabled())));
  }

  @Override
  public void channelRead(ChannelHandlerContext ctx, Object msg) {
    MySqlPacket p = (MySqlPacket) msg;
    try {
      int expected = (seq + 1) & 0xff;
      if ((phase == Phase.HANDSHAKE || phase == Phase.AUTH_SWITCH) && p.sequenceId() != expected) {
        // The handshake response follows the server greeting (0), an auth-switch response the
        // request; any other sequence id is a client that is not speaking the protocol.
        seq = p.sequenceId();
        fail(
            ctx,
            MySqlError.BAD_HANDSHAKE,
            "Bad handshake: packet sequence id " + p.sequenceId() + ", expected " + expected);
        return;
      }
      seq = p.sequenceId();
      switch (phase) {
        case HANDSHAKE -> handshake(ctx, p.payload());
        case AUTH_SWITCH -> {
          byte[] token = MySqlPackets.readAll(p.payload());
          if (credentials != null && !credentials.user().auth().asksPassword()) {
            authenticated(ctx); // trust, or a certificate checked before the switch
          } else {
            checkPassword(ctx, switchedTo, token);
          }
        }
        default ->
            fail(
                ctx,
                MySqlError.BAD_HANDSHAKE,
                "Bad handshake: packet before the session was ready");
      }
    } catch (IllegalArgumentException e) {
      fail(ctx, MySqlError.BAD_HANDSHAKE, "Bad handshake: " + e.getMessage());
    } finally {
      p.release();
    }
  }

  private void handshake(ChannelHandlerContext ctx, ByteBuf payload) {
    if (payload.readableBytes() == 32 && (payload.getIntLE(0) & MySqlPackets.CLIENT_SSL) != 0) {
      sslRequest(ctx);
      return;
    }
    if (tls.required() && !ServerTls.active(ctx.channel())) {
      fail(
          ctx,
          MySqlError.SECURE_TRANSPORT_REQUIRED,
          "Connections using insecure transport are prohibited on this Halo listener"
              + " (tls mode: require): connect with TLS, e.g. --ssl or sslMode=REQUIRED");
      return;
    }
    hello = HandshakeResponse.decode(payload);
    credentials = listener.credentials().lookup(hello.user()).orElse(null);
    io.halo.proxy.session.AuthLookup authQuery = listener.credentials().authQuery();
    if (credentials == null && authQuery != null) {
      // auth_query: the hash comes from the primary (or the cache), off this loop
      phase = Phase.LOOKUP;
      authQuery.lookup(hello.user(), ctx.channel(), r -> lookedUp(ctx, r));
      return;
    }
    beginAuth(ctx);
  }

  /** The user's hash from {@code auth_query}; then authentication as for a listed user. */
  private void lookedUp(ChannelHandlerContext ctx, io.halo.proxy.session.AuthLookup.Result r) {
    if (phase != Phase.LOOKUP || !ctx.channel().isActive()) {
      return;
    }
    phase = Phase.HANDSHAKE;
    if (r instanceof io.halo.proxy.session.AuthLookup.Unavailable) {
      // ER_SERVER_SHUTDOWN-like (1053, 08S01), a server code libmariadb shows as it is: the
      // login cannot be checked now; details with addresses stay in Halo's log.
      fail(
          ctx,
          MySqlError.BACKEND_UNAVAILABLE,
          "Halo could not look up user '"
              + hello.user()
              + "' on the primary of cluster "
              + listener.cluster()
              + " (auth_query); try again later");
      return;
    }
    if (r instanceof io.halo.proxy.session.AuthLookup.Found f) {
      lookupRefusal = io.halo.proxy.mysql.auth.MySqlAuthQuery.unusable(f.secret(), f.plugin());
      if (lookupRefusal == null) {
        credentials = io.halo.proxy.mysql.auth.MySqlAuthQuery.entry(hello.user(), f.secret());
      }
    }
    ctx.channel().config().setAutoRead(true);
    beginAuth(ctx);
  }

  /** Address rules, then the password check of the user's plugin (switching the client to it). */
  private void beginAuth(ChannelHandlerContext ctx) {
    if (credentials != null && ClientRules.refuses(ctx.channel(), credentials.user(), listener)) {
      fail(
          ctx,
          MySqlError.HOST_NOT_ALLOWED,
          "Host '" + host(ctx) + "' is not allowed to connect to this server");
      return;
    }
    if (credentials != null && credentials.user().auth() == AuthMethod.CERT) {
      String why =
          io.halo.proxy.session.CertificateLogin.refusal(ctx.channel(), credentials.user());
      if (why != null) {
        certificateFailed(ctx, why);
        return;
      }
    }
    if (credentials != null && !credentials.user().auth().asksPassword()) {
      String plugin = hello.authPlugin();
      if (plugin != null
          && !plugin.isEmpty()
          && !MySqlAuth.CACHING_SHA2.equals(plugin)
          && !MySqlAuth.NATIVE.equals(plugin)) {
        // A client without the greeting's plugin answers with a stand-in (libmariadb's
        // dummy_fallback_auth), which would take the OK for a challenge: switch it to
        // mysql_native_password first, whose answer is then not checked.
        switchTo(ctx, MySqlAuth.NATIVE);
        return;
      }
      // Any password is accepted. A caching_sha2_password client that sent one waits for the
      // plugin's verdict before the OK (without it libmariadb asks for the RSA key and fails).
      fastAuthSuccess(ctx, hello.authPlugin(), hello.authResponse());
      authenticated(ctx);
      return;
    }
    String plugin = credentials == null ? MySqlAuth.CACHING_SHA2 : credentials.plugin();
    if (plugin.equals(hello.authPlugin()) && hello.authResponse().length > 0) {
      checkPassword(ctx, plugin, hello.authResponse());
      return;
    }
    switchTo(ctx, plugin);
  }

  /** AuthSwitchRequest: 0xfe, plugin name NUL, scramble NUL. */
  private void switchTo(ChannelHandlerContext ctx, String plugin) {
    ByteBuf sw = ctx.alloc().buffer(64);
    sw.writeByte(0xfe).writeCharSequence(plugin, StandardCharsets.US_ASCII);
    sw.writeByte(0).writeBytes(scramble).writeByte(0);
    switchedTo = plugin;
    phase = Phase.AUTH_SWITCH;
    ctx.writeAndFlush(frame(ctx, sw));
  }

  /**
   * The SSL request packet (the first 32 bytes of a handshake response, with CLIENT_SSL): TLS from
   * here on, and the full handshake response follows encrypted, with the next sequence id. The
   * client starts its TLS handshake without waiting for an answer, so bytes already read behind the
   * request go to the new SslHandler (on the next turn of the loop, once this decoder's pass
   * ended). Refused when the greeting did not offer TLS, or over TLS already.
   */
  private void sslRequest(ChannelHandlerContext ctx) {
    if (!tls.enabled()) {
      fail(ctx, MySqlError.BAD_HANDSHAKE, "Bad handshake: TLS was not offered");
      return;
    }
    if (ServerTls.active(ctx.channel())) {
      fail(ctx, MySqlError.BAD_HANDSHAKE, "Bad handshake: SSL request over TLS");
      return;
    }
    ByteBuf early = ctx.pipeline().get(MySqlPacketDecoder.class).takeBuffered();
    Channel ch = ctx.channel();
    tls.upgrade(ch);
    if (early != null) {
      // Now, not on a later turn of the loop: the rest of the ClientHello may be read (and go
      // straight to the SslHandler) before such a task ran. Nothing comes back through the packet
      // decoder from it: a ClientHello alone cannot complete a handshake. The SslHandler's answer
      // is flushed at this read's channelReadComplete. (The decoder stopped framing behind the
      // SSL request, so these bytes were not taken for a packet.)
      ch.pipeline().fireChannelRead(early);
    }
  }

  /** ERR 1045 as for a wrong password, saying it was the certificate; the details in the log. */
  private void certificateFailed(ChannelHandlerContext ctx, String why) {
    listener.rejections().count("auth_failed");
    long suppressed = listener.authFailures().admitLogLine(listener.name());
    if (suppressed >= 0) {
      log.info(
          "[{}] certificate authentication failed for user '{}' from {}: {}{}",
          listener.name(),
          hello.user(),
          ctx.channel().remoteAddress(),
          why,
          io.halo.proxy.session.AuthFailures.suppressed(suppressed));
    }
    fail(
        ctx,
        MySqlError.ACCESS_DENIED,
        "Access denied for user '"
            + hello.user()
            + "'@'"
            + host(ctx)
            + "' (certificate authentication failed)");
  }

  private void checkPassword(ChannelHandlerContext ctx, String plugin, byte[] token) {
    boolean ok =
        credentials != null
            && (MySqlAuth.NATIVE.equals(plugin)
                ? MySqlScramble.nativeMatches(credentials.nativeStored(), scramble, token)
                : MySqlScramble.sha2Matches(credentials.sha2Stored(), scramble, token));
    if (ok && MySqlAuth.NATIVE.equals(plugin)) {
      io.halo.proxy.mysql.auth.NativePassthrough.learn(credentials.user(), scramble, token);
    }
    if (!ok) {
      listener.rejections().count("auth_failed");
      long suppressed = listener.authFailures().admitLogLine(listener.name());
      if (suppressed >= 0) {
        log.info(
            "[{}] access denied for user '{}' from {} ({}){}",
            listener.name(),
            hello.user(),
            ctx.channel().remoteAddress(),
            credentials != null
                ? "wrong password"
                : lookupRefusal != null ? lookupRefusal : "no such user",
            io.halo.proxy.session.AuthFailures.suppressed(suppressed));
      }
      String message =
          "Access denied for user '"
              + hello.user()
              + "'@'"
              + host(ctx)
              + "' (using password: "
              + (token.length > 0 ? "YES" : "NO")
              + ")";
      listener
          .authFailures()
          .answerLater(
              ctx.channel(), hello.user(), () -> fail(ctx, MySqlError.ACCESS_DENIED, message));
      return;
    }
    fastAuthSuccess(ctx, plugin, token);
    authenticated(ctx);
  }

  /**
   * caching_sha2_password's "fast auth success" (0x01 0x03), which precedes the OK when the client
   * sent a password; for an empty one (no bytes, or Connector/J's single NUL) the OK comes alone.
   */
  private void fastAuthSuccess(ChannelHandlerContext ctx, String plugin, byte[] token) {
    boolean empty = token.length == 0 || (token.length == 1 && token[0] == 0);
    if (MySqlAuth.CACHING_SHA2.equals(plugin) && !empty) {
      ctx.write(frame(ctx, ctx.alloc().buffer(2).writeByte(0x01).writeByte(0x03)));
    }
  }

  private void authenticated(ChannelHandlerContext ctx) {
    target.user(hello.user());
    phase = Phase.CONNECTING;
    io.halo.proxy.session.AcceptGate.authenticated(ctx.channel());
    listener.authFailures().succeeded(ctx.channel(), hello.user());
    ctx.flush();
    var u = credentials.user();
    establisher =
        new io.halo.proxy.session.Establisher<>(
            listener,
            ctx.channel(),
            backend -> {
              var key = MySqlSession.poolKey(backend, u.backendUser(), hello);
              java.util.function.Supplier<io.netty.util.concurrent.Future<MySqlBackendConnection>>
                  login =
                      () ->
                          MySqlBackendConnector.connect(
                              ctx.channel().eventLoop(),
                              listener.transports(),
                              backend,
                              u.backendUser(),
                              u.backendPassword(),
                              hello,
                              CAPABILITIES,
                              listener.server().backendConnectTimeout(),
                              listener.server().maxMessageSize());
              if (!listener.pool().multiplexed()) {
                return listener.pool().acquire(ctx.channel().eventLoop(), key, login);
              }
              // transaction mode: once the key has logged in on this loop, a login takes no
              // connection (a full pool does not hold it up: Connector/J's cancel and query
              // timeout log in to send their KILL); else the login's connection goes back to the
              // pool once the session starts, until its first command
              MySqlBackendConnection known =
                  listener.pool().loginWithoutConnection(ctx.channel().eventLoop(), key);
              return known != null
                  ? ctx.channel().eventLoop().newSucceededFuture(known)
                  : listener.pool().checkout(ctx.channel().eventLoop(), key, login);
            },
            (connection, route) -> startRelay(ctx, connection, route),
            (why, message, backend, cause) -> {
              switch (why) {
                case USER_LIMIT -> fail(ctx, MySqlError.USER_LIMIT_REACHED, message);
                case THROTTLED -> fail(ctx, MySqlError.TOO_MANY_CONNECTIONS, message);
                case HOLD_TIMEOUT, NO_BACKEND -> fail(ctx, MySqlError.BACKEND_UNAVAILABLE, message);
                case BACKEND_FAILED -> {
                  if (cause instanceof MySqlBackendConnector.BackendRefused r) {
                    fail(ctx, r.code(), r.sqlState(), r.getMessage());
                  } else {
                    // The cause names the backend's address: that stays in the log, the client
                    // gets the backend's name only.
                    fail(
                        ctx,
                        MySqlError.BACKEND_UNAVAILABLE,
                        "Halo could not connect to backend "
                            + backend.name()
                            + " of cluster "
                            + listener.cluster());
                  }
                }
              }
            },
            hello.user());
    establisher.start(
        hello.user(),
        new RouteRequest(
            hello.user(),
            hello.database() == null ? "" : hello.database(),
            hello.attributes().get("program_name"),
            ctx.channel().remoteAddress()));
  }

  private void startRelay(
      ChannelHandlerContext ctx,
      MySqlBackendConnection backend,
      io.halo.conf.model.Route sessionRoute) {
    Channel client = ctx.channel();
    if (!client.isActive()) {
      if (backend.channel() != null) {
        backend.channel().close();
      }
      return;
    }
    authTimer.cancel(false);
    MySqlGreetings.learned(listener, backend.greeting(), greeted);
    client.writeAndFlush(frame(ctx, MySqlPackets.ok(ctx.alloc(), 0, 0, backend.status(), 0)));
    if (listener.split() != null) {
      target.bind(backend.node(), backend.threadId());
      MySqlSplitRelay relay =
          new MySqlSplitRelay(
              listener,
              client,
              hello,
              credentials,
              scramble,
              CAPABILITIES,
              listener.split(),
              target::bind);
      target.interruptible(client.eventLoop(), relay::cancelWaiting, relay::killed);
      relay.onUserChange(target::user);
      relay.start(ctx, backend);
      listener.sessions().add(relay);
      client.closeFuture().addListener(f -> listener.sessions().remove(relay));
      phase = Phase.CLOSING;
      ctx.pipeline().remove(this);
      client.config().setAutoRead(true);
      return;
    }
    MySqlSession session =
        new MySqlSession(
            listener, client, hello, scramble, credentials, target, backend, sessionRoute);
    phase = Phase.CLOSING;
    session.start(); // on this event loop: no read comes between this and the removals below
    ctx.pipeline().remove(this);
    ctx.pipeline().remove("frames"); // bytes the client already sent pass on to the relay
    log.debug(
        "[{}] {} relaying to {} (thread {})",
        listener.name(),
        hello.user(),
        backend.node().name(),
        backend.threadId());
  }

  private ByteBuf frame(ChannelHandlerContext ctx, ByteBuf payload) {
    seq = (seq + 1) & 0xff;
    return MySqlPackets.frame(ctx.alloc(), seq, payload);
  }

  private void fail(ChannelHandlerContext ctx, MySqlError e, String message) {
    fail(ctx, e.code(), e.sqlState(), message);
  }

  private void fail(ChannelHandlerContext ctx, int code, String sqlState, String message) {
    if (phase == Phase.CLOSING) {
      return;
    }
    phase = Phase.CLOSING;
    ctx.channel().config().setAutoRead(false);
    ctx.writeAndFlush(frame(ctx, MySqlPackets.err(ctx.alloc(), code, sqlState, message)))
        .addListener(ChannelFutureListener.CLOSE);
  }

  private static String host(ChannelHandlerContext ctx) {
    var a = ctx.channel().remoteAddress();
    return a instanceof java.net.InetSocketAddress i
        ? i.getAddress().getHostAddress()
        : String.valueOf(a);
  }

  @Override
  public void channelInactive(ChannelHandlerContext ctx) {
    io.halo.proxy.session.Establisher.cancel(authTimer, establisher);
    ctx.fireChannelInactive();
  }

  @Override
  public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
    if (ServerTls.closeOnTlsFailure(ctx, listener.name(), log, cause)) {
      return;
    }
    if (cause instanceof TooLongFrameException) {
      fail(
          ctx,
          MySqlError.PACKET_TOO_LARGE,
          "Got a packet bigger than max_message_size: " + cause.getMessage());
    } else if (cause instanceof DecoderException) {
      fail(ctx, MySqlError.BAD_HANDSHAKE, "Bad handshake: " + cause.getMessage());
    } else if (cause instanceof IOException) {
      log.debug(
          "[{}] client {} failed during handshake: {}",
          listener.name(),
          ctx.channel().remoteAddress(),
          cause.toString());
      ctx.close();
    } else {
      log.warn(
          "[{}] client {} failed during handshake",
          listener.name(),
          ctx.channel().remoteAddress(),
          cause);
      ctx.close();
    }
  }
}

package io.halo.proxy.pg;

import io.halo.conf.model.AuthMethod;
import io.halo.conf.model.StoredPassword;
import io.halo.conf.model.UserConfig;
import io.halo.proxy.pg.auth.Credentials;
import io.halo.proxy.pg.auth.Md5;
import io.halo.proxy.pg.auth.Scram;
import io.halo.proxy.pg.auth.ScramException;
import io.halo.proxy.pg.auth.ScramServer;
import io.halo.proxy.pg.message.PgFrame;
import io.halo.proxy.pg.message.PgFrameDecoder;
import io.halo.proxy.pg.message.PgFrameError;
import io.halo.proxy.pg.message.PgMessages;
import io.halo.proxy.session.CancelRegistry;
import io.halo.proxy.session.ClientRules;
import io.halo.proxy.session.SessionState;
import io.halo.proxy.transport.ServerTls;
import io.halo.routing.RouteRequest;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.util.concurrent.ScheduledFuture;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A PostgreSQL client connection from its first byte until it relays: startup packet (SSL and GSS
 * encryption declined, cancel requests served), client authentication against Halo's users
 * (SCRAM-SHA-256, md5, trust), routing, the backend login, and the hand-over to {@link
 * PgRelayHandler}.
 *
 * <p>Design memo. Authentication ends at Halo, so Halo, not the backend, decides who may log in,
 * and the backend login uses the user's backend credentials. The client sees AuthenticationOk as
 * soon as its own password is checked, then the backend's ParameterStatus messages, Halo's own
 * BackendKeyData (its cancel key maps to the backend's) and ReadyForQuery. Startup and
 * authentication are bounded by {@code server.auth_timeout}; what follows by its own bounds (a
 * failover hold by {@code failover.hold_timeout}, admission by {@code throttle.queue_timeout}, the
 * backend login by {@code server.backend_connect_timeout}). Every failure is a FATAL ErrorResponse
 * with a SQLSTATE, then a close, and touches no other session.
 *
 * <p>Size: the PostgreSQL startup and authentication state machine (SSLRequest and direct TLS,
 * cancel, SCRAM with channel binding, md5, stored verifiers, address rules) in one place; what
 * follows authentication is the shared Establisher.
 */
public final class PgFrontendHandler extends ChannelInboundHandlerAdapter {

  private static final Logger log = LoggerFactory.getLogger(PgFrontendHandler.class);

  /** Bytes a client may send ahead while its backend connection is being opened. */
  private static final int MAX_EARLY_BYTES = 1 << 20;

  /** Spellings of {@code replication=false}: an ordinary session, which Halo serves. */
  private static final java.util.Set<String> REPLICATION_OFF =
      java.util.Set.of("false", "off", "no", "0");

  private final PgListenerContext listener;
  private final ServerTls tls;
  private SessionState state = SessionState.STARTUP;
  private ScheduledFuture<?> authTimer;
  private String user;
  private String database;
  private final Map<String, String> parameters = new LinkedHashMap<>();

  private Credentials.Entry credentials;

  /**
   * The looked-up user's password expired ({@code valuntil}): refused like a wrong password once
   * proven, as PostgreSQL does.
   */
  private boolean expired;

  private ScramServer scram;
  private boolean scramFirstDone;
  private Map<String, String> backendParameters;

  /** Route, admission and backend login once the client is authenticated. */
  private io.halo.proxy.session.Establisher<PgBackendConnection> establisher;

  private byte[] md5Salt;
  private final List<ByteBuf> early = new ArrayList<>();
  private int earlyBytes;

  public PgFrontendHandler(PgListenerContext listener) {
    this(listener, ServerTls.NONE);
  }

  public PgFrontendHandler(PgListenerContext listener, ServerTls tls) {
    this.listener = listener;
    this.tls = tls;
  }

  @Override
  public void handlerAdded(ChannelHandlerContext ctx) {
    // Armed when the handler joins the pipeline, so the bound also covers a connection that
    // never sends a byte.
    long ms = listener.server().authTimeout().toMillis();
    authTimer =
        ctx.executor()
            .schedule(
                () -> {
                  if (state == SessionState.STARTUP || state == SessionState.AUTH) {
                    fatal(
                        ctx,
                        SqlState.PROTOCOL_VIOLATION,
                        "startup and authentication not completed within " + ms + " ms");
                  }
                },
                ms,
                TimeUnit.MILLISECONDS);
  }

  @Override
  public void channelRead(ChannelHandlerContext ctx, Object msg) {
    if (msg instanceof PgFrameError e) {
      fatal(ctx, e.state(), e.message());
      return;
    }
    PgFrame frame = (PgFrame) msg;
    try {
      if (frame.isStartup() != (state == SessionState.STARTUP)) {
        // The startup packet is accepted exactly once, before anything else; the framing decides
        // what is one, so a typed message whose type byte is 0 (sent after the password, say)
        // can never replace the session's user, database or credentials.
        fatal(
            ctx,
            SqlState.PROTOCOL_VIOLATION,
            frame.isStartup()
                ? "unexpected startup packet"
                : "expected startup packet, got message type '" + (char) frame.type() + "'");
      } else if (frame.isStartup()) {
        startupPacket(ctx, frame.body());
      } else {
        typed(ctx, frame);
      }
    } catch (RuntimeException e) {
      // A malformed body (e.g. a string without its NUL) surfaces as an index exception.
      fatal(ctx, SqlState.PROTOCOL_VIOLATION, "malformed message: " + e.getMessage());
    } finally {
      frame.release();
    }
  }

  private void startupPacket(ChannelHandlerContext ctx, ByteBuf body) {
    int code = body.readInt();
    switch (code) {
      case PgMessages.SSL_REQUEST_CODE -> {
        if (!askedOnce(ctx, PgMessages.SSL_REQUEST_CODE)) {
          sslRequest(ctx);
        }
        return;
      }
      case PgMessages.GSSENC_REQUEST_CODE -> {
        if (!askedOnce(ctx, PgMessages.GSSENC_REQUEST_CODE)) {
          ctx.writeAndFlush(Unpooled.wrappedBuffer(new byte[] {'N'}));
        }
        return;
      }
      case PgMessages.CANCEL_REQUEST_CODE -> {
        cancel(ctx, body);
        return;
      }
      default -> {}
    }
    if (tls.required() && !ServerTls.active(ctx.channel())) {
      // As a pg_hba.conf of hostssl lines only: the client learns why, and how to connect.
      fatal(
          ctx,
          SqlState.INVALID_AUTHORIZATION,
          "this listener requires TLS: connect with sslmode=require (or verify-ca, verify-full)");
      return;
    }
    if (code >>> 16 != 3) {
      unsupportedProtocol(ctx, code);
      return;
    }
    List<String> unsupportedOptions = new ArrayList<>();
    while (true) {
      if (!body.isReadable()) {
        fatal(
            ctx,
            SqlState.PROTOCOL_VIOLATION,
            "invalid startup packet layout: expected terminator as last byte");
        return;
      }
      String key = PgMessages.readCString(body);
      if (key.isEmpty()) {
        break;
      }
      String value = PgMessages.readCString(body);
      if (key.startsWith("_pq_.")) {
        unsupportedOptions.add(key);
      } else {
        parameters.put(key, value);
      }
    }
    String replication = parameters.get("replication");
    if (replication != null
        && !REPLICATION_OFF.contains(replication.toLowerCase(java.util.Locale.ROOT))) {
      // A walsender session streams WAL and runs replication commands: not a client session Halo
      // can route, throttle or move, and a way around the listener's routing. Refused, as
      // PgBouncer refuses it unless configured.
      fatal(
          ctx,
          SqlState.FEATURE_NOT_SUPPORTED,
          "replication connections are not supported through Halo; connect to the server directly");
      return;
    }
    user = parameters.remove("user");
    if (user == null || user.isEmpty()) {
      fatal(
          ctx,
          SqlState.INVALID_AUTHORIZATION,
          "no PostgreSQL user name specified in startup packet");
      return;
    }
    database = parameters.remove("database");
    if (database == null || database.isEmpty()) {
      database = user;
    }
    if ((code & 0xffff) > 0 || !unsupportedOptions.isEmpty()) {
      ctx.write(PgMessages.negotiateProtocolVersion(ctx.alloc(), 0, unsupportedOptions));
    }
    state = SessionState.AUTH;
    credentials = listener.credentials().lookup(user).orElse(null);
    io.halo.proxy.session.AuthLookup authQuery = listener.credentials().authQuery();
    if (credentials == null && authQuery != null) {
      // auth_query: the verifier comes from the primary (or the cache), off this loop
      authQuery.lookup(user, ctx.channel(), r -> lookedUp(ctx, r));
      return;
    }
    beginAuth(ctx);
  }

  /** The user's verifier from {@code auth_query}; then authentication as for a listed user. */
  private void lookedUp(ChannelHandlerContext ctx, io.halo.proxy.session.AuthLookup.Result r) {
    if (state != SessionState.AUTH || !ctx.channel().isActive()) {
      return;
    }
    if (r instanceof io.halo.proxy.session.AuthLookup.Unavailable) {
      // As PgBouncer when its auth_user cannot reach the server: the login fails, saying why
      // in general terms (the details, with addresses, are in Halo's log).
      fatal(
          ctx,
          SqlState.CONNECTION_FAILURE,
          "Halo could not look up user \""
              + user
              + "\" on the primary of cluster "
              + listener.cluster()
              + " (auth_query); try again later");
      return;
    }
    if (r instanceof io.halo.proxy.session.AuthLookup.Found f) {
      credentials = io.halo.proxy.pg.auth.PgAuthQuery.entry(user, f.secret());
      expired = f.validUntil() != null && f.validUntil().isBefore(java.time.Instant.now());
    }
    ctx.channel().config().setAutoRead(true);
    beginAuth(ctx);
  }

  /** Address rules, then the authentication request of the user's method. */
  private void beginAuth(ChannelHandlerContext ctx) {
    if (credentials != null && ClientRules.refuses(ctx.channel(), credentials.user(), listener)) {
      fatal(
          ctx,
          SqlState.INVALID_AUTHORIZATION,
          "no Halo rule allows host \""
              + ClientRules.host(ctx.channel().remoteAddress())
              + "\", user \""
              + user
              + "\", database \""
              + database
              + "\", "
              + (ClientRules.tls(ctx.channel()) ? "SSL encryption" : "no encryption"));
      return;
    }
    AuthMethod method = credentials == null ? AuthMethod.SCRAM_SHA_256 : credentials.user().auth();
    switch (method) {
      case TRUST -> authenticated(ctx);
      case CERT -> {
        String why =
            io.halo.proxy.session.CertificateLogin.refusal(ctx.channel(), credentials.user());
        if (why == null) {
          authenticated(ctx);
        } else {
          certificateFailed(ctx, why);
        }
      }
      case MD5 -> {
        md5Salt = Scram.randomBytes(4);
        ctx.writeAndFlush(PgMessages.authentication(ctx.alloc(), PgMessages.AUTH_MD5, md5Salt));
      }
      case SCRAM_SHA_256 -> {
        scram =
            new ScramServer(
                credentials == null ? ScramServer.impossibleVerifier(user) : credentials.scram(),
                ServerTls.channelBinding(ctx.channel()));
        ctx.writeAndFlush(
            PgMessages.authenticationSasl(
                ctx.alloc(),
                scram.bindingAvailable()
                    ? List.of(Scram.MECHANISM_PLUS, Scram.MECHANISM)
                    : List.of(Scram.MECHANISM)));
      }
    }
  }

  /** Encryption requests seen ({@link PgMessages#SSL_REQUEST_CODE}: 1, GSSENCRequest: 2). */
  private int encryptionAsked;

  /**
   * Whether the request {@code code} came before on this connection: then, as PostgreSQL answers
   * it, a FATAL "unsupported frontend protocol" ends the connection. Each answer is a byte written
   * without a limit otherwise: a client sending requests without reading held gigabytes.
   */
  private boolean askedOnce(ChannelHandlerContext ctx, int code) {
    int bit = code == PgMessages.SSL_REQUEST_CODE ? 1 : 2;
    if ((encryptionAsked & bit) != 0) {
      unsupportedProtocol(ctx, code);
      return true;
    }
    encryptionAsked |= bit;
    return false;
  }

  /** FATAL 0A000 for a startup packet whose protocol version Halo does not speak. */
  private void unsupportedProtocol(ChannelHandlerContext ctx, int code) {
    fatal(
        ctx,
        SqlState.FEATURE_NOT_SUPPORTED,
        "unsupported frontend protocol "
            + (code >>> 16)
            + "."
            + (code & 0xffff)
            + ": Halo supports 3.0");
  }

  /**
   * SSLRequest: {@code N} on a listener without TLS (the client may go on in plaintext), else
   * {@code S} and the TLS handshake; the startup packet then comes encrypted. A second SSLRequest
   * (over TLS or not) ends the connection ({@link #askedOnce}), so do bytes sent behind the
   * SSLRequest before the handshake.
   */
  private void sslRequest(ChannelHandlerContext ctx) {
    if (ServerTls.active(ctx.channel())) {
      fatal(ctx, SqlState.PROTOCOL_VIOLATION, "SSLRequest over a connection that uses TLS already");
      return;
    }
    if (!tls.enabled()) {
      ctx.writeAndFlush(Unpooled.wrappedBuffer(new byte[] {'N'}));
      return;
    }
    if (ctx.pipeline().get(PgFrameDecoder.class).buffered() > 0) {
      fatal(ctx, SqlState.PROTOCOL_VIOLATION, "received unencrypted data after SSL request");
      return;
    }
    ctx.writeAndFlush(Unpooled.wrappedBuffer(new byte[] {'S'}));
    tls.upgrade(ctx.channel());
  }

  private void typed(ChannelHandlerContext ctx, PgFrame frame) {
    if (frame.type() == 0) {
      // No frontend message has type 0; PostgreSQL itself answers it with the same FATAL.
      fatal(ctx, SqlState.PROTOCOL_VIOLATION, "invalid frontend message type 0");
      return;
    }
    if (frame.type() == 'X') {
      ctx.close();
      return;
    }
    if (state == SessionState.CONNECTING) {
      holdEarly(ctx, frame);
      return;
    }
    if (state != SessionState.AUTH || frame.type() != 'p') {
      fatal(
          ctx,
          SqlState.PROTOCOL_VIOLATION,
          "expected password response, got message type '" + (char) frame.type() + "'");
      return;
    }
    ByteBuf body = frame.body();
    if (md5Salt != null) {
      String response = PgMessages.readCString(body);
      if (credentials != null
          && credentials.md5() != null
          && Md5.matches(credentials.md5(), md5Salt, response)) {
        if (expired) {
          passwordFailed(ctx, "password expired (valuntil)");
          return;
        }
        authenticated(ctx);
      } else {
        passwordFailed(ctx, "md5 response does not match");
      }
      return;
    }
    try {
      if (!scramFirstDone) {
        String mechanism = PgMessages.readCString(body);
        boolean plus = Scram.MECHANISM_PLUS.equals(mechanism) && scram.bindingAvailable();
        if (!Scram.MECHANISM.equals(mechanism) && !plus) {
          fatal(
              ctx,
              SqlState.PROTOCOL_VIOLATION,
              "client selected an invalid SASL authentication mechanism: " + mechanism);
          return;
        }
        int length = body.readInt();
        if (length < 0 || length != body.readableBytes()) {
          fatal(ctx, SqlState.PROTOCOL_VIOLATION, "malformed SASLInitialResponse");
          return;
        }
        String serverFirst = scram.clientFirst(body.toString(StandardCharsets.UTF_8), plus);
        scramFirstDone = true;
        ctx.writeAndFlush(
            PgMessages.authentication(
                ctx.alloc(),
                PgMessages.AUTH_SASL_CONTINUE,
                serverFirst.getBytes(StandardCharsets.UTF_8)));
      } else {
        String serverFinal = scram.clientFinal(body.toString(StandardCharsets.UTF_8));
        if (credentials == null) {
          passwordFailed(ctx, "no such user");
          return;
        }
        if (expired) {
          passwordFailed(ctx, "password expired (valuntil)");
          return;
        }
        String backendPassword = credentials.user().backendPassword();
        if (StoredPassword.of(backendPassword) == StoredPassword.SCRAM_SHA_256) {
          listener.scramKeys().rememberClientKey(backendPassword, scram.clientKey());
        }
        ctx.write(
            PgMessages.authentication(
                ctx.alloc(),
                PgMessages.AUTH_SASL_FINAL,
                serverFinal.getBytes(StandardCharsets.UTF_8)));
        authenticated(ctx);
      }
    } catch (ScramException e) {
      passwordFailed(ctx, credentials == null ? "no such user" : e.getMessage());
    }
  }

  /** As PostgreSQL's {@code cert} method refuses: 28000, the reason in Halo's log only. */
  private void certificateFailed(ChannelHandlerContext ctx, String why) {
    listener.rejections().count("auth_failed");
    long suppressed = listener.authFailures().admitLogLine(listener.name());
    if (suppressed >= 0) {
      log.info(
          "[{}] certificate authentication failed for user \"{}\" from {}: {}{}",
          listener.name(),
          user,
          ctx.channel().remoteAddress(),
          why,
          io.halo.proxy.session.AuthFailures.suppressed(suppressed));
    }
    fatal(
        ctx,
        SqlState.INVALID_AUTHORIZATION,
        "certificate authentication failed for user \"" + user + "\"");
  }

  private void passwordFailed(ChannelHandlerContext ctx, String why) {
    listener.rejections().count("auth_failed");
    long suppressed = listener.authFailures().admitLogLine(listener.name());
    if (suppressed >= 0) {
      log.info(
          "[{}] password authentication failed for user \"{}\" from {}: {}{}",
          listener.name(),
          user,
          ctx.channel().remoteAddress(),
          why,
          io.halo.proxy.session.AuthFailures.suppressed(suppressed));
    }
    listener
        .authFailures()
        .answerLater(
            ctx.channel(),
            user,
            () ->
                fatal(
                    ctx,
                    SqlState.INVALID_PASSWORD,
                    "password authentication failed for user \"" + user + "\""));
  }

  private void authenticated(ChannelHandlerContext ctx) {
    state = SessionState.CONNECTING;
    io.halo.proxy.session.AcceptGate.authenticated(ctx.channel());
    listener.authFailures().succeeded(ctx.channel(), user);
    PgFrameDecoder frames = ctx.pipeline().get(PgFrameDecoder.class);
    if (frames != null) {
      frames.authenticated();
    }
    // Not flushed yet: it leaves with the backend's parameters and ReadyForQuery (or with the
    // error if no backend takes the session), one write instead of two, as a server sends them.
    ctx.write(PgMessages.authentication(ctx.alloc(), PgMessages.AUTH_OK, new byte[0]));
    UserConfig u = credentials.user();
    backendParameters = new LinkedHashMap<>();
    backendParameters.put("user", u.backendUser());
    backendParameters.put("database", database);
    backendParameters.putAll(parameters);
    // transaction pooling: connections log in without what the session gets by SET
    Map<String, String> loginParameters =
        PgSession.poolParameters(backendParameters, listener.pool().multiplexed());
    establisher =
        new io.halo.proxy.session.Establisher<>(
            listener,
            ctx.channel(),
            backend -> {
              java.util.function.Supplier<io.netty.util.concurrent.Future<PgBackendConnection>>
                  login =
                      () ->
                          PgBackendConnector.connect(
                              ctx.channel().eventLoop(),
                              listener.transports(),
                              backend,
                              u.backendUser(),
                              u.backendPassword(),
                              loginParameters,
                              listener.server().backendConnectTimeout(),
                              (int) listener.server().maxMessageSize(),
                              listener.scramKeys());
              if (listener.pool().multiplexed()) {
                Map<String, String> key = Map.copyOf(loginParameters);
                PgBackendConnection known =
                    listener.pool().loginWithoutConnection(ctx.channel().eventLoop(), backend, key);
                return known != null
                    ? ctx.channel().eventLoop().newSucceededFuture(known)
                    : listener.pool().checkout(ctx.channel().eventLoop(), backend, key, login);
              }
              return listener
                  .pool()
                  .acquire(ctx.channel().eventLoop(), backend, backendParameters, login);
            },
            (connection, route) -> startRelay(ctx, connection, route),
            (why, message, backend, cause) -> {
              fatal(
                  ctx,
                  switch (why) {
                    case USER_LIMIT, THROTTLED -> SqlState.TOO_MANY_CONNECTIONS.code();
                    case HOLD_TIMEOUT, NO_BACKEND -> SqlState.CANNOT_CONNECT_NOW.code();
                    case BACKEND_FAILED ->
                        cause instanceof PgBackendException be
                            ? be.sqlState()
                            : SqlState.CANNOT_CONNECT.code();
                  },
                  message);
            },
            user + "@" + database);
    establisher.start(
        user,
        new RouteRequest(
            user, database, parameters.get("application_name"), ctx.channel().remoteAddress()));
  }

  private void startRelay(
      ChannelHandlerContext ctx,
      PgBackendConnection backend,
      io.halo.conf.model.Route sessionRoute) {
    Channel client = ctx.channel();
    if (!client.isActive()) {
      backend.startupMessages().forEach(ByteBuf::release);
      if (backend.channel() != null) { // transaction pooling may log in without a connection
        backend.channel().close();
      }
      return;
    }
    authTimer.cancel(false);
    PgSession session =
        new PgSession(
            listener,
            client,
            user,
            database,
            credentials.user(),
            backendParameters,
            backend,
            sessionRoute);
    session.state(SessionState.fromTransactionStatus(backend.transactionStatus()));
    // transaction pooling: the connection logged in without some of the client's parameters;
    // the client is told its own values, which its first transaction sets there
    List<String> setLater =
        listener.pool().multiplexed()
            ? PgSession.SET_NOT_KEYED.stream().filter(backendParameters::containsKey).toList()
            : List.of();
    for (String p : setLater) {
      client.write(PgMessages.parameterStatus(client.alloc(), p, backendParameters.get(p)));
    }
    boolean standardStrings = true;
    for (ByteBuf m : backend.startupMessages()) {
      // how the server reads backslashes in strings, as its login said (its default may be off)
      standardStrings &=
          !"off".equals(PgMessages.parameterStatusValue(m, "standard_conforming_strings"));
      for (String p : setLater) {
        m = PgMessages.withoutParameterStatus(client.alloc(), m, p);
      }
      client.write(m);
    }
    CancelRegistry.Key key = session.register();
    client.write(PgMessages.backendKeyData(client.alloc(), key.processId(), key.secret()));
    client.writeAndFlush(PgMessages.readyForQuery(client.alloc(), backend.transactionStatus()));

    if (listener.split() != null) {
      PgSplitRelay relay = new PgSplitRelay(session, listener.split(), standardStrings);
      session.split(relay);
      relay.start(ctx, backend, early);
      early.clear();
      state = SessionState.IDLE;
      ctx.pipeline().remove(this);
      client.config().setAutoRead(true);
      log.debug("[{}] session {} relaying (split)", listener.name(), session);
      return;
    }

    long max = listener.server().maxMessageSize();
    Channel server = backend.channel();
    PgRelayHandler fromClient = new PgRelayHandler(session, true, server, max);
    PgRelayHandler fromBackend = new PgRelayHandler(session, false, client, max);
    PgRelayHandler.pair(fromClient, fromBackend);
    session.relays(fromClient, fromBackend);
    server.pipeline().addLast("relay", fromBackend);
    ctx.pipeline().addLast("relay", fromClient);
    for (ByteBuf b : early) {
      if (session.admitClientBuffer(b, fromClient.atBoundary())) {
        fromClient.forward(b);
      }
    }
    early.clear();
    server.flush();
    state = SessionState.IDLE;
    ctx.pipeline().remove(this);
    // Removing the frame decoder hands any bytes it still holds to the relay.
    ctx.pipeline().remove("frames");
    server.config().setAutoRead(true);
    client.config().setAutoRead(!session.held()); // early bytes may wait for a transaction permit
    log.debug("[{}] session {} relaying", listener.name(), session);
  }

  private void holdEarly(ChannelHandlerContext ctx, PgFrame frame) {
    int size = 5 + frame.body().readableBytes();
    if (earlyBytes + size > MAX_EARLY_BYTES) {
      fatal(
          ctx,
          SqlState.PROTOCOL_VIOLATION,
          "more than " + MAX_EARLY_BYTES + " bytes sent before the session was ready");
      return;
    }
    earlyBytes += size;
    ByteBuf b = ctx.alloc().buffer(size);
    b.writeByte(frame.type())
        .writeInt(size - 1)
        .writeBytes(frame.body(), frame.body().readerIndex(), size - 5);
    early.add(b);
  }

  private void cancel(ChannelHandlerContext ctx, ByteBuf body) {
    if (body.readableBytes() >= 8) {
      int pid = body.readInt();
      int secret = body.readInt();
      listener
          .cancels()
          .lookup(pid, secret)
          .ifPresentOrElse(
              s -> PgCancel.forward(ctx.channel().eventLoop(), listener.transports(), s),
              () -> log.debug("[{}] cancel request for unknown key {}", listener.name(), pid));
    }
    // A cancel request gets no answer; the server just closes.
    ctx.close();
  }

  private void fatal(ChannelHandlerContext ctx, SqlState state, String message) {
    fatal(ctx, state.code(), message);
  }

  private void fatal(ChannelHandlerContext ctx, String code, String message) {
    if (state == SessionState.CLOSING) {
      return;
    }
    state = SessionState.CLOSING;
    ctx.channel().config().setAutoRead(false);
    ctx.writeAndFlush(PgMessages.error(ctx.alloc(), "FATAL", code, message, null))
        .addListener(ChannelFutureListener.CLOSE);
  }

  @Override
  public void channelInactive(ChannelHandlerContext ctx) {
    io.halo.proxy.session.Establisher.cancel(authTimer, establisher);
    early.forEach(ByteBuf::release);
    early.clear();
    ctx.fireChannelInactive();
  }

  @Override
  public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
    if (ServerTls.closeOnTlsFailure(ctx, listener.name(), log, cause)) {
      return;
    }
    if (cause instanceof IOException) {
      log.debug(
          "[{}] client {} failed during startup: {}",
          listener.name(),
          ctx.channel().remoteAddress(),
          cause.toString());
    } else {
      log.warn(
          "[{}] client {} failed during startup",
          listener.name(),
          ctx.channel().remoteAddress(),
          cause);
    }
    ctx.close();
  }
}

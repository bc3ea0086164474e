package io.halo.proxy.mysql;

import io.halo.conf.model.AuthMethod;
import io.halo.proxy.mysql.auth.MySqlAuth;
import io.halo.proxy.mysql.auth.MySqlCredentials;
import io.halo.proxy.mysql.auth.MySqlScramble;
import io.halo.proxy.mysql.packet.HandshakeResponse;
import io.halo.proxy.mysql.packet.MySqlPacket;
import io.halo.proxy.mysql.packet.MySqlPacketDecoder;
import io.halo.proxy.mysql.packet.MySqlPackets;
import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.util.concurrent.Future;
import java.nio.charset.StandardCharsets;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * COM_CHANGE_USER, which Halo answers itself because it terminates authentication: the new user is
 * checked against Halo's users (the client computed its token with the scramble of Halo's initial
 * handshake; when it used another plugin than the user's, an auth switch with a fresh scramble
 * follows), then the session gets a fresh backend login on the same backend as that user's backend
 * user, with the requested schema and character set, and the old backend connection is quit. A
 * refused change (wrong password or unknown user: ERR 1045; the backend refusing the new login or
 * being unreachable: its error) keeps the old session as it was, user, schema and backend
 * connection, as MariaDB does; only a malformed exchange closes it. The packet layout:
 *
 * <pre>
 * 0x11 | user NUL | auth-response (int1 length + bytes with CLIENT_SECURE_CONNECTION, else NUL-
 * terminated) | schema NUL | [charset int2] | [auth plugin NUL, with CLIENT_PLUGIN_AUTH] | [attrs]
 * </pre>
 */
final class MySqlChangeUser extends ChannelInboundHandlerAdapter {

  /** What a COM_CHANGE_USER changes: a plain session, or a split session's relay. Event loop. */
  interface Target {
    HandshakeResponse hello();

    MySqlListenerContext listener();

    /** The scramble of Halo's greeting, with which the client computed its token. */
    byte[] scramble();

    /** The backend the new user logs in to. */
    io.halo.health.state.BackendNode node();

    /** Halo talks to the client itself (the session is not quiescent, its relay waits). */
    void busy(boolean on);

    /** The new user, with its login (user, schema, character set) for later backend logins. */
    void changedUser(MySqlCredentials.Entry entry, HandshakeResponse next);

    /**
     * Goes on with {@code conn}, the new user's backend session, at server status {@code status}.
     */
    void rebind(MySqlBackendConnection conn, int status);
  }

  private static final Logger log = LoggerFactory.getLogger(MySqlChangeUser.class);
  private static final String FRAMES = "change-user-frames";
  private static final String HANDLER = "change-user";

  private enum Phase {
    REQUEST,
    AUTH_SWITCH,
    CONNECTING,
    /** Refused, the answer delayed ({@code AuthFailures}): a packet now is a protocol violation. */
    REFUSING,
    DONE
  }

  private final Target session;

  /** The exchange brought its own packet decoder (a plain session relays raw bytes). */
  private final boolean ownFrames;

  private HandshakeResponse next;
  private Phase phase = Phase.REQUEST;
  private int seq;
  private String user;
  private String database;
  private int charset;
  private byte[] scramble;
  private String switchedTo;
  private MySqlCredentials.Entry entry;

  private MySqlChangeUser(Target session, boolean ownFrames) {
    this.session = session;
    this.ownFrames = ownFrames;
  }

  /** Takes over the client channel for the exchange, starting with {@code buf}. Event loop. */
  static void start(Target session, ChannelHandlerContext relay, ByteBuf buf) {
    session.busy(true);
    relay.channel().config().setAutoRead(false);
    relay
        .pipeline()
        .addBefore(
            relay.name(), FRAMES, new MySqlPacketDecoder(MySqlListener.MAX_HANDSHAKE_PACKET));
    relay.pipeline().addBefore(relay.name(), HANDLER, new MySqlChangeUser(session, true));
    relay.pipeline().fireChannelRead(buf); // from the head: the framing handler is first
  }

  /**
   * Takes over a client channel whose packets are already framed (a split session: the handler goes
   * before {@code relay}), starting with the command packet {@code p}. Event loop.
   */
  static void start(
      Target session, io.netty.channel.ChannelPipeline pipeline, String relay, MySqlPacket p) {
    session.busy(true);
    pipeline.channel().config().setAutoRead(false);
    MySqlChangeUser handler = new MySqlChangeUser(session, false);
    pipeline.addBefore(relay, HANDLER, handler);
    // after the relay's current read returns (it leaves the client unread while busy)
    pipeline.channel().eventLoop().execute(() -> handler.channelRead(pipeline.context(HANDLER), p));
  }

  @Override
  public void channelRead(ChannelHandlerContext ctx, Object msg) {
    if (!(msg instanceof MySqlPacket p)) {
      ctx.fireChannelRead(msg); // bytes after the exchange, once the framing handler is gone
      return;
    }
    try {
      seq = p.sequenceId();
      switch (phase) {
        case REQUEST -> request(ctx, p.payload());
        case AUTH_SWITCH -> check(ctx, switchedTo, scramble, MySqlPackets.readAll(p.payload()));
        default ->
            fail(ctx, MySqlError.BAD_HANDSHAKE, "Bad handshake: packet during COM_CHANGE_USER");
      }
    } catch (IllegalArgumentException | IndexOutOfBoundsException e) {
      fail(
          ctx,
          MySqlError.BAD_HANDSHAKE,
          "Bad handshake: malformed COM_CHANGE_USER: " + e.getMessage());
    } finally {
      p.release();
    }
  }

  private void request(ChannelHandlerContext ctx, ByteBuf b) {
    int caps = session.hello().capabilities();
    b.skipBytes(1);
    user = MySqlPackets.readCString(b);
    byte[] auth;
    if ((caps & MySqlPackets.CLIENT_SECURE_CONNECTION) != 0) {
      auth = new byte[b.readUnsignedByte()];
      b.readBytes(auth);
    } else {
      auth = MySqlPackets.readCString(b).getBytes(StandardCharsets.UTF_8);
    }
    database = b.isReadable() ? MySqlPackets.readCString(b) : "";
    charset = b.readableBytes() >= 2 ? b.readUnsignedShortLE() & 0xff : session.hello().charset();
    String plugin =
        (caps & MySqlPackets.CLIENT_PLUGIN_AUTH) != 0 && b.isReadable()
            ? MySqlPackets.readCString(b)
            : null;
    entry = session.listener().credentials().lookup(user).orElse(null);
    if (entry != null
        && io.halo.proxy.session.ClientRules.refuses(
            ctx.channel(), entry.user(), session.listener())) {
      refuse(
          ctx,
          MySqlError.HOST_NOT_ALLOWED.code(),
          MySqlError.HOST_NOT_ALLOWED.sqlState(),
          "Host '"
              + io.halo.proxy.session.ClientRules.host(ctx.channel().remoteAddress())
              + "' is not allowed to connect to this server");
      return;
    }
    if (entry != null && entry.user().auth() == AuthMethod.TRUST) {
      connect(ctx);
      return;
    }
    if (entry != null && entry.user().auth() == AuthMethod.CERT) {
      // The connection's certificate must name the new user too; no password is asked.
      String why = io.halo.proxy.session.CertificateLogin.refusal(ctx.channel(), entry.user());
      if (why == null) {
        connect(ctx);
        return;
      }
      refuseLater(
          ctx,
          "certificate authentication failed: " + why,
          "Access denied for user '" + shortUser() + "' (certificate authentication failed)");
      return;
    }
    String wanted = entry == null ? MySqlAuth.CACHING_SHA2 : entry.plugin();
    if (wanted.equals(plugin) && auth.length > 0) {
      check(ctx, wanted, session.scramble(), auth);
      return;
    }
    scramble = io.halo.proxy.session.Secrets.printable(20);
    ByteBuf sw = ctx.alloc().buffer(64);
    sw.writeByte(0xfe).writeCharSequence(wanted, StandardCharsets.US_ASCII);
    sw.writeByte(0).writeBytes(scramble).writeByte(0);
    switchedTo = wanted;
    phase = Phase.AUTH_SWITCH;
    ctx.writeAndFlush(frame(ctx, sw));
    ctx.channel().config().setAutoRead(true);
  }

  private void check(ChannelHandlerContext ctx, String plugin, byte[] salt, byte[] token) {
    boolean ok =
        entry != null
            && (MySqlAuth.NATIVE.equals(plugin)
                ? MySqlScramble.nativeMatches(entry.nativeStored(), salt, token)
                : MySqlScramble.sha2Matches(entry.sha2Stored(), salt, token));
    if (ok && MySqlAuth.NATIVE.equals(plugin)) {
      io.halo.proxy.mysql.auth.NativePassthrough.learn(entry.user(), salt, token);
    }
    if (!ok) {
      refuseLater(
          ctx,
          "access denied (" + (entry == null ? "no such user" : "wrong password") + ")",
          "Access denied for user '"
              + shortUser()
              + "' (using password: "
              + (token.length > 0 ? "YES" : "NO")
              + ")");
      return;
    }
    if (MySqlAuth.CACHING_SHA2.equals(plugin)) {
      ctx.write(
          frame(ctx, ctx.alloc().buffer(2).writeByte(0x01).writeByte(0x03))); // fast auth success
    }
    connect(ctx);
  }

  private void connect(ChannelHandlerContext ctx) {
    phase = Phase.CONNECTING;
    ctx.channel().config().setAutoRead(false);
    ctx.flush();
    HandshakeResponse h = session.hello();
    next = h.with(user, charset, database);
    var u = entry.user();
    MySqlListenerContext l = session.listener();
    Future<MySqlBackendConnection> connecting =
        MySqlBackendConnector.connect(
            ctx.channel().eventLoop(),
            l.transports(),
            session.node(),
            u.backendUser(),
            u.backendPassword(),
            next,
            MySqlFrontendHandler.CAPABILITIES,
            l.server().backendConnectTimeout(),
            l.server().maxMessageSize());
    connecting.addListener(
        f -> {
          if (!f.isSuccess()) {
            if (f.cause() instanceof MySqlBackendConnector.BackendRefused r) {
              refuse(ctx, r.code(), r.sqlState(), r.getMessage());
            } else {
              log.warn(
                  "[{}] COM_CHANGE_USER of {} to {} on {}: {}{}",
                  l.name(),
                  session,
                  user,
                  io.halo.proxy.session.BackendText.forLog(session.node()),
                  f.cause().getMessage(),
                  f.cause().getCause() == null
                      ? ""
                      : " (" + f.cause().getCause().getMessage() + ")");
              refuse(
                  ctx,
                  MySqlError.BACKEND_UNAVAILABLE.code(),
                  MySqlError.BACKEND_UNAVAILABLE.sqlState(),
                  f.cause().getMessage());
            }
            return;
          }
          MySqlBackendConnection conn = connecting.getNow();
          if (!ctx.channel().isActive()) {
            conn.channel().close();
            return;
          }
          phase = Phase.DONE;
          log.debug(
              "[{}] COM_CHANGE_USER: {} -> {} on {}", l.name(), session, user, conn.node().name());
          ctx.writeAndFlush(frame(ctx, MySqlPackets.ok(ctx.alloc(), 0, 0, conn.status(), 0)));
          session.changedUser(entry, next);
          ctx.pipeline().remove(this);
          if (ownFrames) {
            ctx.pipeline().remove(FRAMES);
          }
          session.busy(false);
          session.rebind(conn, conn.status());
        });
  }

  private ByteBuf frame(ChannelHandlerContext ctx, ByteBuf payload) {
    seq = (seq + 1) & 0xff;
    return MySqlPackets.frame(ctx.alloc(), seq, payload);
  }

  /**
   * A failed change of user is answered as a failed login is: after the growing delay of {@code
   * AuthFailures} for the address and user (password guessing by COM_CHANGE_USER went at one try
   * per round trip), logged at most once a second per listener, the user's name cut short.
   */
  private void refuseLater(ChannelHandlerContext ctx, String why, String message) {
    session.listener().rejections().count("auth_failed");
    io.halo.proxy.session.AuthFailures failures = session.listener().authFailures();
    long suppressed = failures.admitLogLine(session.listener().name());
    if (suppressed >= 0) {
      log.info(
          "[{}] COM_CHANGE_USER: {} for user '{}' from {}{}",
          session.listener().name(),
          why,
          shortUser(),
          ctx.channel().remoteAddress(),
          io.halo.proxy.session.AuthFailures.suppressed(suppressed));
    }
    phase = Phase.REFUSING; // a guess pipelined behind this one is not checked meanwhile
    failures.answerLater(
        ctx.channel(),
        user,
        () ->
            refuse(
                ctx,
                MySqlError.ACCESS_DENIED.code(),
                MySqlError.ACCESS_DENIED.sqlState(),
                message));
  }

  /** The user's name as logs and errors show it: at most 80 characters (MariaDB's longest). */
  private String shortUser() {
    return user == null || user.length() <= 80 ? user : user.substring(0, 80) + "...";
  }

  /**
   * The change is refused: ERR (sequence id following the client's last packet), and the session
   * goes on as before on its old backend connection.
   */
  private void refuse(ChannelHandlerContext ctx, int code, String sqlState, String message) {
    if (phase == Phase.DONE) {
      return;
    }
    phase = Phase.DONE;
    if (!ctx.channel().isActive()) {
      return;
    }
    ctx.writeAndFlush(frame(ctx, MySqlPackets.err(ctx.alloc(), code, sqlState, message)));
    ctx.pipeline().remove(this);
    if (ownFrames) {
      ctx.pipeline().remove(FRAMES);
    }
    session.busy(false);
    ctx.channel().config().setAutoRead(true);
  }

  private void fail(ChannelHandlerContext ctx, MySqlError e, String message) {
    fail(ctx, e.code(), e.sqlState(), message);
  }

  private void fail(ChannelHandlerContext ctx, int code, String sqlState, String message) {
    if (phase == Phase.DONE) {
      return;
    }
    phase = Phase.DONE;
    ctx.channel().config().setAutoRead(false);
    ctx.writeAndFlush(frame(ctx, MySqlPackets.err(ctx.alloc(), code, sqlState, message)))
        .addListener(ChannelFutureListener.CLOSE);
  }

  @Override
  public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
    fail(ctx, MySqlError.BAD_HANDSHAKE, "Bad handshake: " + cause.getMessage());
  }
}

package io.halo.proxy.pg;

import io.halo.conf.model.StoredPassword;
import io.halo.health.state.BackendNode;
import io.halo.proxy.pg.auth.Md5;
import io.halo.proxy.pg.auth.Scram;
import io.halo.proxy.pg.auth.ScramClient;
import io.halo.proxy.pg.auth.ScramException;
import io.halo.proxy.pg.message.PgFrame;
import io.halo.proxy.pg.message.PgFrameDecoder;
import io.halo.proxy.pg.message.PgFrameError;
import io.halo.proxy.pg.message.PgMessages;
import io.halo.proxy.transport.Transports;
import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.EventLoop;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.Promise;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Opens an authenticated backend connection on a given event loop (the client's, so that the pair
 * never crosses threads). The whole of connect + startup + authentication is bounded by one
 * timeout. Halo logs in as a client: trust, clear-text, md5 or SCRAM-SHA-256, and checks the
 * backend's SCRAM server signature.
 */
final class PgBackendConnector {

  private PgBackendConnector() {}

  static Future<PgBackendConnection> connect(
      EventLoop loop,
      Transports transports,
      BackendNode node,
      String user,
      String password,
      Map<String, String> startupParameters,
      Duration timeout,
      int maxMessageSize,
      io.halo.proxy.pg.auth.ScramKeyCache scramKeys) {
    Promise<PgBackendConnection> promise = loop.newPromise();
    io.halo.proxy.transport.BackendTls.Backend tls = transports.backendTls().of(node.name());
    StartupHandler handler =
        new StartupHandler(node, user, password, startupParameters, promise, scramKeys, tls);
    io.halo.proxy.transport.BackendDial.open(
        transports,
        loop,
        node,
        timeout,
        promise,
        p -> {
          if (tls.enabled()) {
            p.addLast(
                "tls-request",
                new PgBackendTls(
                    tls, describe(node), node.address().host(), node.address().port()));
          }
          p.addLast("frames", PgFrameDecoder.forBackend(maxMessageSize));
          p.addLast("startup", handler);
        },
        (message, cause) -> new PgBackendException(SqlState.CANNOT_CONNECT.code(), message, cause),
        "startup");
    return promise;
  }

  /** The backend as clients may see it: its name (the log adds the address). */
  static String describe(BackendNode node) {
    return node.name();
  }

  private static String reason(Throwable t) {
    return t == null
        ? "unknown error"
        : t.getMessage() == null ? t.getClass().getSimpleName() : t.getMessage();
  }

  /** Drives the startup and authentication conversation with the backend. */
  private static final class StartupHandler extends ChannelInboundHandlerAdapter {
    private final BackendNode node;
    private final String user;
    private final String password;
    private final Map<String, String> parameters;
    private final Promise<PgBackendConnection> promise;
    private final io.halo.proxy.pg.auth.ScramKeyCache scramKeys;
    private final io.halo.proxy.transport.BackendTls.Backend tls;
    private final List<ByteBuf> startupMessages = new ArrayList<>();
    private ScramClient scram;
    private int processId;
    private int secret;

    StartupHandler(
        BackendNode node,
        String user,
        String password,
        Map<String, String> parameters,
        Promise<PgBackendConnection> promise,
        io.halo.proxy.pg.auth.ScramKeyCache scramKeys,
        io.halo.proxy.transport.BackendTls.Backend tls) {
      this.scramKeys = scramKeys;
      this.tls = tls;
      this.node = node;
      this.user = user;
      this.password = password;
      this.parameters = parameters;
      this.promise = promise;
    }

    @Override
    public void channelActive(ChannelHandlerContext ctx) {
      if (!tls.enabled()) {
        ctx.writeAndFlush(PgMessages.startupMessage(ctx.alloc(), parameters));
      } // else after PgBackendTls.Ready
      ctx.fireChannelActive();
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
      if (evt instanceof PgBackendTls.Ready) {
        ctx.writeAndFlush(PgMessages.startupMessage(ctx.alloc(), parameters));
      } else if (evt instanceof PgBackendTls.Refused r) {
        fail(ctx, SqlState.CANNOT_CONNECT.code(), r.message());
      } else {
        ctx.fireUserEventTriggered(evt);
      }
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
      if (msg instanceof PgFrameError e) {
        fail(
            ctx,
            SqlState.PROTOCOL_VIOLATION.code(),
            "backend " + describe(node) + " broke the protocol: " + e.message());
        return;
      }
      PgFrame frame = (PgFrame) msg;
      try {
        handle(ctx, frame.type(), frame.body());
      } catch (ScramException | RuntimeException e) {
        fail(
            ctx,
            SqlState.CANNOT_CONNECT.code(),
            "authentication with backend " + describe(node) + " failed: " + e.getMessage());
      } finally {
        frame.release();
      }
    }

    private void handle(ChannelHandlerContext ctx, byte type, ByteBuf body) throws ScramException {
      switch (type) {
        case 'R' -> authentication(ctx, body);
        case 'S', 'N' -> startupMessages.add(whole(ctx, type, body));
        case 'K' -> {
          processId = body.readInt();
          secret = body.readInt();
        }
        case 'Z' -> ready(ctx, body.readByte());
        case 'E' -> backendError(ctx, body);
        case 'v' -> {} // NegotiateProtocolVersion: Halo asks for plain 3.0 and no options.
        default ->
            fail(
                ctx,
                SqlState.PROTOCOL_VIOLATION.code(),
                "backend "
                    + describe(node)
                    + " sent unexpected message '"
                    + (char) type
                    + "' during startup");
      }
    }

    private void authentication(ChannelHandlerContext ctx, ByteBuf body) throws ScramException {
      int code = body.readInt();
      switch (code) {
        case PgMessages.AUTH_OK -> {}
        case PgMessages.AUTH_CLEARTEXT -> {
          requirePassword(code);
          if (StoredPassword.of(password).isVerifier()) {
            throw new ScramException(
                "backend asks for a clear-text password, but Halo holds only a verifier for this"
                    + " user; configure the backend for scram-sha-256 (or md5 with an md5 hash)");
          }
          if (!io.halo.proxy.transport.ServerTls.active(ctx.channel())
              && !tls.config().allowPlaintextPassword()) {
            throw new ScramException(
                "backend asks for the password in clear text over a connection without TLS;"
                    + " Halo refuses (use TLS to the backend, or set its"
                    + " tls.allow_plaintext_password)");
          }
          ctx.writeAndFlush(PgMessages.passwordMessage(ctx.alloc(), cstring(password)));
        }
        case PgMessages.AUTH_MD5 -> {
          requirePassword(code);
          byte[] salt = new byte[4];
          body.readBytes(salt);
          String stored =
              switch (StoredPassword.of(password)) {
                case PLAINTEXT -> Md5.stored(user, password);
                case MD5 -> password.toLowerCase(java.util.Locale.ROOT);
                default ->
                    throw new ScramException(
                        "backend asks for md5, but Halo holds only a SCRAM verifier for this user;"
                            + " configure the backend for scram-sha-256");
              };
          String response = Md5.response(stored, salt);
          ctx.writeAndFlush(PgMessages.passwordMessage(ctx.alloc(), cstring(response)));
        }
        case PgMessages.AUTH_SASL -> {
          requirePassword(code);
          List<String> mechanisms = new ArrayList<>();
          while (body.isReadable()) {
            String m = PgMessages.readCString(body);
            if (m.isEmpty()) {
              break;
            }
            mechanisms.add(m);
          }
          if (!mechanisms.contains(Scram.MECHANISM)) {
            throw new ScramException("backend offers only " + mechanisms);
          }
          scram = new ScramClient(password, scramKeys);
          ctx.writeAndFlush(
              PgMessages.saslInitialResponse(
                  ctx.alloc(),
                  Scram.MECHANISM,
                  scram.clientFirst().getBytes(StandardCharsets.UTF_8)));
        }
        case PgMessages.AUTH_SASL_CONTINUE -> {
          if (scram == null) {
            throw new ScramException("SASLContinue before SASL");
          }
          String serverFirst = body.toString(StandardCharsets.UTF_8);
          if (scram.needsDerivation(serverFirst)) {
            // PBKDF2 for a salt not seen yet: on the crypto pool, this connection paused meanwhile
            ScramClient client = scram;
            ctx.channel().config().setAutoRead(false);
            io.halo.proxy.session.CryptoPool.supply(
                    () -> {
                      client.derive(serverFirst);
                      return null;
                    })
                .whenComplete(
                    (ok, failure) ->
                        ctx.executor()
                            .execute(
                                () -> {
                                  if (failure != null) {
                                    fail(
                                        ctx,
                                        SqlState.CANNOT_CONNECT.code(),
                                        "authentication with backend "
                                            + describe(node)
                                            + " failed: "
                                            + failure.getMessage());
                                    return;
                                  }
                                  try {
                                    clientFinal(ctx, client, serverFirst);
                                    ctx.channel().config().setAutoRead(true);
                                  } catch (ScramException e) {
                                    fail(
                                        ctx,
                                        SqlState.CANNOT_CONNECT.code(),
                                        "authentication with backend "
                                            + describe(node)
                                            + " failed: "
                                            + e.getMessage());
                                  }
                                }));
          } else {
            clientFinal(ctx, scram, serverFirst);
          }
        }
        case PgMessages.AUTH_SASL_FINAL -> {
          if (scram == null) {
            throw new ScramException("SASLFinal before SASL");
          }
          scram.serverFinal(body.toString(StandardCharsets.UTF_8));
        }
        default ->
            throw new ScramException(
                "backend asks for authentication method " + code + ", which Halo does not support");
      }
    }

    private void clientFinal(ChannelHandlerContext ctx, ScramClient client, String serverFirst)
        throws ScramException {
      String reply = client.clientFinal(serverFirst);
      ctx.writeAndFlush(
          PgMessages.passwordMessage(ctx.alloc(), reply.getBytes(StandardCharsets.UTF_8)));
    }

    private void requirePassword(int code) throws ScramException {
      if (password == null) {
        throw new ScramException(
            "backend asks for a password (method "
                + code
                + ") but none is configured for backend user "
                + user);
      }
    }

    private void ready(ChannelHandlerContext ctx, byte status) {
      Channel ch = ctx.channel();
      ch.config().setAutoRead(false);
      ch.pipeline().remove(this);
      ch.pipeline().remove("frames");
      if (!promise.trySuccess(
          new PgBackendConnection(
              ch, node, List.copyOf(startupMessages), processId, secret, status))) {
        startupMessages.forEach(ByteBuf::release);
        ch.close();
      }
      startupMessages.clear();
    }

    private void backendError(ChannelHandlerContext ctx, ByteBuf body) {
      String code = SqlState.CANNOT_CONNECT.code();
      String message = "error";
      while (body.isReadable()) {
        byte field = body.readByte();
        if (field == 0) {
          break;
        }
        String value = PgMessages.readCString(body);
        if (field == 'C') {
          code = value;
        } else if (field == 'M') {
          message = value;
        }
      }
      if (io.halo.proxy.session.BackendText.pgLoginRefusal(code)) {
        // The backend's message names the backend user: it goes to the log only.
        startupMessages.forEach(ByteBuf::release);
        startupMessages.clear();
        promise.tryFailure(
            new PgBackendException(
                code,
                io.halo.proxy.session.BackendText.loginRefused(describe(node), code),
                new IllegalStateException("backend refused the session: " + message)));
        ctx.close();
        return;
      }
      fail(ctx, code, "backend " + describe(node) + " refused the session: " + message);
    }

    private void fail(ChannelHandlerContext ctx, String sqlState, String message) {
      startupMessages.forEach(ByteBuf::release);
      startupMessages.clear();
      promise.tryFailure(new PgBackendException(sqlState, message));
      ctx.close();
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
      fail(
          ctx,
          SqlState.CONNECTION_FAILURE.code(),
          "backend " + describe(node) + " closed the connection during startup");
      ctx.fireChannelInactive();
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
      fail(
          ctx,
          SqlState.CONNECTION_FAILURE.code(),
          "backend "
              + describe(node)
              + " connection failed during startup: "
              + io.halo.proxy.session.BackendText.reason(cause));
    }

    private static ByteBuf whole(ChannelHandlerContext ctx, byte type, ByteBuf body) {
      ByteBuf buf = ctx.alloc().buffer(5 + body.readableBytes());
      buf.writeByte(type)
          .writeInt(4 + body.readableBytes())
          .writeBytes(body, body.readerIndex(), body.readableBytes());
      return buf;
    }

    private static byte[] cstring(String s) {
      byte[] b = s.getBytes(StandardCharsets.UTF_8);
      byte[] out = new byte[b.length + 1];
      System.arraycopy(b, 0, out, 0, b.length);
      return out;
    }
  }
}

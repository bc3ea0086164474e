package io.halo.proxy.mysql;

import io.halo.health.state.BackendNode;
import io.halo.proxy.mysql.auth.MySqlAuth;
import io.halo.proxy.mysql.packet.HandshakeResponse;
import io.halo.proxy.mysql.packet.MySqlCapabilities;
import io.halo.proxy.mysql.packet.MySqlPacket;
import io.halo.proxy.mysql.packet.MySqlPacketDecoder;
import io.halo.proxy.mysql.packet.MySqlPackets;
import io.halo.proxy.mysql.packet.ServerGreeting;
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
import java.util.Map;

/**
 * Opens an authenticated MySQL/MariaDB backend connection on the client's event loop. Halo logs in
 * as a client with mysql_native_password or caching_sha2_password (fast path, or full
 * authentication over TLS or with the server's pinned RSA public key), following auth-switch
 * requests. Capabilities sent are the client's, limited to what Halo and the backend support.
 * Connect + login is bounded by one timeout.
 *
 * <p>Size: MySQL's backend login conversation (greeting, TLS, native, caching_sha2 fast and full
 * with RSA, ed25519, passthrough) is one protocol state machine; the dial is the shared
 * BackendDial.
 */
final class MySqlBackendConnector {

  private MySqlBackendConnector() {}

  /**
   * The backend answered with an ERR packet; the client gets it, prefixed with the backend name.
   */
  static final class BackendRefused extends Exception {
    private final int code;
    private final String sqlState;

    BackendRefused(int code, String sqlState, String message, Throwable detail) {
      super(message, detail);
      this.code = code;
      this.sqlState = sqlState;
    }

    int code() {
      return code;
    }

    String sqlState() {
      return sqlState;
    }
  }

  static Future<MySqlBackendConnection> connect(
      EventLoop loop,
      Transports transports,
      BackendNode node,
      String user,
      String password,
      HandshakeResponse client,
      int haloCapabilities,
      Duration timeout,
      long maxPacket) {
    Promise<MySqlBackendConnection> promise = loop.newPromise();
    open(
        loop,
        transports,
        node,
        timeout,
        maxPacket,
        promise,
        new Login(
            node,
            user,
            password,
            client,
            haloCapabilities,
            promise,
            transports.backendTls().of(node.name())));
    return promise;
  }

  /**
   * Only the backend's greeting (server version, capabilities), for Halo's own greeting before any
   * backend login has shown them; the connection is closed once the greeting is read.
   */
  static Future<ServerGreeting> greeting(
      EventLoop loop, Transports transports, BackendNode node, Duration timeout) {
    Promise<ServerGreeting> promise = loop.newPromise();
    open(
        loop,
        transports,
        node,
        timeout,
        1 << 10,
        promise,
        new ChannelInboundHandlerAdapter() {
          @Override
          public void channelRead(ChannelHandlerContext ctx, Object msg) {
            MySqlPacket p = (MySqlPacket) msg;
            try {
              ByteBuf b = p.payload();
              if (b.isReadable() && b.getUnsignedByte(b.readerIndex()) == 0xff) {
                promise.tryFailure(
                    new IllegalStateException(
                        "backend " + describe(node) + " refused the connection"));
              } else {
                promise.trySuccess(ServerGreeting.decode(b));
              }
            } catch (IllegalArgumentException e) {
              promise.tryFailure(
                  new IllegalStateException(
                      "backend " + describe(node) + ": " + e.getMessage(), e));
            } finally {
              p.release();
              ctx.close();
            }
          }

          @Override
          public void channelInactive(ChannelHandlerContext ctx) {
            promise.tryFailure(
                new IllegalStateException("backend " + describe(node) + " closed the connection"));
            ctx.fireChannelInactive();
          }

          @Override
          public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            promise.tryFailure(
                new IllegalStateException(
                    "backend " + describe(node) + ": " + cause.getMessage(), cause));
            ctx.close();
          }
        });
    return promise;
  }

  private static <T> void open(
      EventLoop loop,
      Transports transports,
      BackendNode node,
      Duration timeout,
      long maxPacket,
      Promise<T> promise,
      io.netty.channel.ChannelHandler handler) {
    io.halo.proxy.transport.BackendDial.open(
        transports,
        loop,
        node,
        timeout,
        promise,
        p -> {
          p.addLast("frames", new MySqlPacketDecoder(maxPacket));
          p.addLast("login", handler);
        },
        IllegalStateException::new,
        "the login");
  }

  /** The backend as clients may see it: its name (the log adds the address, BackendText.forLog). */
  static String describe(BackendNode node) {
    return node.name();
  }

  /** The login conversation with the backend. */
  private static final class Login extends ChannelInboundHandlerAdapter {
    private final BackendNode node;
    private final String user;
    private final String password;
    private final HandshakeResponse client;
    private final int haloCapabilities;
    private final Promise<MySqlBackendConnection> promise;
    private final io.halo.proxy.transport.BackendTls.Backend tls;
    private byte[] scramble;
    private String plugin;
    private long threadId;
    private ServerGreeting greeting;
    private int seq;

    Login(
        BackendNode node,
        String user,
        String password,
        HandshakeResponse client,
        int haloCapabilities,
        Promise<MySqlBackendConnection> promise,
        io.halo.proxy.transport.BackendTls.Backend tls) {
      this.tls = tls;
      this.node = node;
      this.user = user;
      this.password = password == null ? "" : password;
      this.client = client;
      this.haloCapabilities = haloCapabilities;
      this.promise = promise;
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
      MySqlPacket p = (MySqlPacket) msg;
      try {
        seq = p.sequenceId();
        ByteBuf b = p.payload();
        int first = b.getUnsignedByte(b.readerIndex());
        if (first == 0xff) {
          b.skipBytes(1);
          int code = b.readUnsignedShortLE();
          String state = "HY000";
          if (b.isReadable() && b.getByte(b.readerIndex()) == '#') {
            state = b.toString(b.readerIndex() + 1, 5, StandardCharsets.US_ASCII);
            b.skipBytes(6);
          }
          String message = b.toString(StandardCharsets.UTF_8);
          fail(
              ctx,
              io.halo.proxy.session.BackendText.mysqlLoginRefusal(code)
                  // The backend's message names the backend user and Halo's host: the log only.
                  ? new BackendRefused(
                      code,
                      state,
                      io.halo.proxy.session.BackendText.loginRefused(node.name(), "error " + code),
                      new IllegalStateException(message))
                  : new BackendRefused(
                      code,
                      state,
                      "backend " + node.name() + " refused the session: " + message,
                      null));
        } else if (scramble == null) {
          greeting(ctx, b);
        } else if (first == 0x00) {
          b.skipBytes(1);
          MySqlPackets.readLenenc(b);
          MySqlPackets.readLenenc(b);
          int status = b.readUnsignedShortLE();
          Channel ch = ctx.channel();
          ch.config().setAutoRead(false);
          ch.pipeline().remove(this);
          ch.pipeline().remove("frames");
          if (!promise.trySuccess(
              new MySqlBackendConnection(ch, node, threadId, status, greeting))) {
            ch.close();
          }
        } else if (first == 0xfe) {
          b.skipBytes(1);
          plugin = MySqlPackets.readCString(b);
          // 20 bytes of scramble (and a NUL) for the password plugins, a 32-byte nonce for ed25519
          byte[] data =
              new byte[Math.min(MySqlAuth.ED25519.equals(plugin) ? 32 : 20, b.readableBytes())];
          b.readBytes(data);
          scramble = data;
          if (MySqlAuth.ED25519.equals(plugin)) {
            byte[] nonce = scramble;
            offload(
                ctx,
                () ->
                    MySqlAuth.token(
                        MySqlAuth.ED25519, password, nonce)); // about a millisecond of signing
          } else {
            respond(ctx, token());
          }
        } else if (first == 0x01) {
          b.skipBytes(1);
          moreData(ctx, b);
        } else {
          fail(
              ctx,
              new IllegalStateException(
                  "backend "
                      + describe(node)
                      + " sent an unexpected login packet 0x"
                      + Integer.toHexString(first)));
        }
      } catch (RuntimeException e) {
        fail(
            ctx,
            new IllegalStateException(
                "login to backend " + describe(node) + " failed: " + e.getMessage(), e));
      } finally {
        p.release();
      }
    }

    private void greeting(ChannelHandlerContext ctx, ByteBuf b) {
      greeting = ServerGreeting.decode(b);
      threadId = greeting.threadId();
      int caps = greeting.capabilities();
      scramble = greeting.scramble();
      plugin = greeting.authPlugin();
      int framing = MySqlPackets.CLIENT_DEPRECATE_EOF | MySqlPackets.CLIENT_SESSION_TRACK;
      int missing = client.capabilities() & haloCapabilities & framing & ~caps;
      if (missing != 0) {
        // The client already negotiated these with Halo; a backend without them frames results
        // differently, and the relay passes bytes unchanged.
        throw new IllegalArgumentException(
            "backend lacks capabilities 0x"
                + Integer.toHexString(missing)
                + " (DEPRECATE_EOF / SESSION_TRACK) that the client negotiated; Halo needs MySQL 5.7+ or MariaDB 10.2+");
      }
      byte[] token = token();
      int use =
          (client.capabilities() & haloCapabilities & caps)
              | MySqlPackets.CLIENT_PROTOCOL_41
              | MySqlPackets.CLIENT_SECURE_CONNECTION
              | MySqlPackets.CLIENT_PLUGIN_AUTH;
      if (client.database() == null || client.database().isEmpty()) {
        use &= ~MySqlPackets.CLIENT_CONNECT_WITH_DB;
      } else {
        use |= MySqlPackets.CLIENT_CONNECT_WITH_DB & caps;
      }
      boolean upgrade = tls.enabled() && (caps & MySqlPackets.CLIENT_SSL) != 0;
      if (tls.required() && !upgrade) {
        throw new IllegalArgumentException(
            "backend does not offer TLS, and its tls mode is " + tls.config().mode().yamlName());
      }
      if (upgrade) {
        use |= MySqlPackets.CLIENT_SSL;
      }
      // MariaDB's extended capabilities, read by the server when CLIENT_MYSQL is clear (as it is
      // when the backend cleared it: 'use' only keeps bits the backend offered)
      int ext =
          (use & MySqlPackets.CLIENT_MYSQL) == 0
              ? client.mariaDbCapabilities()
                  & MySqlCapabilities.MARIADB_RELAYED
                  & greeting.mariaDbCapabilities()
              : 0;
      ByteBuf r = ctx.alloc().buffer(128);
      r.writeIntLE(use).writeIntLE(1 << 24).writeByte(client.charset()).writeZero(19);
      r.writeIntLE(ext);
      r.writeCharSequence(user, StandardCharsets.UTF_8);
      r.writeByte(0);
      if ((use & MySqlPackets.CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA) != 0) {
        MySqlPackets.lenenc(r, token.length);
      } else {
        r.writeByte(token.length);
      }
      r.writeBytes(token);
      if ((use & MySqlPackets.CLIENT_CONNECT_WITH_DB) != 0) {
        r.writeCharSequence(client.database(), StandardCharsets.UTF_8);
        r.writeByte(0);
      }
      r.writeCharSequence(plugin, StandardCharsets.US_ASCII);
      r.writeByte(0);
      if ((use & MySqlPackets.CLIENT_CONNECT_ATTRS) != 0) {
        ByteBuf attrs = ctx.alloc().buffer();
        for (Map.Entry<String, String> e : client.attributes().entrySet()) {
          lenencString(attrs, e.getKey());
          lenencString(attrs, e.getValue());
        }
        MySqlPackets.lenenc(r, attrs.readableBytes());
        r.writeBytes(attrs);
        attrs.release();
      }
      if (!upgrade) {
        send(ctx, r);
        return;
      }
      // SSL request: the first 32 bytes of the response, then TLS, then the whole response.
      send(ctx, r.retainedSlice(0, 32));
      io.netty.handler.ssl.SslHandler ssl =
          tls.newHandler(ctx.alloc(), node.address().host(), node.address().port());
      ctx.pipeline().addFirst("tls", ssl);
      ssl.handshakeFuture()
          .addListener(
              f -> {
                if (f.isSuccess() && ctx.channel().isActive()) {
                  send(ctx, r);
                } else {
                  r.release(); // the failure reaches exceptionCaught
                }
              });
    }

    private byte[] token() {
      byte[] t = MySqlAuth.token(plugin, password, scramble);
      if (t == null) {
        throw new IllegalArgumentException(
            "backend asks for authentication plugin " + plugin + ", which Halo does not speak yet");
      }
      return t;
    }

    /**
     * caching_sha2_password's answers after the scramble: fast auth success (0x03), or full
     * authentication needed (0x04). Full authentication sends the password over TLS as it is, or
     * without TLS RSA-encrypted with the backend's pinned public key ({@code
     * tls.server_public_key}). Halo never asks the server for its key (0x02): over plaintext a man
     * in the middle would answer with his own and read the password.
     */
    private void moreData(ChannelHandlerContext ctx, ByteBuf b) {
      int status = b.readUnsignedByte();
      if (status == 0x03) {
        return; // fast auth success; the OK follows
      }
      if (status == 0x04 && io.halo.proxy.transport.ServerTls.active(ctx.channel())) {
        // Full authentication over TLS: the password itself, as MySQL's own clients send it.
        byte[] pw = password.getBytes(StandardCharsets.UTF_8);
        respond(ctx, java.util.Arrays.copyOf(pw, pw.length + 1));
        return;
      }
      if (status == 0x04 && tls.serverPublicKey() != null) {
        byte[] nonce = scramble;
        java.security.PublicKey key = tls.serverPublicKey();
        offload(ctx, () -> MySqlAuth.rsaEncryptedPassword(password, nonce, key));
        return;
      }
      if (status == 0x04) {
        throw new IllegalArgumentException(
            "the backend asks for caching_sha2_password full authentication, which sends the"
                + " password, over a connection without TLS; Halo sends it only over TLS or"
                + " encrypted with a pinned RSA key, never with a key fetched in plaintext: set"
                + " tls.mode (require or verify-full) or tls.server_public_key for this backend");
      }
      throw new IllegalArgumentException("unexpected caching_sha2_password state " + status);
    }

    /**
     * Public-key work of a backend login (Ed25519 signing, RSA-OAEP) runs on the crypto pool, the
     * connection paused meanwhile; the answer is sent from its event loop.
     */
    private void offload(ChannelHandlerContext ctx, java.util.concurrent.Callable<byte[]> work) {
      ctx.channel().config().setAutoRead(false);
      io.halo.proxy.session.CryptoPool.supply(work)
          .whenComplete(
              (data, failure) ->
                  ctx.executor()
                      .execute(
                          () -> {
                            if (failure != null) {
                              fail(
                                  ctx,
                                  new IllegalStateException(
                                      "login to backend "
                                          + describe(node)
                                          + " failed: "
                                          + failure.getMessage(),
                                      failure));
                              return;
                            }
                            respond(ctx, data);
                            ctx.channel().config().setAutoRead(true);
                          }));
    }

    private void respond(ChannelHandlerContext ctx, byte[] data) {
      send(ctx, ctx.alloc().buffer(data.length).writeBytes(data));
    }

    private void send(ChannelHandlerContext ctx, ByteBuf payload) {
      seq = (seq + 1) & 0xff;
      ctx.writeAndFlush(MySqlPackets.frame(ctx.alloc(), seq, payload));
    }

    private static void lenencString(ByteBuf b, String s) {
      byte[] bytes = s.getBytes(StandardCharsets.UTF_8);
      MySqlPackets.lenenc(b, bytes.length);
      b.writeBytes(bytes);
    }

    private void fail(ChannelHandlerContext ctx, Throwable cause) {
      promise.tryFailure(cause);
      ctx.close();
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
      fail(
          ctx,
          new IllegalStateException(
              "backend " + describe(node) + " closed the connection during login"));
      ctx.fireChannelInactive();
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
      fail(
          ctx,
          new IllegalStateException(
              "backend " + describe(node) + " login failed: " + cause.getMessage(), cause));
    }
  }
}

package io.halo.proxy.mysql;

import io.halo.proxy.mysql.packet.MySqlPackets;
import io.halo.proxy.session.SessionPool;
import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import java.nio.charset.StandardCharsets;
import java.util.function.Consumer;

/**
 * MySQL's part of session pooling ({@link SessionPool}): a connection given back is reset with
 * {@code COM_RESET_CONNECTION} (rolls back, drops temporary tables, user variables, prepared
 * statements and locks, session variables back to their global values) followed by {@code
 * COM_INIT_DB} of its login's database (the reset leaves the current database as the session left
 * it); the check after idleness is {@code COM_PING}; the goodbye is {@code COM_QUIT}.
 */
final class MySqlPool {

  /** The replies of a reset or check are a few OK packets; more bytes than this are refused. */
  private static final int MAX_REPLY = 64 * 1024;

  private MySqlPool() {}

  /**
   * What a pooled connection shares with the sessions it may serve: the backend, the backend user,
   * the login's database, character set, and the capabilities the login asked for (they fix the
   * protocol the client and the server speak through the relay).
   */
  record Key(
      String backend,
      String user,
      String database,
      int collation,
      int capabilities,
      int mariaDbCapabilities)
      implements SessionPool.Key {}

  static SessionPool<Key, MySqlBackendConnection> create(io.halo.conf.model.PoolConfig config) {
    return new SessionPool<>(config, ENGINE);
  }

  private static final SessionPool.Engine<Key, MySqlBackendConnection> ENGINE =
      new SessionPool.Engine<>() {
        @Override
        public Channel channel(MySqlBackendConnection c) {
          return c.channel();
        }

        @Override
        public void reset(
            MySqlBackendConnection c, Key key, Consumer<MySqlBackendConnection> done) {
          Channel ch = c.channel();
          ByteBuf reset =
              MySqlPackets.frame(
                  ch.alloc(), 0, ch.alloc().buffer(1).writeByte(MySqlPackets.COM_RESET_CONNECTION));
          if (key.database().isEmpty()) {
            Exchange.run(c, 1, done, reset);
            return;
          }
          byte[] db = key.database().getBytes(StandardCharsets.UTF_8);
          ByteBuf initDb =
              MySqlPackets.frame(
                  ch.alloc(),
                  0,
                  ch.alloc()
                      .buffer(1 + db.length)
                      .writeByte(MySqlPackets.COM_INIT_DB)
                      .writeBytes(db));
          Exchange.run(c, 2, done, reset, initDb);
        }

        @Override
        public void check(MySqlBackendConnection c, Consumer<MySqlBackendConnection> done) {
          Channel ch = c.channel();
          Exchange.run(
              c,
              1,
              done,
              MySqlPackets.frame(
                  ch.alloc(), 0, ch.alloc().buffer(1).writeByte(MySqlPackets.COM_PING)));
        }

        @Override
        public void quit(Channel ch) {
          if (ch.isActive()) {
            ch.writeAndFlush(
                    MySqlPackets.frame(
                        ch.alloc(), 0, ch.alloc().buffer(1).writeByte(MySqlPackets.COM_QUIT)))
                .addListener(ChannelFutureListener.CLOSE);
          } else {
            ch.close();
          }
        }
      };

  /**
   * Commands sent to a connection no session has, each answered by one packet, judged once ({@link
   * io.halo.proxy.session.PoolExchange}): every reply an OK. The connection handed on carries the
   * server status of the last OK.
   */
  private static final class Exchange extends io.halo.proxy.session.PoolExchange {
    private final MySqlBackendConnection connection;
    private final Consumer<MySqlBackendConnection> done;
    private int expected;
    private ByteBuf received;
    private int status = -1;

    private Exchange(
        MySqlBackendConnection connection, int expected, Consumer<MySqlBackendConnection> done) {
      this.connection = connection;
      this.expected = expected;
      this.done = done;
    }

    static void run(
        MySqlBackendConnection c,
        int replies,
        Consumer<MySqlBackendConnection> done,
        ByteBuf... commands) {
      new Exchange(c, replies, done).start(c.channel(), (Object[]) commands);
    }

    @Override
    protected void read(ChannelHandlerContext ctx, Object msg) {
      if (!(msg instanceof ByteBuf buf)) {
        judge(ctx.channel(), false);
        return;
      }
      int before = received == null ? 0 : received.readableBytes();
      if (before + buf.readableBytes() > MAX_REPLY) {
        judge(ctx.channel(), false); // checked before any allocation
        return;
      }
      if (received == null) {
        received = ctx.alloc().buffer(Math.max(64, buf.readableBytes()));
      }
      received.writeBytes(buf);
      while (received.readableBytes() >= 4) {
        int r = received.readerIndex();
        int length = received.getUnsignedMediumLE(r);
        if (received.readableBytes() < 4 + length) {
          return; // the rest of the packet comes with a later read
        }
        ByteBuf payload = received.readSlice(4 + length).skipBytes(4);
        status = okStatus(payload);
        if (status < 0) {
          judge(ctx.channel(), false);
          return;
        }
        if (--expected == 0) {
          // nothing may follow the last reply: a server that sends more is not trusted
          judge(ctx.channel(), !received.isReadable());
          return;
        }
      }
    }

    /** The status flags of an OK packet, or -1 for anything else (an ERR, a malformed packet). */
    private static int okStatus(ByteBuf p) {
      if (p.readableBytes() < 7 || p.readUnsignedByte() != 0x00) {
        return -1;
      }
      try {
        MySqlPackets.readLenenc(p); // affected rows
        MySqlPackets.readLenenc(p); // last insert id
        return p.readableBytes() >= 2 ? p.readUnsignedShortLE() : -1;
      } catch (IndexOutOfBoundsException e) {
        return -1;
      }
    }

    @Override
    protected void judged(Channel ch, boolean ok) {
      done.accept(
          ok
              ? new MySqlBackendConnection(
                  ch, connection.node(), connection.threadId(), status, connection.greeting())
              : null);
    }

    @Override
    public void handlerRemoved(ChannelHandlerContext ctx) {
      if (received != null) {
        received.release();
        received = null;
      }
    }

    @Override
    public String toString() {
      return "the pool's " + expected + " command(s)";
    }
  }
}

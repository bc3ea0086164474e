package io.halo.proxy.mysql;

import io.halo.conf.model.PoolConfig;
import io.halo.proxy.mysql.packet.MySqlPackets;
import io.halo.proxy.session.Admission;
import io.halo.proxy.session.SessionPool;
import io.halo.proxy.session.TransactionPool;
import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.EventLoop;
import io.netty.util.AttributeKey;
import io.netty.util.concurrent.Future;
import java.nio.charset.StandardCharsets;
import java.util.function.Consumer;
import java.util.function.Supplier;

/**
 * MySQL's part of pooling one listener. Session mode ({@link SessionPool}): a connection given back
 * is reset with {@code COM_RESET_CONNECTION} (rolls back, drops temporary tables, user variables,
 * prepared statements and locks, session variables back to their global values) followed by {@code
 * COM_INIT_DB} of its login's database (the reset leaves the current database as the session left
 * it). Transaction mode ({@link TransactionPool}): sessions check a connection out per transaction;
 * one that another session's settings changed is reset the same way before a session whose settings
 * differ gets it ({@link MySqlSplitRelay}). The check after idleness is {@code COM_PING}; the
 * goodbye is {@code COM_QUIT}.
 */
public final class MySqlPool {

  /** The replies of a reset or check are a few OK packets; more bytes than this are refused. */
  private static final int MAX_REPLY = 64 * 1024;

  /** What a transaction-mode connection's login said, for the sessions that reuse it. */
  private static final AttributeKey<MySqlBackendConnection> ORIGIN =
      AttributeKey.valueOf("halo.mysql.pool.origin");

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

  private final PoolConfig config;
  private final SessionPool<Key, MySqlBackendConnection> sessions;
  private final TransactionPool<Key, MySqlBackendConnection, MySqlBackendConnection> tx;

  /**
   * @param loops the event loops sessions run on: transaction mode shares {@code size} out among
   *     them
   * @param admission the cluster's admission (transaction mode's connections hold its permits);
   *     null in unit tests
   */
  MySqlPool(PoolConfig config, int loops, Admission admission) {
    this.config = config;
    this.sessions = new SessionPool<>(config, ENGINE);
    this.tx = new TransactionPool<>(config, loops, admission, TX_ENGINE);
  }

  /**
   * Takes a reloaded {@code pool:} of the listener: its mode and {@code max_prepared_statements}
   * stay (a restart changes them), the sizes and timeouts apply now ({@link
   * TransactionPool#reconfigure}). Any thread.
   */
  public void reconfigure(PoolConfig next) {
    sessions.reconfigure(next);
    tx.reconfigure(next);
  }

  /** Transaction mode: {@code idle_transaction_timeout} now (a reload changes it); 0: none. */
  long idleTransactionNanos() {
    return tx.idleTransactionNanos();
  }

  public boolean enabled() {
    return config.pooled();
  }

  /** {@code pool_mode: transaction}. */
  public boolean multiplexed() {
    return config.multiplexed();
  }

  /** Session mode: an idle connection for {@code key}, else {@code login} ({@link SessionPool}). */
  Future<MySqlBackendConnection> acquire(
      EventLoop loop, Key key, Supplier<Future<MySqlBackendConnection>> login) {
    return sessions.acquire(loop, key, login);
  }

  /** Session mode: a login made outside {@link #acquire} becomes the pool's. */
  Future<MySqlBackendConnection> adopt(Future<MySqlBackendConnection> connecting) {
    return sessions.adopt(connecting);
  }

  /** Session mode: a session ended between transactions on {@code ch}. */
  void giveBack(Channel ch, Key key) {
    sessions.giveBack(ch, key);
  }

  /** Transaction mode: a connection for a transaction ({@link TransactionPool#checkout}). */
  Future<MySqlBackendConnection> checkout(
      EventLoop loop, Key key, Supplier<Future<MySqlBackendConnection>> login) {
    return tx.checkout(loop, key, login);
  }

  /**
   * As above, preferring the idle connection {@code last} (the session's previous one), its slot
   * found through {@code place} (the session's memo).
   */
  Future<MySqlBackendConnection> checkout(
      EventLoop loop,
      Key key,
      Supplier<Future<MySqlBackendConnection>> login,
      Channel last,
      TransactionPool.Place place) {
    return tx.checkout(loop, key, login, last, place);
  }

  /**
   * Transaction mode: a login that needs no backend connection yet (as PostgreSQL's, and as
   * PgBouncer answers logins): what an earlier login of {@code key} on {@code loop} said, with no
   * channel; null when no connection of the key has logged in there since the last epoch. The
   * session checks a connection out for its first command. On {@code loop} only.
   */
  MySqlBackendConnection loginWithoutConnection(EventLoop loop, Key key) {
    return tx.memo(loop, key);
  }

  /**
   * Transaction mode: a session is done with {@code ch} between transactions (its handlers and
   * decoder removed; what settings it left on the connection noted there by the session).
   */
  void checkin(Channel ch) {
    tx.checkin(ch);
  }

  /**
   * Transaction mode: brings a checked-out connection back to its login's state ({@code
   * COM_RESET_CONNECTION}, {@code COM_INIT_DB}), as session mode does on give-back; {@code done}
   * gets the connection, or null when it failed (the caller closes it).
   */
  void reset(MySqlBackendConnection c, Key key, Consumer<MySqlBackendConnection> done) {
    ENGINE.reset(c, key, done);
  }

  /** Health writer thread: a new epoch or a fence empties both modes' idle connections. */
  public void onTopology(io.halo.health.state.Topology t) {
    tx.onTopology(t, sessions.onTopology(t));
  }

  /** The admin view of this pool. */
  public io.halo.proxy.admin.ProxyView.PoolView view(String listener, String cluster) {
    return tx.view(listener, cluster, sessions);
  }

  /** Halo is stopping: nothing more is kept idle or logged in ahead (any thread). */
  public void stop() {
    sessions.stop();
    tx.stop();
  }

  /** Releases what the pool keeps beside connections (after the event loops stopped). */
  public void close() {
    tx.close();
  }

  private static final TransactionPool.Engine<MySqlBackendConnection, MySqlBackendConnection>
      TX_ENGINE =
          new TransactionPool.Engine<>() {
            @Override
            public Channel channel(MySqlBackendConnection c) {
              return c.channel();
            }

            @Override
            public void check(Channel ch, Consumer<Boolean> done) {
              MySqlBackendConnection c = lend(ch, false);
              if (c == null) {
                done.accept(false);
                return;
              }
              ENGINE.check(c, checked -> done.accept(checked != null));
            }

            @Override
            public void quit(Channel ch) {
              ENGINE.quit(ch);
            }

            @Override
            public void adopted(MySqlBackendConnection fresh) {
              fresh.channel().attr(ORIGIN).set(fresh);
            }

            @Override
            public MySqlBackendConnection lend(Channel ch, boolean login) {
              MySqlBackendConnection o = ch.attr(ORIGIN).get();
              return o == null
                  ? null
                  : new MySqlBackendConnection(
                      ch, o.node(), o.threadId(), pooledStatus(o), o.greeting());
            }

            /**
             * What a login without a connection says: the key's first login's greeting, no thread.
             */
            @Override
            public MySqlBackendConnection memo(MySqlBackendConnection fresh) {
              return new MySqlBackendConnection(
                  null, fresh.node(), 0, pooledStatus(fresh), fresh.greeting());
            }
          };

  /**
   * The server status a login on a pooled connection says: autocommit on (between transactions; a
   * session that turned it off keeps its own connection), and what the connection's own login said
   * of backslashes ({@code NO_BACKSLASH_ESCAPES} in the server's sql_mode): a client library
   * escapes strings by that flag (libmysqlclient's {@code mysql_real_escape_string}), and the split
   * engine reads string literals by it.
   */
  private static int pooledStatus(MySqlBackendConnection origin) {
    return MySqlPackets.SERVER_STATUS_AUTOCOMMIT
        | (origin.status() & MySqlPackets.SERVER_STATUS_NO_BACKSLASH_ESCAPES);
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
          ch.attr(MySqlStatements.ON_CONNECTION).set(null); // the reset deallocates them
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
      if (msg instanceof io.halo.proxy.mysql.packet.MySqlPacket p) {
        // a transaction-mode connection keeps its packet decoder between transactions
        reply(ctx, p.payload(), false);
        return;
      }
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
        if (reply(ctx, payload, received.isReadable())) {
          return;
        }
      }
    }

    /**
     * One reply packet's payload; {@code more}: bytes follow it in the same read. True once judged.
     */
    private boolean reply(ChannelHandlerContext ctx, ByteBuf payload, boolean more) {
      status = okStatus(payload);
      if (status < 0) {
        judge(ctx.channel(), false);
        return true;
      }
      if (--expected == 0) {
        // nothing may follow the last reply: a server that sends more is not trusted
        judge(ctx.channel(), !more);
        return true;
      }
      return false;
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

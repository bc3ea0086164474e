package io.halo.proxy.pg;

import io.halo.conf.model.PoolConfig;
import io.halo.health.state.BackendNode;
import io.halo.health.state.Topology;
import io.halo.proxy.pg.message.PgMessages;
import io.halo.proxy.pg.message.PgStreamScanner;
import io.halo.proxy.session.TransactionPool;
import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.EventLoop;
import io.netty.util.AttributeKey;
import io.netty.util.concurrent.Future;
import java.util.List;
import java.util.Map;

/**
 * PostgreSQL's part of pooling one listener. Session mode ({@code pool_mode: session}, as
 * PgBouncer's, {@link io.halo.proxy.session.SessionPool}): a client session that ends between
 * transactions gives its backend connection back; Halo resets it with {@code DISCARD ALL} and keeps
 * it idle; the next session for the same backend and startup parameters (which hold the user and
 * database) takes it instead of logging in, and gets the ParameterStatus messages and cancel key of
 * that connection's own login. Transaction mode ({@link TransactionPool}): sessions check a
 * connection out per transaction; a login needs none once a connection of its key has logged in.
 *
 * <p>A connection carries what its login said ({@link Origin}, a channel attribute) for the clients
 * that reuse it. The check of a connection idle longer than {@code check_after} is an empty query
 * (PgBouncer's {@code server_check_delay}); the goodbye is Terminate.
 */
public final class PgPool {

  /** What a pooled connection's login said, for every client that reuses it. */
  private static final AttributeKey<Origin> ORIGIN = AttributeKey.valueOf("halo.pg.pool.origin");

  /**
   * A pooled connection's login: its node, its login's messages, its cancel key, and what a
   * transaction's checkout lends (made once: every transaction of a pooled session takes one).
   */
  private record Origin(
      BackendNode node,
      ByteBuf startupMessages,
      int processId,
      int secret,
      PgBackendConnection lent) {}

  /** A pool key; its hash is computed once (every login and every give-back looks one up). */
  static final class Key implements io.halo.proxy.session.SessionPool.Key {
    private final String backend;
    private final Map<String, String> parameters;
    private final int hash;

    Key(String backend, Map<String, String> parameters) {
      this.backend = backend;
      this.parameters = parameters;
      this.hash = 31 * backend.hashCode() + parameters.hashCode();
    }

    @Override
    public String backend() {
      return backend;
    }

    @Override
    public boolean equals(Object o) {
      // a HashMap compares keys by identity first, and a map its entries after its own identity:
      // with canonical parameters (PgPool.canonical) a checkout compares no entry
      return o instanceof Key k
          && k.hash == hash
          && k.backend.equals(backend)
          && k.parameters.equals(parameters);
    }

    @Override
    public int hashCode() {
      return hash;
    }
  }

  /** At most this many distinct startup parameter sets are made canonical ({@link #canonical}). */
  static final int MAX_CANONICAL_PARAMETER_SETS = 1_024;

  private final Map<Map<String, String>, Map<String, String>> parameterSets =
      new java.util.concurrent.ConcurrentHashMap<>();

  private final PoolConfig config;

  /** Session mode: the connections sessions gave back (the protocol-neutral part). */
  private final io.halo.proxy.session.SessionPool<Key, PgBackendConnection> sessions;

  /** Transaction mode: the connections sessions check out per transaction. */
  private final TransactionPool<Key, PgBackendConnection, ByteBuf> tx;

  PgPool(PoolConfig config) {
    this(config, 1, null);
  }

  /**
   * @param loops the event loops sessions run on: transaction mode shares {@code size} out among
   *     them
   * @param admission the cluster's admission: transaction mode's connections count against {@code
   *     throttle.max_connections} across keys
   */
  PgPool(PoolConfig config, int loops, io.halo.proxy.session.Admission admission) {
    this.config = config;
    this.sessions = new io.halo.proxy.session.SessionPool<>(config, new SessionEngine());
    this.tx = new TransactionPool<>(config, loops, admission, new TxEngine());
  }

  /** Transaction mode: sessions hold a backend connection only while a transaction runs. */
  public boolean multiplexed() {
    return config.multiplexed();
  }

  /** Transaction mode: protocol-level prepared statements kept per backend connection at most. */
  int maxPreparedStatements() {
    return config.maxPreparedStatements();
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

  /** Sessions that took a pooled connection instead of logging in. */
  long reused() {
    return tx.reused() + sessions.reused();
  }

  /** Backend logins of this listener's sessions while pooling. */
  long opened() {
    return tx.opened() + sessions.opened();
  }

  /** Connections given back, reset and kept. */
  long returned() {
    return tx.returned() + sessions.returned();
  }

  /** Idle connections in the pool now (all event loops). */
  int idle() {
    return tx.idle() + sessions.idle();
  }

  /** The admin view of this pool. */
  public io.halo.proxy.admin.ProxyView.PoolView view(String listener, String cluster) {
    return tx.view(listener, cluster, sessions);
  }

  /**
   * Session mode (and moves of a pooled listener's sessions): an idle connection to {@code node}
   * for these startup parameters, checked first if it idled beyond {@code check_after}, else a new
   * login ({@code login}) kept with what it said ({@link #remember}). The caller owns the startup
   * messages it gets. On {@code loop} only.
   */
  Future<PgBackendConnection> acquire(
      EventLoop loop,
      BackendNode node,
      Map<String, String> parameters,
      java.util.function.Supplier<Future<PgBackendConnection>> login) {
    return sessions.acquire(loop, new Key(node.name(), parameters), login);
  }

  /**
   * What a fresh login said is kept with its connection (copies), for the sessions that will reuse
   * it; released when the connection closes.
   */
  private void remember(PgBackendConnection c) {
    // one buffer for all of them: a reusing session writes them in one go
    int size = 0;
    for (ByteBuf m : c.startupMessages()) {
      size += m.readableBytes();
    }
    ByteBuf all = c.channel().alloc().buffer(size);
    for (ByteBuf m : c.startupMessages()) {
      all.writeBytes(m, m.readerIndex(), m.readableBytes());
    }
    Channel ch = c.channel();
    ch.attr(ORIGIN)
        .set(
            new Origin(
                c.node(),
                all,
                c.processId(),
                c.secret(),
                new PgBackendConnection(
                    ch, c.node(), List.of(), c.processId(), c.secret(), (byte) 'I')));
    ch.closeFuture()
        .addListener(
            x -> {
              Origin o = ch.attr(ORIGIN).getAndSet(null);
              if (o != null) {
                o.startupMessages().release();
              }
            });
  }

  /** Session mode's wire exchanges: DISCARD ALL after a session, an empty query as the check. */
  private final class SessionEngine
      implements io.halo.proxy.session.SessionPool.Engine<Key, PgBackendConnection> {
    @Override
    public Channel channel(PgBackendConnection c) {
      return c.channel();
    }

    @Override
    public void reset(
        PgBackendConnection c, Key key, java.util.function.Consumer<PgBackendConnection> done) {
      Exchange.run(c.channel(), "DISCARD ALL", ok -> done.accept(ok ? c : null));
    }

    @Override
    public void check(
        PgBackendConnection c, java.util.function.Consumer<PgBackendConnection> done) {
      Exchange.run(c.channel(), "", ok -> done.accept(ok ? c : null));
    }

    @Override
    public void quit(Channel ch) {
      PgPool.quit(ch);
    }

    @Override
    public PgBackendConnection adopted(PgBackendConnection fresh) {
      remember(fresh);
      return fresh;
    }

    @Override
    public PgBackendConnection lend(PgBackendConnection kept) {
      return connectionOf(kept.channel(), kept.channel().attr(ORIGIN).get());
    }

    @Override
    public void discard(PgBackendConnection fresh) {
      fresh.startupMessages().forEach(ByteBuf::release); // remember() kept its copy
    }
  }

  /**
   * A session ended between transactions on {@code ch} (its relay already removed): reset it with
   * {@code DISCARD ALL} and keep it, or close it (too old, pool full, reset failed). On the
   * channel's loop.
   */
  void giveBack(Channel ch, Map<String, String> parameters) {
    Origin o = ch.attr(ORIGIN).get();
    if (o == null) {
      quit(ch);
      return;
    }
    sessions.giveBack(ch, new Key(o.node().name(), Map.copyOf(parameters)));
  }

  /**
   * Health writer thread: a new epoch or a fence empties the pool (each loop empties its own part).
   */
  public void onTopology(Topology t) {
    tx.onTopology(t, sessions.onTopology(t)); // the same decision for both modes
  }

  // ---------------------------------------------------------------- transaction mode

  /** Halo is stopping: nothing more is kept idle or logged in ahead (any thread). */
  public void stop() {
    sessions.stop();
    tx.stop();
  }

  /** Releases what the pool keeps beside connections (after the event loops stopped). */
  public void close() {
    tx.close();
  }

  /**
   * One instance for each distinct set of (immutable) startup parameters a session logs in with, up
   * to {@link #MAX_CANONICAL_PARAMETER_SETS} sets (then {@code parameters} itself), so that the
   * pool's keys compare by identity at every transaction's checkout instead of entry by entry. Any
   * thread.
   */
  Map<String, String> canonical(Map<String, String> parameters) {
    Map<String, String> known = parameterSets.get(parameters);
    if (known != null || parameterSets.size() >= MAX_CANONICAL_PARAMETER_SETS) {
      return known != null ? known : parameters;
    }
    known = parameterSets.putIfAbsent(parameters, parameters);
    return known != null ? known : parameters;
  }

  /**
   * Transaction mode: a connection to {@code node} for these startup parameters ({@link
   * TransactionPool#checkout}). The caller owns the startup messages of the connection it gets and
   * gives it back with {@link #checkin}. On {@code loop} only.
   */
  Future<PgBackendConnection> checkout(
      EventLoop loop,
      BackendNode node,
      Map<String, String> parameters,
      java.util.function.Supplier<Future<PgBackendConnection>> login) {
    return checkout(loop, new Key(node.name(), parameters), login);
  }

  /** {@link #checkout(EventLoop, BackendNode, Map, java.util.function.Supplier)} by its key. */
  Future<PgBackendConnection> checkout(
      EventLoop loop, Key key, java.util.function.Supplier<Future<PgBackendConnection>> login) {
    return tx.checkout(loop, key, login);
  }

  /**
   * As above, preferring the idle connection {@code last} (the session's previous one), its slot
   * found through {@code place} (the session's memo).
   */
  Future<PgBackendConnection> checkout(
      EventLoop loop,
      Key key,
      java.util.function.Supplier<Future<PgBackendConnection>> login,
      Channel last,
      TransactionPool.Place place) {
    return tx.checkout(loop, key, login, last, place);
  }

  /**
   * Transaction mode: a login that needs no backend connection yet (as PgBouncer's): the startup
   * messages an earlier login of this key got, with no channel; null when no connection of the key
   * has logged in on {@code loop} since the last epoch. The session checks a connection out for its
   * first request. On {@code loop} only.
   */
  PgBackendConnection loginWithoutConnection(
      EventLoop loop, BackendNode node, Map<String, String> parameters) {
    ByteBuf startup = tx.memo(loop, new Key(node.name(), parameters));
    if (startup == null) {
      return null;
    }
    return new PgBackendConnection(
        null, node, List.of(startup.retainedDuplicate()), 0, 0, (byte) 'I');
  }

  private static PgBackendConnection connectionOf(Channel ch, Origin o) {
    return new PgBackendConnection(
        ch,
        o.node(),
        List.of(o.startupMessages().retainedDuplicate()),
        o.processId(),
        o.secret(),
        (byte) 'I');
  }

  /**
   * Transaction mode: a session is done with {@code ch} between transactions (its handlers already
   * removed; its decoder and statement book stay). On the channel's loop.
   */
  void checkin(Channel ch) {
    tx.checkin(ch);
  }

  /** Transaction mode's wire exchanges and what a connection's login said for its reusers. */
  private final class TxEngine implements TransactionPool.Engine<PgBackendConnection, ByteBuf> {
    @Override
    public Channel channel(PgBackendConnection c) {
      return c.channel();
    }

    @Override
    public void check(Channel ch, java.util.function.Consumer<Boolean> done) {
      Exchange.run(ch, "", done);
    }

    @Override
    public void quit(Channel ch) {
      PgPool.quit(ch);
    }

    @Override
    public void adopted(PgBackendConnection fresh) {
      remember(fresh);
    }

    @Override
    public PgBackendConnection lend(Channel ch, boolean login) {
      Origin o = ch.attr(ORIGIN).get();
      if (o == null) {
        return null;
      }
      // a session that logged in already had the login's messages then: none per transaction
      return login ? connectionOf(ch, o) : o.lent();
    }

    @Override
    public void release(PgBackendConnection c) {
      c.startupMessages().forEach(ByteBuf::release);
    }

    @Override
    public ByteBuf memo(PgBackendConnection fresh) {
      Origin o = fresh.channel().attr(ORIGIN).get();
      return o == null ? null : o.startupMessages().retainedDuplicate();
    }

    @Override
    public void releaseMemo(ByteBuf startup) {
      startup.release();
    }
  }

  /** Ends a backend connection politely (Terminate, then close). */
  private static void quit(Channel ch) {
    if (ch.isActive()) {
      ch.writeAndFlush(PgMessages.terminate(ch.alloc())).addListener(ChannelFutureListener.CLOSE);
    } else {
      ch.close();
    }
  }

  /**
   * One simple query on a connection no session has ({@code DISCARD ALL} on give-back, an empty
   * query on checkout after idleness), judged once ({@link io.halo.proxy.session.PoolExchange}): no
   * error and ReadyForQuery 'I'.
   */
  private static final class Exchange extends io.halo.proxy.session.PoolExchange
      implements PgStreamScanner.Listener {
    private final String sql;
    private final java.util.function.Consumer<Boolean> done;
    private final PgStreamScanner scanner = new PgStreamScanner(this);
    private boolean failed;
    private byte status;
    private boolean ready;

    private Exchange(String sql, java.util.function.Consumer<Boolean> done) {
      this.sql = sql;
      this.done = done;
    }

    static void run(Channel ch, String sql, java.util.function.Consumer<Boolean> done) {
      new Exchange(sql, done).start(ch, PgMessages.query(ch.alloc(), sql));
    }

    @Override
    public boolean onMessage(byte type, int length) {
      if (type == 'E') {
        failed = true;
      }
      return true;
    }

    @Override
    public void onReadyForQuery(byte s) {
      status = s;
      ready = true;
    }

    @Override
    protected void read(ChannelHandlerContext ctx, Object msg) {
      boolean ok;
      if (msg instanceof io.halo.proxy.pg.message.PgFrame f) {
        // a transaction-mode connection keeps its frame decoder between transactions
        byte t = f.type();
        onMessage(t, f.body().readableBytes() + 4);
        ok = t != 'Z' || f.body().isReadable();
        if (t == 'Z' && ok) {
          onReadyForQuery(f.body().getByte(f.body().readerIndex()));
        }
      } else if (msg instanceof ByteBuf buf) {
        ok = scanner.scan(buf);
      } else {
        ok = false;
      }
      if (!ok) {
        judge(ctx.channel(), false);
      } else if (ready) {
        judge(ctx.channel(), !failed && status == 'I' && scanner.atBoundary());
      }
    }

    @Override
    protected void judged(Channel ch, boolean ok) {
      done.accept(ok);
    }

    @Override
    public String toString() {
      return "'" + sql + "'";
    }
  }
}

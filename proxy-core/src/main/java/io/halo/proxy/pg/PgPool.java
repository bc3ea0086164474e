package io.halo.proxy.pg;

import io.halo.conf.model.PoolConfig;
import io.halo.health.state.BackendNode;
import io.halo.health.state.Topology;
import io.halo.proxy.pg.message.PgMessages;
import io.halo.proxy.pg.message.PgStreamScanner;
import io.halo.proxy.session.PoolIdle;
import io.halo.routing.throttle.Permit;
import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.EventLoop;
import io.netty.util.AttributeKey;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.ScheduledFuture;
import java.util.ArrayDeque;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.LongAdder;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Session pooling of one PostgreSQL listener ({@code pool_mode: session}, as PgBouncer's): a client
 * session that ends between transactions gives its backend connection back; Halo resets it with
 * {@code DISCARD ALL} and keeps it idle; the next session for the same backend and startup
 * parameters (which hold the user and database) takes it instead of logging in, and gets the
 * ParameterStatus messages and cancel key of that connection's own login.
 *
 * <p>Design memo. Idle connections are kept per event loop: a backend connection stays on the loop
 * it was opened on, which is its clients' loop too, so taking and giving back never cross threads
 * and each loop's part of the pool is touched by that loop only (no locks). A connection carries
 * what its login said ({@link Origin}, a channel attribute) for the clients that reuse it. Every
 * idle connection has a handler that drops it from the pool when the server closes it or sends
 * anything (a server sends nothing unasked to an idle session but its FATAL before leaving), and a
 * timer for {@code idle_timeout}. A new epoch or a fenced backend empties the pool: connections
 * opened under an old topology are not handed out. A connection idle longer than {@code
 * check_after} answers an empty query before a session gets it (PgBouncer's {@code
 * server_check_delay}): one that errs or stays silent (a backend stopped, a network that drops
 * packets without a reset) is closed and the next one tried, so the client's statement does not go
 * to a connection that cannot answer it.
 */
public final class PgPool {

  private static final Logger log = LoggerFactory.getLogger(PgPool.class);

  /** What a pooled connection's login said, for every client that reuses it. */
  private static final AttributeKey<Origin> ORIGIN = AttributeKey.valueOf("halo.pg.pool.origin");

  private record Origin(
      BackendNode node,
      ByteBuf startupMessages,
      int processId,
      int secret,
      long bornNanos,
      long epoch) {}

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

  private final PoolConfig config;

  /** Session mode: the connections sessions gave back (the protocol-neutral part). */
  private final io.halo.proxy.session.SessionPool<Key, PgBackendConnection> sessions;

  private final LongAdder reused = new LongAdder();
  private final LongAdder opened = new LongAdder();
  private final LongAdder returned = new LongAdder();
  private final java.util.concurrent.atomic.AtomicInteger idleCount =
      new java.util.concurrent.atomic.AtomicInteger();
  private volatile long epoch = -1;

  /** Transaction mode: connections per key and event loop at most ({@code size} shared out). */
  private final int perLoop;

  /** Transaction mode: per event loop, each key's connections; the inner maps belong to it. */
  private final Map<EventLoop, Map<Key, Slot>> slots = new ConcurrentHashMap<>();

  private final java.util.concurrent.atomic.AtomicInteger openCount =
      new java.util.concurrent.atomic.AtomicInteger();
  private final java.util.concurrent.atomic.AtomicInteger waitingCount =
      new java.util.concurrent.atomic.AtomicInteger();
  private final LongAdder waitTimeouts = new LongAdder();

  /** Transaction mode: waits for a connection of a full pool that ended (served or timed out). */
  private final LongAdder waits = new LongAdder();

  private final LongAdder waitNanos = new LongAdder();

  /** Checks on checkout after idleness, passed and failed. */
  private final LongAdder checksPassed = new LongAdder();

  private final LongAdder checksFailed = new LongAdder();

  /**
   * Transaction mode: every backend connection the pool opens holds a session permit of its backend
   * ({@code throttle.max_connections}), whatever its key; null only in unit tests.
   */
  private final io.halo.proxy.session.Admission admission;

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
    this.perLoop = Math.max(1, (config.size() + Math.max(1, loops) - 1) / Math.max(1, loops));
    this.admission = admission;
  }

  /** Transaction mode: sessions hold a backend connection only while a transaction runs. */
  public boolean multiplexed() {
    return config.multiplexed();
  }

  /** Transaction mode: protocol-level prepared statements kept per backend connection at most. */
  int maxPreparedStatements() {
    return config.maxPreparedStatements();
  }

  public boolean enabled() {
    return config.pooled();
  }

  /** Sessions that took a pooled connection instead of logging in. */
  long reused() {
    return reused.sum() + sessions.reused();
  }

  /** Backend logins of this listener's sessions while pooling. */
  long opened() {
    return opened.sum() + sessions.opened();
  }

  /** Connections given back, reset and kept. */
  long returned() {
    return returned.sum() + sessions.returned();
  }

  /** Idle connections in the pool now (all event loops). */
  int idle() {
    return idleCount.get() + sessions.idle();
  }

  /** The admin view of this pool. */
  public io.halo.proxy.admin.ProxyView.PoolView view(String listener, String cluster) {
    return new io.halo.proxy.admin.ProxyView.PoolView(
        listener,
        cluster,
        config.mode().name().toLowerCase(java.util.Locale.ROOT),
        idle(),
        openCount.get(),
        waitingCount.get(),
        reused(),
        opened(),
        returned(),
        waitTimeouts.sum(),
        waits.sum(),
        waitNanos.sum() / 1e9,
        checksPassed.sum() + sessions.checksPassed(),
        checksFailed.sum() + sessions.checksFailed());
  }

  /**
   * Session mode (and moves of a pooled listener's sessions): an idle connection to {@code node}
   * for these startup parameters, checked first if it idled beyond {@code check_after}, else a new
   * login ({@code login}) kept with what it said ({@link #adopt}). The caller owns the startup
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
   * {@code c}, idle since {@code since}, if it need not be checked or passes the check; else it is
   * closed, {@code others} has the connections idle beside it checked (in the background: they may
   * have died with it, and the caller must not wait for one check after another), and {@code next}
   * gives what the caller gets instead.
   */
  private Future<PgBackendConnection> checked(
      EventLoop loop,
      PgBackendConnection c,
      long since,
      Runnable others,
      java.util.function.Supplier<Future<PgBackendConnection>> next) {
    if (now() - since < config.checkAfter().toNanos()) {
      return loop.newSucceededFuture(c);
    }
    long idleMs = (now() - since) / 1_000_000;
    io.netty.util.concurrent.Promise<PgBackendConnection> p = loop.newPromise();
    Exchange.run(
        c.channel(),
        "",
        ok -> {
          if (ok) {
            checksPassed.increment();
            p.trySuccess(c);
            return;
          }
          checksFailed.increment();
          log.info(
              "pooled connection to {} idle {} ms failed its check; closing it",
              c.node().name(),
              idleMs);
          c.startupMessages().forEach(ByteBuf::release);
          others.run();
          // closed at once (no Terminate: the connection may not take one), and the next try
          // once the close is counted (the slot's own close listener runs first)
          c.channel()
              .close()
              .addListener(
                  x -> {
                    try {
                      next.get().addListener(PgPool.<PgBackendConnection>cascade(p));
                    } catch (RuntimeException e) {
                      p.tryFailure(e);
                    }
                  });
        });
    return p;
  }

  /**
   * A connection of {@code key} failed its check: the key's idle connections on every event loop
   * are checked again, each loop checking its own.
   */
  private void recheckEverywhere(Key key) {
    // this loop's at once: the caller's next try must not take one of them unchecked
    slots.forEach(
        (l, loopSlots) ->
            onLoop(
                l,
                () -> {
                  Slot slot = loopSlots.get(key);
                  if (slot != null) {
                    recheck(slot);
                  }
                }));
  }

  private static void onLoop(EventLoop l, Runnable r) {
    if (l.inEventLoop()) {
      r.run();
    } else {
      l.execute(r);
    }
  }

  /** Transaction mode: every idle connection of {@code slot} is checked again. */
  private void recheck(Slot slot) {
    List<Channel> all = List.copyOf(slot.idle);
    slot.idle.clear();
    idleCount.addAndGet(-all.size());
    for (Channel ch : all) {
      PoolIdle i = ch.pipeline().get(PoolIdle.class);
      if (i != null) {
        i.pooled = false; // replies pass on to the check
      }
      recheck(ch, () -> checkin(ch));
    }
  }

  private void recheck(Channel ch, Runnable passed) {
    Exchange.run(
        ch,
        "",
        ok -> {
          if (ok) {
            checksPassed.increment();
            passed.run();
          } else {
            checksFailed.increment();
            ch.close();
          }
        });
  }

  private static <T> io.netty.util.concurrent.GenericFutureListener<Future<T>> cascade(
      io.netty.util.concurrent.Promise<T> p) {
    return f -> {
      if (f.isSuccess()) {
        p.trySuccess(f.getNow());
      } else {
        p.tryFailure(f.cause());
      }
    };
  }

  /**
   * A fresh transaction-mode login: what it said is kept with the connection ({@link #remember}).
   * Adds itself as the first listener of {@code connecting}, before the session takes the messages
   * over.
   */
  private Future<PgBackendConnection> adopt(Future<PgBackendConnection> connecting) {
    return connecting.addListener(
        f -> {
          if (f.isSuccess()) {
            opened.increment();
            remember(connecting.getNow());
          }
        });
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
    ch.attr(ORIGIN).set(new Origin(c.node(), all, c.processId(), c.secret(), now(), epoch));
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
    Boolean all = sessions.onTopology(t); // the same decision for transaction mode's slots
    epoch = t.epoch();
    if (all == null) {
      return;
    }
    for (Map.Entry<EventLoop, Map<Key, Slot>> e : slots.entrySet()) {
      e.getKey().execute(() -> drainSlots(e.getValue(), t, all));
    }
  }

  private void drainSlots(Map<Key, Slot> loopSlots, Topology t, boolean all) {
    // a copy: a slot whose last connection closes leaves the map
    for (Slot slot : List.copyOf(loopSlots.values())) {
      if (all || io.halo.proxy.session.SessionPool.fenced(t, slot.key.backend())) {
        if (slot.startup != null) {
          slot.startup.release();
          slot.startup = null;
        }
        ArrayDeque<Channel> idle = slot.idle;
        idleCount.addAndGet(-idle.size());
        List<Channel> closing = List.copyOf(idle);
        idle.clear();
        closing.forEach(PgPool::quit);
      }
    }
  }

  // ---------------------------------------------------------------- transaction mode

  /** Releases what the pool keeps beside connections (after the event loops stopped). */
  public void close() {
    for (Map<Key, Slot> loopSlots : slots.values()) {
      for (Slot slot : loopSlots.values()) {
        if (slot.startup != null) {
          slot.startup.release();
          slot.startup = null;
        }
      }
    }
  }

  /**
   * Transaction mode: one key's connections on one event loop. A slot leaves its loop's map when
   * its last connection closes with nobody waiting: keys (startup parameters are the client's to
   * choose) cost memory only while they have connections.
   */
  private static final class Slot {
    final Key key;
    final EventLoop loop;
    final ArrayDeque<Channel> idle = new ArrayDeque<>();
    final ArrayDeque<Waiter> waiters = new ArrayDeque<>();

    /** Connections open or logging in (idle ones included). */
    int open;

    /** Closes connections idle beyond idle_timeout; null while none is scheduled. */
    ScheduledFuture<?> sweeper;

    /** The epoch the slot was made in: it keeps {@code min_idle} connections only in that one. */
    final long epoch;

    /** The newest checkout's way to log in: {@code min_idle} logins use it. */
    java.util.function.Supplier<Future<PgBackendConnection>> login;

    /** {@code min_idle} logins under way. */
    int warming;

    /** After a failed {@code min_idle} login: no other before this time, and the next pause. */
    long warmAfter;

    long warmPauseNanos = WARM_PAUSE_MIN_NANOS;

    /**
     * What a login of this key said (ParameterStatus messages), kept for the sessions that log in
     * without taking a connection; null until a connection of the key logged in, and again after a
     * new epoch (the server may have changed).
     */
    ByteBuf startup;

    Slot(Key key, EventLoop loop, long epoch) {
      this.key = key;
      this.loop = loop;
      this.epoch = epoch;
    }
  }

  /** A transaction waiting for a connection of a full pool. */
  private static final class Waiter {
    final io.netty.util.concurrent.Promise<PgBackendConnection> promise;
    final java.util.function.Supplier<Future<PgBackendConnection>> login;
    final long since = System.nanoTime();
    ScheduledFuture<?> timer;

    Waiter(
        io.netty.util.concurrent.Promise<PgBackendConnection> promise,
        java.util.function.Supplier<Future<PgBackendConnection>> login) {
      this.promise = promise;
      this.login = login;
    }
  }

  /** {@code w} stops waiting (served, or timed out): its wait counts in the pool's figures. */
  private void waited(Waiter w) {
    waitingCount.decrementAndGet();
    waits.increment();
    waitNanos.add(System.nanoTime() - w.since);
  }

  /** A transaction waited {@code wait_timeout} for a connection of a full pool. */
  static final class WaitTimeout extends Exception {
    private static final long serialVersionUID = 1L;

    WaitTimeout(String message) {
      super(message, null, false, false);
    }
  }

  /**
   * Transaction mode: a connection to {@code node} for these startup parameters: an idle one, a new
   * login ({@code login}) while the pool has room, else the first one given back (FIFO), or a
   * {@link WaitTimeout} after {@code wait_timeout}. The caller owns the startup messages of the
   * connection it gets and gives it back with {@link #checkin}. On {@code loop} only.
   */
  Future<PgBackendConnection> checkout(
      EventLoop loop,
      BackendNode node,
      Map<String, String> parameters,
      java.util.function.Supplier<Future<PgBackendConnection>> login) {
    Key key = new Key(node.name(), parameters);
    Slot slot = slots(loop).computeIfAbsent(key, k -> new Slot(k, loop, epoch));
    slot.login = login;
    PgBackendConnection idle = takeIdle(slot);
    if (idle != null) {
      warm(slot); // after this checkout's own open below otherwise: it must not take its place
      PoolIdle i = idle.channel().pipeline().get(PoolIdle.class);
      return checked(
          loop,
          idle,
          i == null ? now() : i.since,
          () -> recheckEverywhere(key),
          () -> checkout(loop, node, parameters, login));
    }
    if (slot.open < perLoop) {
      Future<PgBackendConnection> opening = open(slot, login);
      warm(slot);
      return opening;
    }
    io.netty.util.concurrent.Promise<PgBackendConnection> p = loop.newPromise();
    Waiter w = new Waiter(p, login);
    slot.waiters.addLast(w);
    waitingCount.incrementAndGet();
    w.timer =
        loop.schedule(
            () -> {
              if (slot.waiters.remove(w)) {
                waited(w);
                waitTimeouts.increment();
                p.tryFailure(
                    new WaitTimeout(
                        "no connection to "
                            + node.name()
                            + " came free within pool.wait_timeout "
                            + config.waitTimeout().toMillis()
                            + " ms (pool.size "
                            + config.size()
                            + ")"));
              }
            },
            config.waitTimeout().toMillis(),
            TimeUnit.MILLISECONDS);
    return p;
  }

  /**
   * Transaction mode: a login that needs no backend connection yet (as PgBouncer's): the startup
   * messages an earlier login of this key got, with no channel; null when no connection of the key
   * has logged in on {@code loop} since the last epoch. The session checks a connection out for its
   * first request. On {@code loop} only.
   */
  PgBackendConnection loginWithoutConnection(
      EventLoop loop, BackendNode node, Map<String, String> parameters) {
    Slot slot = slots(loop).get(new Key(node.name(), parameters));
    if (slot == null || slot.startup == null) {
      return null;
    }
    reused.increment();
    return new PgBackendConnection(
        null, node, List.of(slot.startup.retainedDuplicate()), 0, 0, (byte) 'I');
  }

  private PgBackendConnection takeIdle(Slot slot) {
    while (!slot.idle.isEmpty()) {
      Channel ch = slot.idle.pollLast(); // the most recently used first: its caches are warm
      idleCount.decrementAndGet();
      PoolIdle i = ch.pipeline().get(PoolIdle.class);
      boolean stale = false;
      if (i != null) {
        i.pooled = false; // it stays in the pipeline and passes the session's replies on
        stale = now() - i.since > config.idleTimeout().toNanos();
      }
      Origin o = ch.attr(ORIGIN).get();
      if (!ch.isActive() || o == null || expired(o) || stale) {
        quit(ch);
        continue;
      }
      reused.increment();
      return connectionOf(ch, o);
    }
    return null;
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
   * A new login counted in {@code slot}, holding a session permit of its backend for its whole
   * life; its close makes room for the first waiter. Without a free permit, the least recently used
   * idle connection of another key to the same backend on this loop is closed for it, and the login
   * queues for the permit ({@code throttle.max_queue}, {@code queue_timeout}).
   */
  private Future<PgBackendConnection> open(
      Slot slot, java.util.function.Supplier<Future<PgBackendConnection>> login) {
    slot.open++;
    openCount.incrementAndGet();
    if (admission == null) {
      return login(slot, null, login);
    }
    String backend = slot.key.backend();
    Permit free = admission.tryAcquire(backend);
    if (free != null) {
      return login(slot, free, login);
    }
    evictIdle(slot);
    io.netty.util.concurrent.Promise<PgBackendConnection> p = slot.loop.newPromise();
    admission
        .acquire(backend, slot.loop)
        .whenComplete(
            (permit, e) -> {
              if (e != null) {
                closed(slot);
                Throwable why =
                    e instanceof java.util.concurrent.CompletionException ? e.getCause() : e;
                p.tryFailure(new WaitTimeout(why.getMessage()));
                return;
              }
              login(slot, permit, login)
                  .addListener(
                      (Future<PgBackendConnection> f) -> {
                        if (f.isSuccess()) {
                          p.trySuccess(f.getNow());
                        } else {
                          p.tryFailure(f.cause());
                        }
                      });
            });
    return p;
  }

  private Future<PgBackendConnection> login(
      Slot slot, Permit permit, java.util.function.Supplier<Future<PgBackendConnection>> login) {
    Future<PgBackendConnection> f;
    try {
      f = adopt(login.get());
    } catch (RuntimeException e) {
      if (permit != null) {
        permit.ignore();
      }
      closed(slot);
      throw e;
    }
    f.addListener(
        done -> {
          if (!done.isSuccess()) {
            if (permit != null) {
              permit.dropped();
            }
            closed(slot);
            return;
          }
          Channel ch = f.getNow().channel();
          ch.attr(KEY).set(slot.key);
          Origin origin = ch.attr(ORIGIN).get();
          if (slot.startup == null && origin != null) {
            slot.startup = origin.startupMessages().retainedDuplicate();
          }
          ch.closeFuture()
              .addListener(
                  x -> {
                    if (permit != null) {
                      permit.release();
                    }
                    if (slot.idle.remove(ch)) {
                      idleCount.decrementAndGet();
                    }
                    closed(slot);
                  });
        });
    return f;
  }

  /**
   * Closes the least recently used idle connection to {@code wanting}'s backend held by another key
   * on its loop, so that its permit goes to the queue {@code wanting}'s login joins.
   */
  private void evictIdle(Slot wanting) {
    Channel oldest = null;
    PoolIdle oldestIdle = null;
    for (Slot s : slots(wanting.loop).values()) {
      if (s == wanting || s.idle.isEmpty() || !s.key.backend().equals(wanting.key.backend())) {
        continue;
      }
      Channel ch = s.idle.peekFirst(); // each slot's least recently used
      PoolIdle i = ch.pipeline().get(PoolIdle.class);
      if (i != null && (oldestIdle == null || i.since - oldestIdle.since < 0)) {
        oldest = ch;
        oldestIdle = i;
      }
    }
    if (oldest != null) {
      log.debug("throttle.max_connections reached: closing idle {} for another key", oldest);
      oldestIdle.leave(oldest);
      quit(oldest);
    }
  }

  /** Shortest and longest pause after a failed {@code min_idle} login (doubling between). */
  private static final long WARM_PAUSE_MIN_NANOS = TimeUnit.SECONDS.toNanos(1);

  private static final long WARM_PAUSE_MAX_NANOS = TimeUnit.SECONDS.toNanos(30);

  /**
   * Transaction mode: opens connections until {@code slot} has {@code min_idle} idle ones (those
   * logging in count), within its loop's share of {@code size}; only in the slot's own epoch, with
   * nobody waiting, and with a free permit of the backend (it never queues for one, nor closes
   * another key's connection for it). One login at a time; a failed one pauses it (1 s, doubling to
   * 30 s). On the slot's loop.
   */
  private void warm(Slot slot) {
    if (config.minIdle() > 0
        && slot.login != null
        && slot.epoch == epoch
        && slot.waiters.isEmpty()
        && slot.idle.size() + slot.warming < config.minIdle()
        && slot.open < perLoop
        && slot.warming == 0
        && now() - slot.warmAfter >= 0) {
      Permit permit = null;
      if (admission != null) {
        if (admission.waiting(slot.key.backend())) {
          return;
        }
        permit = admission.tryAcquire(slot.key.backend());
        if (permit == null) {
          return;
        }
      }
      slot.open++;
      openCount.incrementAndGet();
      slot.warming++;
      // set before the login: its failure closes the slot's count (closed(), which warms again)
      // before this method hears of it
      slot.warmAfter = now() + slot.warmPauseNanos;
      Future<PgBackendConnection> f;
      try {
        f = login(slot, permit, slot.login);
      } catch (RuntimeException e) {
        slot.warming--;
        pauseWarming(slot, e);
        return;
      }
      f.addListener(
          (Future<PgBackendConnection> done) -> {
            slot.warming--;
            if (done.isSuccess()) {
              slot.warmPauseNanos = WARM_PAUSE_MIN_NANOS;
              slot.warmAfter = now();
              release(done.getNow()); // idle in the pool, or to a waiter
              warm(slot); // the next one
            } else {
              pauseWarming(slot, done.cause());
            }
          });
    }
  }

  private void pauseWarming(Slot slot, Throwable why) {
    log.debug("min_idle login to {} failed: {}", slot.key.backend(), why.toString());
    long pause = slot.warmPauseNanos;
    slot.warmAfter = now() + pause;
    slot.warmPauseNanos = Math.min(WARM_PAUSE_MAX_NANOS, slot.warmPauseNanos * 2);
    slot.loop.schedule(() -> warm(slot), pause, TimeUnit.NANOSECONDS);
  }

  /** A connection of {@code slot} closed (or never opened): the first waiter may log in. */
  private void closed(Slot slot) {
    slot.open--;
    openCount.decrementAndGet();
    Waiter w = slot.waiters.pollFirst();
    if (w == null) {
      warm(slot);
      if (slot.open == 0 && slot.idle.isEmpty()) {
        forget(slot);
      }
      return;
    }
    waited(w);
    w.timer.cancel(false);
    open(slot, w.login)
        .addListener(
            (Future<PgBackendConnection> f) -> {
              if (f.isSuccess()) {
                if (!w.promise.trySuccess(f.getNow())) {
                  release(f.getNow());
                }
              } else {
                w.promise.tryFailure(f.cause());
              }
            });
  }

  /** {@code slot} has no connection and nobody waits: it leaves its loop's map. On its loop. */
  private void forget(Slot slot) {
    Map<Key, Slot> loopSlots = slots(slot.loop);
    if (loopSlots.get(slot.key) == slot) {
      loopSlots.remove(slot.key);
    }
    slot.login = null; // a pending min_idle retry finds it gone
    if (slot.startup != null) {
      slot.startup.release();
      slot.startup = null;
    }
    if (slot.sweeper != null) {
      slot.sweeper.cancel(false);
      slot.sweeper = null;
    }
  }

  /** Gives back a connection nobody took (its waiter had gone). */
  private void release(PgBackendConnection c) {
    c.startupMessages().forEach(ByteBuf::release);
    checkin(c.channel());
  }

  /**
   * Transaction mode: a session is done with {@code ch} between transactions (its handlers already
   * removed): the first waiter takes it, or it waits idle; it closes instead when it is too old,
   * opened under an older epoch or broken. On the channel's loop.
   */
  void checkin(Channel ch) {
    Origin o = ch.attr(ORIGIN).get();
    Slot slot = o == null ? null : slots(ch.eventLoop()).get(keyOf(ch));
    if (o == null || slot == null || !ch.isActive() || expired(o) || o.epoch() != epoch) {
      quit(ch);
      return;
    }
    returned.increment();
    Waiter w;
    while ((w = slot.waiters.pollFirst()) != null) {
      waited(w);
      w.timer.cancel(false);
      reused.increment();
      if (w.promise.trySuccess(connectionOf(ch, o))) {
        return;
      }
    }
    if (admission != null && admission.waiting(o.node().name())) {
      // another key's login (or another listener's session) waits for this backend's permit
      quit(ch);
      return;
    }
    // One PoolIdle handler per connection, kept across transactions (no pipeline change and no
    // timer per transaction): pooled, it drops the connection on any server message; taken, it
    // passes messages on. The slot's sweeper closes connections idle beyond idle_timeout.
    PoolIdle i = ch.pipeline().get(PoolIdle.class);
    if (i == null) {
      i = new PoolIdle(slot.idle, idleCount);
      ch.pipeline().addLast("pool-idle", i);
    }
    i.pooled = true;
    i.since = now();
    slot.idle.addLast(ch);
    idleCount.incrementAndGet();
    if (slot.sweeper == null) {
      sweepLater(ch.eventLoop(), slot);
    }
  }

  /** Closes {@code slot}'s connections idle beyond idle_timeout, then again while any are idle. */
  private void sweepLater(EventLoop loop, Slot slot) {
    long period = Math.max(1, config.idleTimeout().toMillis() / 2);
    slot.sweeper =
        loop.schedule(
            () -> {
              slot.sweeper = null;
              long limit = now() - config.idleTimeout().toNanos();
              // the least recently used first; the newest min_idle of them stay (while the slot's
              // epoch is current), unless they outlived max_lifetime (then others replace them)
              int keep = slot.epoch == epoch ? config.minIdle() : 0;
              List<Channel> idle = List.copyOf(slot.idle);
              for (int n = 0; n < idle.size(); n++) {
                Channel ch = idle.get(n);
                PoolIdle i = ch.pipeline().get(PoolIdle.class);
                Origin o = ch.attr(ORIGIN).get();
                boolean old = i != null && i.since - limit < 0 && idle.size() - n > keep;
                if (i != null && (old || o == null || expired(o))) {
                  i.leave(ch);
                  quit(ch);
                }
              }
              if (!slot.idle.isEmpty()) {
                sweepLater(loop, slot);
              }
            },
            period,
            TimeUnit.MILLISECONDS);
  }

  /** The pool key a transaction-mode connection was opened for. */
  private static final AttributeKey<Key> KEY = AttributeKey.valueOf("halo.pg.pool.key");

  private static Key keyOf(Channel ch) {
    return ch.attr(KEY).get();
  }

  private Map<Key, Slot> slots(EventLoop loop) {
    return slots.computeIfAbsent(loop, l -> new HashMap<>());
  }

  private boolean expired(Origin o) {
    return now() - o.bornNanos() > config.maxLifetime().toNanos();
  }

  private static long now() {
    return System.nanoTime();
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

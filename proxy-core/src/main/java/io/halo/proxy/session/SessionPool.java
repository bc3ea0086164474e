package io.halo.proxy.session;

import io.halo.conf.model.PoolConfig;
import io.halo.health.state.NodeState;
import io.halo.health.state.Topology;
import io.netty.channel.Channel;
import io.netty.channel.EventLoop;
import io.netty.util.AttributeKey;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.Promise;
import java.util.ArrayDeque;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.Consumer;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Session pooling ({@code pool_mode: session}) of one listener, whatever the engine: a client
 * session that ends between transactions gives its backend connection back; the engine resets it;
 * the next session with the same key (backend, backend user, database and whatever else fixes the
 * connection's protocol) takes it instead of logging in. The engine supplies only its wire
 * exchanges ({@link Engine}).
 *
 * <p>Design memo. Idle connections are kept per event loop: a backend connection stays on the loop
 * it was opened on, which is its clients' loop too, so taking and giving back never cross threads
 * and each loop's part of the pool is touched by that loop only (no locks). Every idle connection
 * has a handler that drops it when the server closes it or sends anything (a server sends nothing
 * unasked to an idle session but its error before leaving), and a timer for {@code idle_timeout}. A
 * new epoch or a fenced backend empties the pool: connections opened under an old topology are not
 * handed out. A connection idle longer than {@code check_after} passes the engine's check before a
 * session gets it; one that fails is closed, the idle connections of its key on every loop are
 * checked again in the background (they may have died with it), and the caller gets the next one or
 * a new login: it waits for one check at most.
 *
 * @param <K> the pool key
 * @param <C> an authenticated backend connection of the engine
 */
public final class SessionPool<K extends SessionPool.Key, C> {

  private static final Logger log = LoggerFactory.getLogger(SessionPool.class);

  /**
   * Keys with idle connections per event loop at most: a connection of one more key is closed
   * instead of kept. The key holds the client's startup settings, so a client connecting with new
   * {@code options} each time made a key each time, and idle connections up to the backend's {@code
   * max_connections}.
   */
  static final int MAX_IDLE_KEYS = 64;

  /** A pool key: what a connection must share with a session to serve it. */
  public interface Key {
    /** The backend's name (a fenced backend's connections leave the pool). */
    String backend();
  }

  /**
   * The engine's part. Each exchange runs on the connection's event loop with nothing else in its
   * pipeline above the transport, is bounded in time, and calls {@code done} once: with the
   * connection to keep (its status may have changed), or null when the connection must be closed.
   */
  public interface Engine<K, C> {
    Channel channel(C connection);

    /** Returns the connection to the state of a fresh login for {@code key}. */
    void reset(C connection, K key, Consumer<C> done);

    /** Whether the connection still answers (after idling beyond {@code check_after}). */
    void check(C connection, Consumer<C> done);

    /** Ends a connection politely (the engine's goodbye, then close). */
    void quit(Channel channel);

    /**
     * A fresh login becomes the pool's: what the pool keeps of it (the session that logged in takes
     * {@code fresh} itself). Runs before any other listener of the login.
     */
    default C adopted(C fresh) {
      return fresh;
    }

    /** What a session that reuses the kept connection gets (it may own parts of it). */
    default C lend(C kept) {
      return kept;
    }

    /**
     * A {@code min_idle} login that no session takes: releases what a session would have owned of
     * {@code fresh} (the pool keeps what {@link #adopted} kept).
     */
    default void discard(C fresh) {}
  }

  /**
   * {@code min_idle}: the newest way to log in for one key on one loop (a session's, without
   * anything of the client in it), and the warming state. Lives until a new epoch or a fence.
   */
  private static final class Warmer<C> {
    Supplier<Future<C>> login;
    long epoch;
    boolean warming;
    long after;
    long pauseNanos = WARM_PAUSE_MIN_NANOS;
  }

  /** Shortest and longest pause after a failed {@code min_idle} login (doubling between). */
  private static final long WARM_PAUSE_MIN_NANOS = TimeUnit.SECONDS.toNanos(1);

  private static final long WARM_PAUSE_MAX_NANOS = TimeUnit.SECONDS.toNanos(30);

  /**
   * Keys kept warm per event loop at most: keys are the clients' to choose (startup parameters,
   * databases, character sets), and a warm key holds backend connections with nobody using them.
   */
  static final int MAX_WARM_KEYS_PER_LOOP = 32;

  private record Entry<C>(C connection, long bornNanos, long epoch) {}

  private static final AttributeKey<Entry<?>> ENTRY = AttributeKey.valueOf("halo.pool.entry");

  /** Replaced by a reload ({@link #reconfigure}); {@code mode} never changes. */
  private volatile PoolConfig config;

  private final Engine<K, C> engine;

  /** Per event loop, the idle connections per key; the inner maps belong to their loop. */
  private final Map<EventLoop, Map<K, ArrayDeque<Channel>>> loops = new ConcurrentHashMap<>();

  /** Per event loop, the keys kept warm ({@code min_idle}); the inner maps belong to their loop. */
  private final Map<EventLoop, Map<K, Warmer<C>>> warmers = new ConcurrentHashMap<>();

  private final LongAdder reused = new LongAdder();
  private final LongAdder opened = new LongAdder();
  private final LongAdder returned = new LongAdder();
  private final LongAdder checksPassed = new LongAdder();
  private final LongAdder checksFailed = new LongAdder();
  private final LongAdder warmed = new LongAdder();
  private final AtomicInteger idleCount = new AtomicInteger();
  private volatile long epoch = -1;

  /** Halo is stopping: no login to keep min_idle, no connection kept for reuse. */
  private volatile boolean stopped;

  /** Halo is stopping (its connections are about to be closed). Any thread. */
  public void stop() {
    stopped = true;
  }

  public SessionPool(PoolConfig config, Engine<K, C> engine) {
    this.config = config;
    this.engine = engine;
  }

  public boolean enabled() {
    return config.pooled();
  }

  /**
   * Takes a reloaded {@code pool:} (its mode stays): {@code max_idle}, {@code idle_timeout}, {@code
   * max_lifetime}, {@code check_after} and {@code min_idle} apply from each connection's next
   * return or checkout. Any thread.
   */
  public void reconfigure(PoolConfig next) {
    config = next;
  }

  /**
   * An idle connection for {@code key}, checked first if it idled beyond {@code check_after}, else
   * a new login ({@code login}), remembered as the pool's. On {@code loop} only.
   */
  public Future<C> acquire(EventLoop loop, K key, Supplier<Future<C>> login) {
    if (!enabled()) {
      return login.get();
    }
    if (config.minIdle() > 0) {
      remember(loop, key, login);
      loop.execute(() -> warm(loop, key)); // once this session has its connection
    }
    ArrayDeque<Channel> idle = idle(loop).get(key);
    while (idle != null && !idle.isEmpty()) {
      Channel ch = idle.pollLast(); // the most recently used first: its caches are warm
      idleCount.decrementAndGet();
      PoolIdle i = ch.pipeline().get(PoolIdle.class);
      long since = i == null ? now() : i.since;
      if (i != null) {
        ch.pipeline().remove(i);
      }
      Entry<C> e = entry(ch);
      if (!ch.isActive() || e == null || expired(e)) {
        engine.quit(ch);
        continue;
      }
      reused.increment();
      forgetIfEmpty(loop, key, idle); // (an empty list must not hold one of MAX_IDLE_KEYS)
      if (now() - since < config.checkAfter().toNanos()) {
        return loop.newSucceededFuture(engine.lend(e.connection()));
      }
      return checked(loop, key, e, since, login);
    }
    forgetIfEmpty(loop, key, idle);
    return adopt(login.get());
  }

  private Future<C> checked(
      EventLoop loop, K key, Entry<C> e, long since, Supplier<Future<C>> login) {
    Promise<C> p = loop.newPromise();
    Channel ch = engine.channel(e.connection());
    engine.check(
        e.connection(),
        ok -> {
          if (ok != null) {
            checksPassed.increment();
            ch.attr(ENTRY).set(new Entry<>(ok, e.bornNanos(), e.epoch()));
            p.trySuccess(engine.lend(ok));
            return;
          }
          checksFailed.increment();
          log.info(
              "pooled connection to {} idle {} ms failed its check; closing it",
              key.backend(),
              (now() - since) / 1_000_000);
          // this loop's at once: the next try must not take one of them unchecked
          loops.keySet().forEach(l -> onLoop(l, () -> recheck(l, key)));
          ch.close()
              .addListener(
                  x -> {
                    try {
                      Future<C> next = acquire(loop, key, login);
                      next.addListener(
                          f -> {
                            if (f.isSuccess()) {
                              p.trySuccess(next.getNow());
                            } else {
                              p.tryFailure(f.cause());
                            }
                          });
                    } catch (RuntimeException ex) {
                      p.tryFailure(ex);
                    }
                  });
        });
    return p;
  }

  private static void onLoop(EventLoop l, Runnable r) {
    if (l.inEventLoop()) {
      r.run();
    } else {
      l.execute(r);
    }
  }

  /** Every idle connection of {@code key} on {@code loop} is checked again, out of the pool. */
  private void recheck(EventLoop loop, K key) {
    ArrayDeque<Channel> idle = idle(loop).get(key);
    if (idle == null) {
      return;
    }
    List<Channel> all = List.copyOf(idle);
    idle.clear();
    forgetIfEmpty(loop, key, idle);
    idleCount.addAndGet(-all.size());
    for (Channel ch : all) {
      PoolIdle i = ch.pipeline().get(PoolIdle.class);
      if (i != null) {
        ch.pipeline().remove(i); // and its idle_timeout timer
      }
      Entry<C> e = entry(ch);
      if (e == null || !ch.isActive()) {
        ch.close();
        continue;
      }
      engine.check(
          e.connection(),
          ok -> {
            if (ok != null) {
              checksPassed.increment();
              keep(key, ch, new Entry<>(ok, e.bornNanos(), e.epoch()));
            } else {
              checksFailed.increment();
              ch.close();
            }
          });
    }
  }

  /**
   * A fresh login becomes the pool's once it succeeds (it is given back at its session's end), e.g.
   * the new connection of a session moved to another backend. Adds itself as a listener of {@code
   * connecting} before the caller's.
   */
  public Future<C> adopt(Future<C> connecting) {
    if (!enabled()) {
      return connecting;
    }
    return connecting.addListener(
        f -> {
          if (f.isSuccess()) {
            opened.increment();
            C c = engine.adopted(connecting.getNow());
            engine.channel(c).attr(ENTRY).set(new Entry<>(c, now(), epoch));
          }
        });
  }

  /**
   * A session ended between transactions on {@code ch} (its relay already removed): the engine
   * resets it and the pool keeps it under {@code key}, or it is closed (not the pool's, too old,
   * pool full, reset failed). On the connection's loop.
   */
  public void giveBack(Channel ch, K key) {
    Entry<C> e = entry(ch);
    if (e == null || stopped || expired(e) || !ch.isActive() || stale(e)) {
      engine.quit(ch);
      return;
    }
    engine.reset(
        e.connection(),
        key,
        next -> {
          if (next == null) {
            engine.quit(ch);
          } else {
            keep(key, ch, new Entry<>(next, e.bornNanos(), e.epoch()));
          }
        });
  }

  /** {@code min_idle}: {@code login} is now the way to warm {@code key} on {@code loop}. */
  private void remember(EventLoop loop, K key, Supplier<Future<C>> login) {
    Map<K, Warmer<C>> mine = warmers.computeIfAbsent(loop, l -> new HashMap<>());
    Warmer<C> w = mine.get(key);
    if (w == null) {
      if (mine.size() >= MAX_WARM_KEYS_PER_LOOP) {
        return;
      }
      w = new Warmer<>();
      mine.put(key, w);
    }
    w.login = login;
    w.epoch = epoch;
  }

  /**
   * {@code min_idle}: opens connections until {@code key} has that many idle on {@code loop}, one
   * login at a time, only in the epoch its way to log in was seen in; a failed login pauses it (1
   * s, doubling to 30 s). The new connection is a fresh login: it goes idle without a reset. On
   * {@code loop}.
   */
  private void warm(EventLoop loop, K key) {
    Map<K, Warmer<C>> mine = warmers.get(loop);
    Warmer<C> w = mine == null ? null : mine.get(key);
    if (w == null || stopped || w.warming || w.epoch != epoch || now() - w.after < 0) {
      return;
    }
    ArrayDeque<Channel> idle = idle(loop).get(key);
    if (idle != null && idle.size() >= Math.min(config.minIdle(), config.maxIdle())) {
      return;
    }
    w.warming = true;
    Future<C> f;
    try {
      f = adopt(w.login.get());
    } catch (RuntimeException e) {
      w.warming = false;
      pauseWarming(loop, key, w, e);
      return;
    }
    f.addListener(
        done -> {
          w.warming = false;
          if (!done.isSuccess()) {
            pauseWarming(loop, key, w, done.cause());
            return;
          }
          C fresh = f.getNow();
          engine.discard(fresh);
          Channel ch = engine.channel(fresh);
          Entry<C> e = entry(ch);
          if (e == null) {
            engine.quit(ch);
            return;
          }
          w.pauseNanos = WARM_PAUSE_MIN_NANOS;
          warmed.increment();
          keep(key, ch, e, false);
          warm(loop, key); // the next one
        });
  }

  private void pauseWarming(EventLoop loop, K key, Warmer<C> w, Throwable why) {
    log.debug("min_idle login to {} failed: {}", key.backend(), why.toString());
    w.after = now() + w.pauseNanos;
    long pause = w.pauseNanos;
    w.pauseNanos = Math.min(WARM_PAUSE_MAX_NANOS, w.pauseNanos * 2);
    loop.schedule(() -> warm(loop, key), pause, TimeUnit.NANOSECONDS);
  }

  private void keep(K key, Channel ch, Entry<C> e) {
    keep(key, ch, e, true);
  }

  /** {@code givenBack}: a session's connection, reset (else a {@code min_idle} login). */
  private void keep(K key, Channel ch, Entry<C> e, boolean givenBack) {
    if (!ch.isActive() || stale(e)) {
      engine.quit(ch);
      return;
    }
    Map<K, ArrayDeque<Channel>> byKey = idle(ch.eventLoop());
    // (every path that empties a key's list forgets the key: forgetIfEmpty)
    if (!byKey.containsKey(key) && byKey.size() >= MAX_IDLE_KEYS) {
      engine.quit(ch); // a client that invents startup parameters would fill the backend
      return;
    }
    ArrayDeque<Channel> idle = byKey.computeIfAbsent(key, k -> new ArrayDeque<>());
    if (idle.size() >= config.maxIdle()) {
      engine.quit(ch);
      return;
    }
    ch.attr(ENTRY).set(e);
    EventLoop loop = ch.eventLoop();
    PoolIdle i = new PoolIdle(idle, idleCount, () -> forgetIfEmpty(loop, key, idle));
    ch.pipeline().addLast("pool-idle", i);
    idle.addLast(ch);
    idleCount.incrementAndGet();
    if (givenBack) {
      returned.increment();
    }
    ch.config().setAutoRead(true); // the server's last words reach the Idle handler
    i.timeout = idleTimer(key, ch, i, e);
  }

  /**
   * Closes {@code ch} after {@code idle_timeout}, unless it is one of {@code min_idle} connections
   * of a warm key (then it waits another round, until its {@code max_lifetime}); a closed one of a
   * warm key is replaced.
   */
  private io.netty.util.concurrent.ScheduledFuture<?> idleTimer(
      K key, Channel ch, PoolIdle i, Entry<C> e) {
    EventLoop loop = ch.eventLoop();
    return loop.schedule(
        () -> {
          Map<K, Warmer<C>> mine = warmers.get(loop);
          ArrayDeque<Channel> idle = idle(loop).get(key);
          if (mine != null
              && mine.containsKey(key)
              && idle != null
              && idle.size() <= config.minIdle()
              && !expired(e)
              && !stale(e)) {
            i.timeout = idleTimer(key, ch, i, e);
            return;
          }
          i.leave(ch);
          engine.quit(ch);
          warm(loop, key);
        },
        config.idleTimeout().toMillis(),
        TimeUnit.MILLISECONDS);
  }

  /**
   * Health writer thread: a new epoch or a fence empties the pool (each loop its own part).
   *
   * @return null when nothing is drained, else whether every connection is (a new epoch) or only
   *     those of fenced backends: what an engine's other idle connections must follow
   */
  public Boolean onTopology(Topology t) {
    if (!enabled()) {
      return null;
    }
    boolean fenced = t.backends().stream().anyMatch(b -> b.state() == NodeState.FENCED);
    long previous = epoch;
    epoch = t.epoch();
    if (previous == t.epoch() && !fenced) {
      return null;
    }
    boolean all = previous != t.epoch();
    loops.forEach((loop, idle) -> loop.execute(() -> drain(idle, t, all)));
    // warm keys start again from the sessions of the new topology (a session may have come in
    // since the epoch changed); those of sessions before the first topology (the start-up
    // reconciliation) belong to it, unless it fences them
    long first = previous == -1 ? t.epoch() : -1;
    warmers.forEach(
        (loop, mine) ->
            loop.execute(
                () -> {
                  mine.entrySet()
                      .removeIf(
                          e ->
                              fenced(t, e.getKey().backend())
                                  || (e.getValue().epoch != t.epoch()
                                      && (first == -1 || e.getValue().epoch != -1)));
                  mine.forEach(
                      (k, w) -> {
                        if (w.epoch == -1) {
                          w.epoch = first;
                          warm(loop, k);
                        }
                      });
                }));
    return all;
  }

  /** Whether {@code t} fences {@code backend} (or no longer has it). */
  public static boolean fenced(Topology t, String backend) {
    return t.backend(backend).map(b -> b.state() == NodeState.FENCED).orElse(true);
  }

  private void drain(Map<K, ArrayDeque<Channel>> idle, Topology t, boolean all) {
    for (Iterator<Map.Entry<K, ArrayDeque<Channel>>> it = idle.entrySet().iterator();
        it.hasNext(); ) {
      Map.Entry<K, ArrayDeque<Channel>> e = it.next();
      if (all || fenced(t, e.getKey().backend())) {
        idleCount.addAndGet(-e.getValue().size());
        List<Channel> closing = List.copyOf(e.getValue());
        e.getValue().clear();
        it.remove();
        closing.forEach(engine::quit);
      }
    }
  }

  /** Sessions that took a pooled connection instead of logging in. */
  public long reused() {
    return reused.sum();
  }

  /** Backend logins of this listener's sessions while pooling. */
  public long opened() {
    return opened.sum();
  }

  /** Connections opened by {@code min_idle} and kept idle. */
  public long warmed() {
    return warmed.sum();
  }

  /** Connections given back, reset and kept. */
  public long returned() {
    return returned.sum();
  }

  /** Idle connections in the pool now (all event loops). */
  public int idle() {
    return idleCount.get();
  }

  public long checksPassed() {
    return checksPassed.sum();
  }

  public long checksFailed() {
    return checksFailed.sum();
  }

  /** The admin view of a session-mode pool (nothing waits in session mode). */
  public io.halo.proxy.admin.ProxyView.PoolView view(String listener, String cluster) {
    return new io.halo.proxy.admin.ProxyView.PoolView(
        listener,
        cluster,
        config.mode().name().toLowerCase(java.util.Locale.ROOT),
        idle(),
        0,
        0,
        reused(),
        opened(),
        returned(),
        0,
        0,
        0,
        checksPassed(),
        checksFailed(),
        warmed());
  }

  @SuppressWarnings("unchecked") // one attribute key for every pool; a channel is in one pool
  private Entry<C> entry(Channel ch) {
    return (Entry<C>) ch.attr(ENTRY).get();
  }

  /**
   * Drops {@code key}'s list when it is empty: keys are the clients' to choose (startup parameters,
   * databases, character sets), so lists of keys without connections must not stay.
   */
  private void forgetIfEmpty(EventLoop loop, K key, ArrayDeque<Channel> idle) {
    if (idle != null && idle.isEmpty()) {
      idle(loop).remove(key, idle);
    }
  }

  private Map<K, ArrayDeque<Channel>> idle(EventLoop loop) {
    return loops.computeIfAbsent(loop, l -> new HashMap<>());
  }

  /** Opened under an older epoch (its backend's role may have changed since); -1: before any. */
  private boolean stale(Entry<C> e) {
    return e.epoch() != -1 && e.epoch() != epoch;
  }

  private boolean expired(Entry<C> e) {
    return now() - e.bornNanos() >= config.maxLifetime().toNanos();
  }

  private static long now() {
    return System.nanoTime();
  }
}

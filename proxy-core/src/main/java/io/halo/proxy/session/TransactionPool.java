package io.halo.proxy.session;

import io.halo.conf.model.PoolConfig;
import io.halo.health.state.Topology;
import io.halo.routing.throttle.Permit;
import io.netty.channel.Channel;
import io.netty.channel.EventLoop;
import io.netty.util.AttributeKey;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.Promise;
import io.netty.util.concurrent.ScheduledFuture;
import java.util.ArrayDeque;
import java.util.HashMap;
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
 * Transaction pooling of one listener ({@code pool_mode: transaction}, both engines): a session
 * checks a backend connection out for a transaction (or a statement outside one) and checks it in
 * afterwards; the protocol-neutral part. The engine says how to check a connection, say goodbye,
 * and what a pooled connection's login said for the sessions that reuse it ({@link Engine}).
 *
 * <p>Design memo. Connections are kept per event loop and key ({@link Slot}): a backend connection
 * stays on the loop it was opened on, which is its clients' loop too, so checkout and checkin never
 * cross threads and each loop's slots are touched by that loop only (no locks). {@code size} is
 * shared out among the loops. A checkout takes the most recently used idle connection, else logs in
 * while the slot has room, else waits FIFO for a checkin, at most {@code wait_timeout} ({@link
 * WaitTimeout}). Every connection holds a session permit of its backend ({@code
 * throttle.max_connections}) for its whole life, whatever its key. One {@link PoolIdle} handler per
 * connection, kept across transactions, drops it when the server closes it or speaks unasked while
 * it is idle; a sweeper per slot closes connections idle beyond {@code idle_timeout} (sparing
 * {@code min_idle}). A connection idle beyond {@code check_after} is checked before a session gets
 * it. A new epoch or a fence empties the slots concerned; a connection opened under an older epoch
 * is closed at checkin.
 *
 * @param <K> the pool key (backend, user, database and what else the login fixed)
 * @param <C> the engine's connection (a channel and what its login said)
 * @param <M> what a slot keeps of its first login for the engine (e.g. PostgreSQL's ParameterStatus
 *     messages, for logins that take no connection); the engine releases it
 */
public final class TransactionPool<K extends SessionPool.Key, C, M> {

  private static final Logger log = LoggerFactory.getLogger(TransactionPool.class);

  /** The engine's part; every call on the connection's event loop. */
  public interface Engine<C, M> {
    Channel channel(C connection);

    /**
     * Whether an idle connection (nothing in its pipeline reads for a session) still answers:
     * {@code done} once, true when it does.
     */
    void check(Channel channel, Consumer<Boolean> done);

    /** Ends a connection politely (the engine's goodbye, then close). */
    void quit(Channel channel);

    /**
     * A fresh login becomes the pool's: the engine keeps with its channel what sessions reusing it
     * need (freed when the channel closes). Runs before any other listener of the login.
     */
    void adopted(C fresh);

    /**
     * What a session reusing {@code channel} gets; null when the engine kept nothing of it. {@code
     * login}: the session logs in with it and gets what the login said; otherwise the session has
     * logged in already, and an engine may leave that out.
     */
    C lend(Channel channel, boolean login);

    /** Frees what a lent or fresh connection holds beside its channel (the pool keeps the rest). */
    default void release(C connection) {}

    /** What the slot keeps of {@code fresh}, the first login of its key (or null). */
    default M memo(C fresh) {
      return null;
    }

    default void releaseMemo(M memo) {}
  }

  /** A transaction waited {@code wait_timeout} for a connection of a full pool. */
  public static final class WaitTimeout extends Exception {
    private static final long serialVersionUID = 1L;

    public WaitTimeout(String message) {
      super(message, null, false, false);
    }
  }

  /**
   * What the pool knows of one of its connections: its key and slot (checkin finds the slot without
   * a map lookup while it lives), when and in which epoch it logged in.
   */
  private static final class Born {
    private final Channel channel;
    private final Object key;
    private final Slot<?, ?, ?> slot;
    private final long nanos;
    private final long epoch;

    /** While the connection waits idle: the list it waits in and its neighbours there. */
    private IdleList in;

    private Born prev;
    private Born next;

    /**
     * The connection's {@link PoolIdle} handler once it was first checked in (it stays in the
     * pipeline from then on): found here without a walk of the pipeline per transaction.
     */
    private PoolIdle idle;

    Born(Channel channel, Object key, Slot<?, ?, ?> slot, long nanos, long epoch) {
      this.channel = channel;
      this.key = key;
      this.slot = slot;
      this.nanos = nanos;
      this.epoch = epoch;
    }

    Object key() {
      return key;
    }

    Slot<?, ?, ?> slot() {
      return slot;
    }

    long nanos() {
      return nanos;
    }

    long epoch() {
      return epoch;
    }
  }

  /** {@code ch}'s {@link PoolIdle} handler, or null (never checked in, or not the pool's). */
  private static PoolIdle idleOf(Channel ch) {
    Born b = ch.attr(BORN).get();
    return b == null ? null : b.idle;
  }

  /**
   * A slot's idle connections, the least recently used first: a doubly linked list through their
   * {@link Born} records, so that a checkout takes the connection its session used last out of the
   * middle without a scan (an {@code ArrayDeque}'s removal scanned and shifted the others, at every
   * transaction). On the slot's loop only.
   */
  private static final class IdleList implements PoolIdle.Waiting {
    private Born first;
    private Born last;
    private int size;

    int size() {
      return size;
    }

    @Override
    public boolean isEmpty() {
      return size == 0;
    }

    void addLast(Born b) {
      if (b.in != null) {
        b.in.unlink(b); // (never listed twice)
      }
      b.in = this;
      b.prev = last;
      b.next = null;
      if (last == null) {
        first = b;
      } else {
        last.next = b;
      }
      last = b;
      size++;
    }

    /** The least recently used idle connection, or null. */
    Channel peekFirst() {
      return first == null ? null : first.channel;
    }

    Channel pollFirst() {
      return taken(first);
    }

    Channel pollLast() {
      return taken(last);
    }

    /** {@code b}'s connection, taken out; null for none. */
    private Channel taken(Born b) {
      if (b == null) {
        return null;
      }
      unlink(b);
      return b.channel;
    }

    /** Takes {@code b}'s connection out when it waits in this list. */
    boolean remove(Born b) {
      if (b.in != this) {
        return false;
      }
      unlink(b);
      return true;
    }

    @Override
    public boolean remove(Channel ch) {
      Born b = ch.attr(BORN).get();
      return b != null && remove(b);
    }

    /** Empties the list: its connections, the least recently used first. */
    List<Channel> clear() {
      List<Channel> all = snapshot();
      while (first != null) {
        unlink(first);
      }
      return all;
    }

    /** Its connections, the least recently used first (a copy). */
    List<Channel> snapshot() {
      List<Channel> all = new java.util.ArrayList<>(size);
      for (Born b = first; b != null; b = b.next) {
        all.add(b.channel);
      }
      return all;
    }

    private void unlink(Born b) {
      if (b.prev == null) {
        first = b.next;
      } else {
        b.prev.next = b.next;
      }
      if (b.next == null) {
        last = b.prev;
      } else {
        b.next.prev = b.prev;
      }
      b.prev = null;
      b.next = null;
      b.in = null;
      size--;
    }
  }

  /**
   * A session's memo of the slot its key's connections wait in on its loop, so that a checkout with
   * the same key object finds it without two map lookups (a hash and an {@code equals} of the key
   * each time); valid while the slot lives ({@link #forget} marks it gone). Owned by one session,
   * on its loop.
   */
  public static final class Place {
    private Object key;
    private Slot<?, ?, ?> slot;
  }

  private static final AttributeKey<Born> BORN = AttributeKey.valueOf("halo.pool.tx.born");

  /** Shortest and longest pause after a failed {@code min_idle} login (doubling between). */
  private static final long WARM_PAUSE_MIN_NANOS = TimeUnit.SECONDS.toNanos(1);

  private static final long WARM_PAUSE_MAX_NANOS = TimeUnit.SECONDS.toNanos(30);

  /** Replaced by a reload ({@link #reconfigure}); {@code mode} never changes. */
  private volatile PoolConfig config;

  private final Engine<C, M> engine;
  private final int loops;

  /** Connections per key and event loop at most ({@code size} shared out). */
  private volatile int perLoop;

  /** Per event loop, each key's connections; the inner maps belong to their loop. */
  private final Map<EventLoop, Map<K, Slot<K, C, M>>> slots = new ConcurrentHashMap<>();

  /**
   * Every connection the pool opens holds a session permit of its backend ({@code
   * throttle.max_connections}), whatever its key; null only in unit tests.
   */
  private final Admission admission;

  private final LongAdder reused = new LongAdder();
  private final LongAdder opened = new LongAdder();
  private final LongAdder returned = new LongAdder();
  private final AtomicInteger idleCount = new AtomicInteger();
  private final AtomicInteger openCount = new AtomicInteger();
  private final AtomicInteger waitingCount = new AtomicInteger();
  private final LongAdder waitTimeouts = new LongAdder();
  private final LongAdder waits = new LongAdder();
  private final LongAdder waitNanos = new LongAdder();
  private final LongAdder checksPassed = new LongAdder();
  private final LongAdder checksFailed = new LongAdder();
  private final LongAdder warmed = new LongAdder();
  private volatile long epoch = -1;

  /** Halo is stopping: no login to keep min_idle, no connection kept idle. */
  private volatile boolean stopped;

  /**
   * @param loops the event loops sessions run on: {@code size} is shared out among them
   * @param admission the cluster's admission: connections count against {@code
   *     throttle.max_connections} across keys
   */
  public TransactionPool(PoolConfig config, int loops, Admission admission, Engine<C, M> engine) {
    this.config = config;
    this.idleTransactionNanos = config.idleTransactionTimeout().toNanos();
    timeouts(config);
    this.engine = engine;
    this.loops = Math.max(1, loops);
    this.perLoop = share(config.size());
    this.admission = admission;
  }

  private int share(int size) {
    return Math.max(1, (size + loops - 1) / loops);
  }

  /** {@code idle_transaction_timeout} as now configured, in nanoseconds (0: none). Any thread. */
  public long idleTransactionNanos() {
    return idleTransactionNanos;
  }

  /**
   * {@code config}'s idle_timeout, check_after and max_lifetime in nanoseconds (every checkout).
   */
  private volatile long idleTimeoutNanos;

  private volatile long checkAfterNanos;
  private volatile long maxLifetimeNanos;

  private void timeouts(PoolConfig c) {
    idleTimeoutNanos = c.idleTimeout().toNanos();
    checkAfterNanos = c.checkAfter().toNanos();
    maxLifetimeNanos = c.maxLifetime().toNanos();
  }

  /** {@code config}'s idle_transaction_timeout, read by every session at every reply. */
  private volatile long idleTransactionNanos;

  /**
   * Takes a reloaded {@code pool:} (its mode stays): a larger {@code size} serves waiting
   * transactions at once, a smaller one closes idle connections beyond it now and busy ones as they
   * are checked in; the timeouts, {@code min_idle} and {@code check_after} apply from the next use.
   * Any thread.
   */
  public void reconfigure(PoolConfig next) {
    config = next;
    idleTransactionNanos = next.idleTransactionTimeout().toNanos();
    timeouts(next);
    perLoop = share(next.size());
    slots.forEach(
        (l, loopSlots) ->
            onLoop(
                l,
                () -> {
                  for (Slot<K, C, M> slot : List.copyOf(loopSlots.values())) {
                    // (slot.open falls only when a close completes: count the excess once)
                    int excess = slot.open - slot.retiring - perLoop;
                    for (; excess > 0 && !slot.idle.isEmpty(); excess--) {
                      Channel ch = slot.idle.pollFirst(); // the least recently used
                      idleCount.decrementAndGet();
                      PoolIdle i = idleOf(ch);
                      if (i != null) {
                        i.leave(ch);
                      }
                      retire(slot, ch);
                    }
                    serveWaiters(slot);
                    warm(slot);
                  }
                }));
  }

  /** One key's connections on one event loop; leaves its loop's map once it has none. */
  private static final class Slot<K, C, M> {
    final K key;
    final EventLoop loop;
    final IdleList idle = new IdleList();
    final ArrayDeque<Waiter<C>> waiters = new ArrayDeque<>();

    /** Connections open or logging in (idle ones included). */
    int open;

    /** Of those, connections closing because a reload shrank the pool (not counted down yet). */
    int retiring;

    /** Closes connections idle beyond idle_timeout; null while none is scheduled. */
    ScheduledFuture<?> sweeper;

    /** The epoch the slot was made in: it keeps {@code min_idle} connections only in that one. */
    final long epoch;

    /** The newest checkout's way to log in: {@code min_idle} logins use it. */
    Supplier<Future<C>> login;

    /** {@code min_idle} logins under way. */
    int warming;

    /** After a failed {@code min_idle} login: no other before this time, and the next pause. */
    long warmAfter;

    long warmPauseNanos = WARM_PAUSE_MIN_NANOS;

    /** The engine's memo of the key's first login in this epoch; null until then. */
    M memo;

    /**
     * Left its loop's map ({@link #forget}): a {@link Place} or {@link Born} naming it is stale.
     */
    boolean gone;

    /** Since when the connection taken last ({@link #take}) had waited idle. */
    long takenIdleSince;

    /** When that connection was taken (one clock read per checkout). */
    long takenAt;

    Slot(K key, EventLoop loop, long epoch) {
      this.key = key;
      this.loop = loop;
      this.epoch = epoch;
    }
  }

  /** A transaction waiting for a connection of a full pool. */
  private static final class Waiter<C> {
    final Promise<C> promise;
    final Supplier<Future<C>> login;
    final boolean forLogin;
    final long since = System.nanoTime();
    ScheduledFuture<?> timer;

    Waiter(Promise<C> promise, Supplier<Future<C>> login, boolean forLogin) {
      this.promise = promise;
      this.login = login;
      this.forLogin = forLogin;
    }
  }

  // ------------------------------------------------------------------ checkout

  /**
   * A connection for {@code key}: an idle one (checked first if it idled beyond {@code
   * check_after}), a new login ({@code login}) while the pool has room, else the first one checked
   * in (FIFO), or a {@link WaitTimeout} after {@code wait_timeout}. The caller owns what the engine
   * lent with the connection and checks it in with {@link #checkin}. On {@code loop} only.
   */
  public Future<C> checkout(EventLoop loop, K key, Supplier<Future<C>> login) {
    return checkout(loop, key, login, null, null);
  }

  /**
   * As {@link #checkout(EventLoop, SessionPool.Key, Supplier)}, for a session that has logged in
   * already (with {@code place}: the engine may leave out what the login said), taking {@code
   * preferred} when it waits idle in the key's pool and is not the oldest idle one there (the
   * connection the session used last, whose server process, settings and prepared statements are
   * the session's already), and finding the key's slot through {@code place} (the session's memo,
   * null for none) while it holds it.
   */
  public Future<C> checkout(
      EventLoop loop, K key, Supplier<Future<C>> login, Channel preferred, Place place) {
    boolean forLogin = place == null;
    Slot<K, C, M> placed = placed(place, loop, key);
    Slot<K, C, M> slot = placed != null ? placed : placeOf(place, loop, key);
    slot.login = login;
    // never the oldest idle connection: under less load than the pool has connections, the oldest
    // ages out (idle_timeout) as under plain LIFO, instead of each session keeping its own alive
    C idle = null;
    if (preferred != null && slot.idle.size() > 1 && slot.idle.peekFirst() != preferred) {
      Born b = preferred.attr(BORN).get();
      if (b != null && slot.idle.remove(b)) {
        idle = take(slot, preferred, b, forLogin);
      }
    }
    if (idle == null) {
      idle = takeIdle(slot, forLogin);
    }
    if (idle != null) {
      warm(slot); // after this checkout's own open below otherwise: it must not take its place
      return checked(loop, slot, idle, slot.takenIdleSince, login);
    }
    if (slot.gone) {
      // closing a stale idle connection closed the slot's last one and the slot left the map:
      // a login counted there would be counted nowhere (and another slot for the key may open)
      slot = placeOf(place, loop, key);
      slot.login = login;
    }
    return openOrWait(loop, slot, login, forLogin);
  }

  /** A login for {@code slot} while it has room, else a wait for a checkin. On {@code loop}. */
  private Future<C> openOrWait(
      EventLoop loop, Slot<K, C, M> slot, Supplier<Future<C>> login, boolean forLogin) {
    if (slot.open < perLoop) {
      Future<C> opening = open(slot, login);
      warm(slot);
      return opening;
    }
    Promise<C> p = loop.newPromise();
    Waiter<C> w = new Waiter<>(p, login, forLogin);
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
                            + slot.key.backend()
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

  /** The slot {@code place} remembers for {@code key} on {@code loop}, or null. */
  @SuppressWarnings("unchecked") // a place is filled by this pool's checkout with its own slots
  private Slot<K, C, M> placed(Place place, EventLoop loop, K key) {
    if (place == null || place.key != key) {
      return null;
    }
    Slot<?, ?, ?> s = place.slot;
    return s != null && !s.gone && s.loop == loop ? (Slot<K, C, M>) s : null;
  }

  /** {@link #slotOf}, remembered in {@code place} (when given) for the next checkout. */
  private Slot<K, C, M> placeOf(Place place, EventLoop loop, K key) {
    Slot<K, C, M> slot = slotOf(loop, key);
    if (place != null) {
      place.key = key;
      place.slot = slot;
    }
    return slot;
  }

  /** {@code key}'s slot on {@code loop}, made when it has none. On {@code loop} only. */
  private Slot<K, C, M> slotOf(EventLoop loop, K key) {
    Map<K, Slot<K, C, M>> loopSlots = slots(loop);
    Slot<K, C, M> slot = loopSlots.get(key); // no capturing lambda per transaction
    if (slot == null) {
      slot = new Slot<>(key, loop, epoch);
      loopSlots.put(key, slot);
    }
    return slot;
  }

  /**
   * The engine's memo of a login of {@code key} on {@code loop} in this epoch, or null (no
   * connection of the key logged in there since the last epoch). Counted as a reuse when found. On
   * {@code loop} only.
   */
  public M memo(EventLoop loop, K key) {
    Slot<K, C, M> slot = slots(loop).get(key);
    if (slot == null || slot.memo == null) {
      return null;
    }
    reused.increment();
    return slot.memo;
  }

  private C takeIdle(Slot<K, C, M> slot, boolean forLogin) {
    while (!slot.idle.isEmpty()) {
      // the most recently used first: its caches are warm
      Channel ch = slot.idle.pollLast();
      C c = take(slot, ch, ch.attr(BORN).get(), forLogin);
      if (c != null) {
        return c;
      }
    }
    return null;
  }

  /** {@code ch}, just taken out of {@code slot}'s idle ones, lent; or null (it was closed). */
  private C take(Slot<K, C, M> slot, Channel ch, Born b, boolean forLogin) {
    idleCount.decrementAndGet();
    PoolIdle i = b == null ? null : b.idle;
    long now = now();
    boolean stale = false;
    slot.takenIdleSince = now;
    slot.takenAt = now;
    if (i != null) {
      i.pooled = false; // it stays in the pipeline and passes the session's replies on
      slot.takenIdleSince = i.since;
      stale = now - i.since > idleTimeoutNanos;
    }
    C c =
        ch.isActive() && b != null && !expired(b, now) && !stale ? engine.lend(ch, forLogin) : null;
    if (c == null) {
      engine.quit(ch);
      return null;
    }
    reused.increment();
    return c;
  }

  /**
   * {@code c}, idle since {@code since}, if it need not be checked or passes the check; else it is
   * closed, the key's other idle connections on every loop are checked in the background (they may
   * have died with it), and the caller gets the next checkout's connection.
   */
  private Future<C> checked(
      EventLoop loop, Slot<K, C, M> slot, C c, long since, Supplier<Future<C>> login) {
    if (slot.takenAt - since < checkAfterNanos) {
      return loop.newSucceededFuture(c);
    }
    long idleMs = (slot.takenAt - since) / 1_000_000;
    Promise<C> p = loop.newPromise();
    Channel ch = engine.channel(c);
    engine.check(
        ch,
        ok -> {
          if (ok) {
            checksPassed.increment();
            p.trySuccess(c);
            return;
          }
          checksFailed.increment();
          log.info(
              "pooled connection to {} idle {} ms failed its check; closing it",
              slot.key.backend(),
              idleMs);
          engine.release(c);
          recheckEverywhere(slot.key);
          // closed at once (no goodbye: the connection may not take one), and the next try once
          // the close is counted (the slot's own close listener runs first)
          ch.close()
              .addListener(
                  x -> {
                    try {
                      checkout(loop, slot.key, login).addListener(cascade(p));
                    } catch (RuntimeException e) {
                      p.tryFailure(e);
                    }
                  });
        });
    return p;
  }

  /** Every loop checks its idle connections of {@code key} again (this loop's at once). */
  private void recheckEverywhere(K key) {
    slots.forEach(
        (l, loopSlots) ->
            onLoop(
                l,
                () -> {
                  Slot<K, C, M> slot = loopSlots.get(key);
                  if (slot != null) {
                    recheck(slot);
                  }
                }));
  }

  private void recheck(Slot<K, C, M> slot) {
    List<Channel> all = slot.idle.clear();
    idleCount.addAndGet(-all.size());
    for (Channel ch : all) {
      PoolIdle i = idleOf(ch);
      if (i != null) {
        i.pooled = false; // replies pass on to the check
      }
      engine.check(
          ch,
          ok -> {
            if (ok) {
              checksPassed.increment();
              checkin(ch);
            } else {
              checksFailed.increment();
              ch.close();
            }
          });
    }
  }

  private static void onLoop(EventLoop l, Runnable r) {
    if (l.inEventLoop()) {
      r.run();
    } else {
      l.execute(r);
    }
  }

  private static <T> io.netty.util.concurrent.GenericFutureListener<Future<T>> cascade(
      Promise<T> p) {
    return f -> {
      if (f.isSuccess()) {
        p.trySuccess(f.getNow());
      } else {
        p.tryFailure(f.cause());
      }
    };
  }

  // ------------------------------------------------------------------ logins

  /**
   * A new login counted in {@code slot}, holding a session permit of its backend for its whole
   * life; its close makes room for the first waiter. Without a free permit, the least recently used
   * idle connection of another key to the same backend on this loop (else on each other loop while
   * a login waits) is closed for it, and the login queues for the permit ({@code
   * throttle.max_queue}, {@code queue_timeout}).
   */
  private Future<C> open(Slot<K, C, M> slot, Supplier<Future<C>> login) {
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
    boolean evicted = evictOn(slot.loop, slot);
    Promise<C> p = slot.loop.newPromise();
    java.util.concurrent.CompletableFuture<Permit> queued = admission.acquire(backend, slot.loop);
    queued.whenComplete(
        (permit, e) -> {
          if (e != null) {
            closed(slot);
            Throwable why =
                e instanceof java.util.concurrent.CompletionException ? e.getCause() : e;
            p.tryFailure(new WaitTimeout(why.getMessage()));
            return;
          }
          login(slot, permit, login).addListener(cascade(p));
        });
    if (!evicted && !queued.isDone()) {
      // (once the login waits: each other loop checks that one does; a login refused at once, the
      // queue full, closes nothing)
      evictElsewhere(slot);
    }
    return p;
  }

  private Future<C> login(Slot<K, C, M> slot, Permit permit, Supplier<Future<C>> login) {
    Future<C> f;
    try {
      f = login.get();
    } catch (RuntimeException e) {
      if (permit != null) {
        permit.ignore();
      }
      closed(slot);
      throw e;
    }
    // the first listener: the engine keeps what the login said before the session takes it
    f.addListener(
        done -> {
          if (!done.isSuccess()) {
            if (permit != null) {
              permit.dropped();
            }
            closed(slot);
            return;
          }
          C c = f.getNow();
          opened.increment();
          engine.adopted(c);
          Channel ch = engine.channel(c);
          ch.attr(BORN).set(new Born(ch, slot.key, slot, now(), epoch));
          if (slot.memo == null) {
            slot.memo = engine.memo(c);
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
   * {@code wanting}'s login waits for a permit and its own loop had no idle connection to close for
   * it: each other loop closes its least recently used idle connection to the backend while a login
   * still waits (the permits may all be held by connections idle on another loop, where no checkin
   * may come to give one up).
   */
  private void evictElsewhere(Slot<K, C, M> wanting) {
    String backend = wanting.key.backend();
    for (EventLoop l : slots.keySet()) {
      if (l != wanting.loop) {
        l.execute(
            () -> {
              if (admission.waiting(backend)) {
                evictOn(l, wanting);
              }
            });
      }
    }
  }

  /**
   * Closes {@code loop}'s least recently used idle connection to {@code wanting}'s backend, of any
   * slot but {@code wanting}, so that its permit goes to the queue {@code wanting}'s login joins;
   * false when it has none. On {@code loop}.
   */
  private boolean evictOn(EventLoop loop, Slot<K, C, M> wanting) {
    Channel oldest = null;
    PoolIdle oldestIdle = null;
    for (Slot<K, C, M> s : slots(loop).values()) {
      if (s == wanting || s.idle.isEmpty() || !s.key.backend().equals(wanting.key.backend())) {
        continue;
      }
      Channel ch = s.idle.peekFirst(); // each slot's least recently used
      PoolIdle i = idleOf(ch);
      if (i != null && (oldestIdle == null || i.since - oldestIdle.since < 0)) {
        oldest = ch;
        oldestIdle = i;
      }
    }
    if (oldest == null) {
      return false;
    }
    log.debug("throttle.max_connections reached: closing idle {} for another key", oldest);
    oldestIdle.leave(oldest);
    engine.quit(oldest);
    return true;
  }

  /**
   * Opens connections until {@code slot} has {@code min_idle} idle ones (those logging in count),
   * within its loop's share of {@code size}; only in the slot's own epoch, with nobody waiting, and
   * with a free permit of the backend (it never queues for one, nor closes another key's connection
   * for it). One login at a time; a failed one pauses it (1 s, doubling to 30 s). On the slot's
   * loop.
   */
  private void warm(Slot<K, C, M> slot) {
    if (config.minIdle() > 0
        && !stopped
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
      Future<C> f;
      try {
        f = login(slot, permit, slot.login);
      } catch (RuntimeException e) {
        slot.warming--;
        pauseWarming(slot, e);
        return;
      }
      f.addListener(
          (Future<C> done) -> {
            slot.warming--;
            if (done.isSuccess()) {
              warmed.increment();
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

  private void pauseWarming(Slot<K, C, M> slot, Throwable why) {
    log.debug("min_idle login to {} failed: {}", slot.key.backend(), why.toString());
    long pause = slot.warmPauseNanos;
    slot.warmAfter = now() + pause;
    slot.warmPauseNanos = Math.min(WARM_PAUSE_MAX_NANOS, slot.warmPauseNanos * 2);
    slot.loop.schedule(() -> warm(slot), pause, TimeUnit.NANOSECONDS);
  }

  /** A connection of {@code slot} closed (or never opened): the first waiter may log in. */
  private void closed(Slot<K, C, M> slot) {
    slot.open--;
    openCount.decrementAndGet();
    if (slot.waiters.isEmpty() || slot.open >= perLoop) {
      // (at or above the size: a reload shrank the pool, a checkin serves the waiters)
      warm(slot);
      if (slot.open == 0 && slot.idle.isEmpty()) { // (open 0 is below any size: nobody waits)
        forget(slot);
      }
      return;
    }
    serveWaiters(slot);
  }

  /** Closes {@code ch}, one too many for a pool a reload shrank. On the slot's loop. */
  private void retire(Slot<K, C, M> slot, Channel ch) {
    slot.retiring++;
    ch.closeFuture().addListener(x -> slot.retiring--);
    engine.quit(ch);
  }

  /** Logs in for the first waiters while the slot has room. On the slot's loop. */
  private void serveWaiters(Slot<K, C, M> slot) {
    Waiter<C> w;
    while (slot.open < perLoop && (w = slot.waiters.pollFirst()) != null) {
      Waiter<C> served = w;
      waited(served);
      served.timer.cancel(false);
      Future<C> opening;
      try {
        opening = open(slot, served.login);
      } catch (RuntimeException e) {
        served.promise.tryFailure(e); // (the login could not even start; counted as closed)
        continue;
      }
      opening.addListener(
          (Future<C> f) -> {
            if (f.isSuccess()) {
              if (!served.promise.trySuccess(f.getNow())) {
                release(f.getNow());
              }
            } else {
              served.promise.tryFailure(f.cause());
            }
          });
    }
  }

  /** The slot of a connection born as {@code b} on {@code loop}, or null when it has none. */
  @SuppressWarnings("unchecked") // the pool set it: a channel is in one pool
  private Slot<K, C, M> bornIn(Born b, EventLoop loop) {
    Slot<?, ?, ?> s = b.slot();
    return !s.gone ? (Slot<K, C, M>) s : slots(loop).get((K) b.key());
  }

  /** {@code slot} has no connection and nobody waits: it leaves its loop's map. On its loop. */
  private void forget(Slot<K, C, M> slot) {
    Map<K, Slot<K, C, M>> loopSlots = slots(slot.loop);
    if (loopSlots.get(slot.key) == slot) {
      loopSlots.remove(slot.key);
    }
    slot.gone = true;
    slot.login = null; // a pending min_idle retry finds it gone
    dropMemo(slot);
    if (slot.sweeper != null) {
      slot.sweeper.cancel(false);
      slot.sweeper = null;
    }
  }

  private void dropMemo(Slot<K, C, M> slot) {
    if (slot.memo != null) {
      engine.releaseMemo(slot.memo);
      slot.memo = null;
    }
  }

  /** Checks in a connection nobody took (its waiter had gone). */
  private void release(C c) {
    engine.release(c);
    checkin(engine.channel(c));
  }

  private void waited(Waiter<C> w) {
    waitingCount.decrementAndGet();
    waits.increment();
    waitNanos.add(System.nanoTime() - w.since);
  }

  // ------------------------------------------------------------------ checkin

  /**
   * A session is done with {@code ch} between transactions (its handlers removed, nothing of the
   * session left on it): the first waiter takes it, or it waits idle; it closes instead when it is
   * too old, opened under an older epoch or broken. On the channel's loop.
   */
  public void checkin(Channel ch) {
    Born b = ch.attr(BORN).get();
    Slot<K, C, M> slot = b == null ? null : bornIn(b, ch.eventLoop());
    long now = now();
    if (slot == null || stopped || !ch.isActive() || expired(b, now) || b.epoch() != epoch) {
      engine.quit(ch);
      return;
    }
    if (slot.open - slot.retiring > perLoop) { // a reload shrank the pool
      retire(slot, ch);
      return;
    }
    returned.increment();
    Waiter<C> w;
    while ((w = slot.waiters.pollFirst()) != null) {
      waited(w);
      w.timer.cancel(false);
      C c = engine.lend(ch, w.forLogin);
      if (c == null) {
        w.promise.tryFailure(new IllegalStateException("pooled connection without its login"));
        engine.quit(ch);
        return;
      }
      reused.increment();
      if (w.promise.trySuccess(c)) {
        return;
      }
      engine.release(c);
    }
    if (admission != null && admission.waiting(slot.key.backend())) {
      // another key's login (or another listener's session) waits for this backend's permit
      engine.quit(ch);
      return;
    }
    // One PoolIdle handler per connection, kept across transactions (no pipeline change and no
    // timer per transaction): pooled, it drops the connection on any server message; taken, it
    // passes messages on. The slot's sweeper closes connections idle beyond idle_timeout.
    PoolIdle i = b.idle;
    if (i == null) {
      i = new PoolIdle(slot.idle, idleCount);
      ch.pipeline().addLast("pool-idle", i);
      b.idle = i;
    }
    i.pooled = true;
    i.since = now;
    slot.idle.addLast(b);
    idleCount.incrementAndGet();
    if (slot.sweeper == null) {
      sweepLater(ch.eventLoop(), slot);
    }
  }

  /** Closes {@code slot}'s connections idle beyond idle_timeout, then again while any are idle. */
  private void sweepLater(EventLoop loop, Slot<K, C, M> slot) {
    long period = Math.max(1, config.idleTimeout().toMillis() / 2);
    slot.sweeper =
        loop.schedule(
            () -> {
              slot.sweeper = null;
              long limit = now() - idleTimeoutNanos;
              // the least recently used first; the newest min_idle of them stay (while the slot's
              // epoch is current), unless they outlived max_lifetime (then others replace them)
              int keep = slot.epoch == epoch ? config.minIdle() : 0;
              List<Channel> idle = slot.idle.snapshot();
              for (int n = 0; n < idle.size(); n++) {
                Channel ch = idle.get(n);
                PoolIdle i = idleOf(ch);
                Born b = ch.attr(BORN).get();
                boolean old = i != null && i.since - limit < 0 && idle.size() - n > keep;
                if (i != null && (old || b == null || expired(b))) {
                  i.leave(ch);
                  engine.quit(ch);
                }
              }
              if (!slot.idle.isEmpty()) {
                sweepLater(loop, slot);
              }
            },
            period,
            TimeUnit.MILLISECONDS);
  }

  // ------------------------------------------------------------------ topology and figures

  /**
   * Health writer thread: the decision of the listener's session pool ({@link
   * SessionPool#onTopology}): null drains nothing, true every connection (a new epoch), false those
   * of fenced backends. Each loop empties its own slots.
   */
  public void onTopology(Topology t, Boolean all) {
    epoch = t.epoch();
    if (all == null) {
      return;
    }
    for (Map.Entry<EventLoop, Map<K, Slot<K, C, M>>> e : slots.entrySet()) {
      e.getKey().execute(() -> drain(e.getValue(), t, all));
    }
  }

  private void drain(Map<K, Slot<K, C, M>> loopSlots, Topology t, boolean all) {
    // a copy: a slot whose last connection closes leaves the map
    for (Slot<K, C, M> slot : List.copyOf(loopSlots.values())) {
      if (all || SessionPool.fenced(t, slot.key.backend())) {
        dropMemo(slot);
        idleCount.addAndGet(-slot.idle.size());
        List<Channel> closing = slot.idle.clear();
        closing.forEach(engine::quit);
      }
    }
  }

  /**
   * Halo is stopping (its connections are about to be closed): logins to keep {@code min_idle} and
   * connections given back idle end here. Any thread.
   */
  public void stop() {
    stopped = true;
  }

  /** Releases what the pool keeps beside connections (after the event loops stopped). */
  public void close() {
    for (Map<K, Slot<K, C, M>> loopSlots : slots.values()) {
      loopSlots.values().forEach(this::dropMemo);
    }
  }

  /** The admin view of a listener's pool: this one's figures and its session pool's. */
  public io.halo.proxy.admin.ProxyView.PoolView view(
      String listener, String cluster, SessionPool<?, ?> sessions) {
    return new io.halo.proxy.admin.ProxyView.PoolView(
        listener,
        cluster,
        config.mode().name().toLowerCase(java.util.Locale.ROOT),
        idleCount.get() + sessions.idle(),
        openCount.get(),
        waitingCount.get(),
        reused.sum() + sessions.reused(),
        opened.sum() + sessions.opened(),
        returned.sum() + sessions.returned(),
        waitTimeouts.sum(),
        waits.sum(),
        waitNanos.sum() / 1e9,
        checksPassed.sum() + sessions.checksPassed(),
        checksFailed.sum() + sessions.checksFailed(),
        warmed.sum() + sessions.warmed());
  }

  /** Sessions that took a pooled connection (or a login's memo) instead of logging in. */
  public long reused() {
    return reused.sum();
  }

  /** Logins of this pool. */
  public long opened() {
    return opened.sum();
  }

  /** Connections checked in. */
  public long returned() {
    return returned.sum();
  }

  /** Idle connections now (all event loops). */
  public int idle() {
    return idleCount.get();
  }

  private Map<K, Slot<K, C, M>> slots(EventLoop loop) {
    Map<K, Slot<K, C, M>> loopSlots = slots.get(loop); // twice per transaction: no bin lock
    return loopSlots != null ? loopSlots : slots.computeIfAbsent(loop, l -> new HashMap<>());
  }

  private boolean expired(Born b) {
    return expired(b, now());
  }

  private boolean expired(Born b, long now) {
    return now - b.nanos() > maxLifetimeNanos;
  }

  private static long now() {
    return System.nanoTime();
  }
}

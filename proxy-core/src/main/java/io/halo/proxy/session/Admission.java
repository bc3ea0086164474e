package io.halo.proxy.session;

import io.halo.conf.model.ThrottleConfig;
import io.halo.conf.model.ThrottleLimit;
import io.halo.routing.balance.BackendLoads;
import io.halo.routing.throttle.ConcurrencyLimiter;
import io.halo.routing.throttle.FixedLimit;
import io.halo.routing.throttle.GradientLimit;
import io.halo.routing.throttle.Limit;
import io.halo.routing.throttle.Permit;
import io.halo.routing.throttle.ThrottledException;
import io.netty.channel.Channel;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.TreeMap;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executor;
import java.util.concurrent.ScheduledExecutorService;
import java.util.function.Consumer;

/**
 * Admission to the backends of one cluster, at two levels, each a {@link ConcurrencyLimiter} per
 * backend with a bounded queue and {@code queue_timeout}:
 *
 * <ul>
 *   <li><b>Sessions</b>: at most {@code throttle.max_connections} client sessions per backend (Halo
 *       opens one backend connection per client session). A session holds its permit from login to
 *       close.
 *   <li><b>Transactions</b>: at most {@code throttle.max_transactions} transactions running at once
 *       per backend, fixed or adaptive ({@code limit: gradient}, driven by the measured transaction
 *       latency). A session takes a permit through its {@link TransactionGate} when it starts new
 *       work between transactions and gives it back at the end of the transaction; the permit's
 *       duration is the latency sample and feeds {@link BackendLoads} too.
 * </ul>
 *
 * <p>Refusals are {@link ThrottledException}s whose message names the backend, the limit, the queue
 * and the wait; the protocol wraps them in 53300 / MySQL 1040.
 *
 * <p><b>Runtime changes</b> ({@link #update}, from the admin API) resize the existing limiters
 * (raised limits admit waiters at once; lowered ones revoke nothing) and apply to limiters created
 * later. Setting {@code max_transactions} to 0 switches transaction admission off: transactions
 * holding permits still return them, new ones take none. Never blocks; thread-safe.
 */
public final class Admission {

  /** What an operator may change at runtime, and the fixed rest, for the admin API. */
  public record Settings(
      int maxConnections,
      int maxTransactions,
      int maxQueue,
      Duration queueTimeout,
      ThrottleLimit limit,
      int minTransactions) {}

  /** One limiter's figures, for metrics and the admin API. */
  public record LimiterView(
      String backend,
      String unit,
      String kind,
      int limit,
      int maximum,
      int inUse,
      int waiting,
      int maxQueue,
      long admitted,
      long rejectedQueueFull,
      long rejectedTimedOut) {}

  private static final String SESSIONS = "sessions";
  private static final String TRANSACTIONS = "transactions";

  private final ScheduledExecutorService timer;
  private final BackendLoads loads;
  private final UserLimits users;
  private volatile Settings settings;
  private final ConcurrentHashMap<String, ConcurrencyLimiter> sessionLimiters =
      new ConcurrentHashMap<>();
  private final ConcurrentHashMap<String, ConcurrencyLimiter> txLimiters =
      new ConcurrentHashMap<>();

  /** Session admission only, no load figures, no user limits (tests). */
  public Admission(ThrottleConfig config, ScheduledExecutorService timer) {
    this(config, timer, null, UserLimits.none());
  }

  /**
   * @param loads the cluster's load figures (transaction counts and latency are fed here), or null
   * @param users per-user caps and rate limits, shared by every cluster
   */
  public Admission(
      ThrottleConfig config, ScheduledExecutorService timer, BackendLoads loads, UserLimits users) {
    Objects.requireNonNull(config, "config");
    this.timer = Objects.requireNonNull(timer, "timer");
    this.loads = loads;
    this.users = Objects.requireNonNull(users, "users");
    this.settings =
        new Settings(
            config.maxConnections(),
            config.maxTransactions(),
            config.maxQueue(),
            config.queueTimeout(),
            config.limit(),
            config.minTransactions());
  }

  /** A permit for a session on {@code backend}, completed on {@code executor} (the event loop). */
  public CompletableFuture<Permit> acquire(String backend, Executor executor) {
    return sessionLimiter(backend).acquire(settings.queueTimeout(), executor);
  }

  /** A session permit on {@code backend} if one is free and nobody waits, else null. */
  public Permit tryAcquire(String backend) {
    return sessionLimiter(backend).tryAcquire();
  }

  /** Whether sessions (or pooled logins) wait for a permit on {@code backend}. */
  public boolean waiting(String backend) {
    ConcurrencyLimiter l = sessionLimiters.get(backend);
    return l != null && l.waiting() > 0;
  }

  /**
   * Waits (without blocking) for a session permit on {@code backend}, then on {@code channel}'s
   * event loop either hands the permit to {@code admitted}, gives it back when the client left
   * meanwhile, or passes the refusal message to {@code refused} (counted as "throttled").
   */
  public CompletableFuture<Permit> admit(
      String backend,
      Channel channel,
      Rejections rejections,
      Consumer<Permit> admitted,
      Consumer<String> refused) {
    CompletableFuture<Permit> waiting = acquire(backend, channel.eventLoop());
    waiting.whenComplete(
        (p, e) -> {
          if (e != null) {
            if (e instanceof CancellationException) {
              return;
            }
            rejections.count("throttled");
            refused.accept((e instanceof CompletionException ? e.getCause() : e).getMessage());
          } else if (!channel.isActive()) {
            p.ignore();
          } else {
            admitted.accept(p);
          }
        });
    return waiting;
  }

  /** The per-user limits (connection caps, transaction rates). */
  public UserLimits users() {
    return users;
  }

  /**
   * A transaction gate for one new session of {@code user}. Event-loop confined, like the session.
   */
  public TransactionGate transactionGate(String user) {
    return new TransactionGate(this, users.rate(user));
  }

  /** The transaction limiter of {@code backend}, or null while {@code max_transactions} is 0. */
  ConcurrencyLimiter transactionLimiter(String backend) {
    Settings s = settings;
    if (s.maxTransactions() == 0) {
      return null;
    }
    return txLimiters.computeIfAbsent(
        backend,
        b -> {
          Settings now = settings;
          int max = Math.max(1, now.maxTransactions());
          Limit limit =
              now.limit() == ThrottleLimit.GRADIENT
                  // starts at the minimum and grows while latency holds: a limit that starts at the
                  // maximum
                  // under a load already too heavy takes that load's latency for the baseline and
                  // never shrinks
                  ? new GradientLimit(
                      GradientLimit.Config.defaults(
                          Math.min(now.minTransactions(), max),
                          Math.min(now.minTransactions(), max),
                          max))
                  : new FixedLimit(max);
          return new ConcurrencyLimiter(
              b, "concurrent transactions", limit, now.maxQueue(), timer, System::nanoTime);
        });
  }

  Duration queueTimeout() {
    return settings.queueTimeout();
  }

  /** The load counters of {@code backend}, or null when this cluster has no load figures. */
  BackendLoads.Counters counters(String backend) {
    return loads == null ? null : loads.counters(backend);
  }

  public Settings settings() {
    return settings;
  }

  /**
   * Changes limits at runtime; a null leaves that value as it is.
   *
   * @throws IllegalArgumentException naming the bad value (nothing is changed then)
   */
  public synchronized Settings update(
      Integer maxConnections, Integer maxTransactions, Integer maxQueue) {
    Settings s = settings;
    int connections = maxConnections == null ? s.maxConnections() : maxConnections;
    int transactions = maxTransactions == null ? s.maxTransactions() : maxTransactions;
    int queue = maxQueue == null ? s.maxQueue() : maxQueue;
    // The config's own checks, in one place: what the config refuses, the admin API refuses.
    new io.halo.conf.model.ThrottleConfig(
        connections, queue, s.queueTimeout(), transactions, s.limit(), s.minTransactions());
    settings =
        new Settings(
            connections, transactions, queue, s.queueTimeout(), s.limit(), s.minTransactions());
    sessionLimiters.values().forEach(l -> l.resize(connections, queue));
    if (transactions > 0) {
      txLimiters.values().forEach(l -> l.resize(transactions, queue));
    }
    return settings;
  }

  /**
   * Takes a reloaded {@code throttle:}: its limits and queue as {@link #update} does, and its
   * queue_timeout for waits that start from now on. The kind of limit ({@code limit}, {@code
   * min_transactions}) stays as it started (a restart changes it).
   */
  public synchronized Settings reconfigure(ThrottleConfig t) {
    Settings s = update(t.maxConnections(), t.maxTransactions(), t.maxQueue());
    settings =
        new Settings(
            s.maxConnections(),
            s.maxTransactions(),
            s.maxQueue(),
            t.queueTimeout(),
            s.limit(),
            s.minTransactions());
    return settings;
  }

  /** Every limiter's figures, sessions first, each ordered by backend. */
  public List<LimiterView> limiters() {
    List<LimiterView> out = new ArrayList<>();
    new TreeMap<>(sessionLimiters).values().forEach(l -> out.add(view(l, SESSIONS)));
    if (settings.maxTransactions() > 0) {
      new TreeMap<>(txLimiters).values().forEach(l -> out.add(view(l, TRANSACTIONS)));
    }
    return out;
  }

  private static LimiterView view(ConcurrencyLimiter l, String unit) {
    return new LimiterView(
        l.backend(),
        unit,
        l.limitKind(),
        l.limit(),
        l.maximum(),
        l.inFlight(),
        l.waiting(),
        l.queueLimit(),
        l.admitted(),
        l.rejectedQueueFull(),
        l.rejectedTimedOut());
  }

  private ConcurrencyLimiter sessionLimiter(String backend) {
    return sessionLimiters.computeIfAbsent(
        backend,
        b -> {
          Settings now = settings;
          return new ConcurrencyLimiter(
              b,
              "backend sessions",
              new FixedLimit(now.maxConnections()),
              now.maxQueue(),
              timer,
              System::nanoTime);
        });
  }

  static String message(Throwable e) {
    return (e instanceof CompletionException && e.getCause() != null ? e.getCause() : e)
        .getMessage();
  }

  static boolean cancelled(Throwable e) {
    return e instanceof CancellationException;
  }
}

package io.halo.proxy.session;

import io.halo.conf.model.UserConfig;
import io.halo.routing.throttle.TokenBucket;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.LongSupplier;

/**
 * Per-user limits from {@code users[]}: a cap on the user's client sessions through Halo (all
 * clusters and listeners together) and a token bucket on the transactions the user starts. Built
 * from the configuration and rebuilt whole by a reload ({@link #reconfigure}); only configured
 * users have state, so nothing needs evicting. Thread-safe and lock-free apart from the bucket's
 * own monitor (a few arithmetic operations).
 *
 * <p>The session cap never queues: a client over its user's cap is refused at login (PostgreSQL
 * 53300, MySQL 1226 ER_USER_LIMIT_REACHED). A waiting queue per user would only let one user's
 * burst of connects sit on Halo's memory.
 */
public final class UserLimits {

  /** One user's figures, for metrics and the admin API. */
  public record UserView(
      String user,
      int maxConnections,
      int connections,
      int maxTransactionsPerSecond,
      int transactionBurst,
      long rejectedConnections,
      long rejectedTransactions) {}

  /** The state of one user that has a limit. */
  public static final class User {
    private final UserConfig config;

    /** The user's sessions; the same counter across reloads (by user name). */
    private final AtomicInteger connections;

    private final TokenBucket bucket;
    private final LongAdder rejectedConnections;
    private final LongAdder rejectedTransactions;

    private User(UserConfig config, LongSupplier nanoClock, User before) {
      this.config = config;
      this.connections = before == null ? new AtomicInteger() : before.connections;
      this.rejectedConnections = before == null ? new LongAdder() : before.rejectedConnections;
      this.rejectedTransactions = before == null ? new LongAdder() : before.rejectedTransactions;
      this.bucket =
          config.maxTransactionsPerSecond() > 0
              ? new TokenBucket(
                  "user " + config.name(),
                  config.transactionBurst(),
                  config.maxTransactionsPerSecond(),
                  nanoClock)
              : null;
    }

    /**
     * Takes one transaction token, or says why not (null when admitted). The message names the
     * rate, the burst and when the next token comes.
     */
    public String takeTransaction() {
      if (bucket == null || bucket.tryTake()) {
        return null;
      }
      rejectedTransactions.increment();
      long waitMs = TimeUnit.NANOSECONDS.toMillis(bucket.nanosUntil(1)) + 1;
      return "user "
          + config.name()
          + ": more than max_transactions_per_second "
          + config.maxTransactionsPerSecond()
          + " (transaction_burst "
          + config.transactionBurst()
          + "); the next transaction may start in about "
          + waitMs
          + " ms";
    }

    boolean ratesTransactions() {
      return bucket != null;
    }
  }

  /**
   * A session's place under its user's cap: {@link #refusal()} is null when admitted, and then
   * {@link #release()} must run once when the session ends. It releases the counter it took, so a
   * reload in between (a cap added, changed or removed) never makes a count go wrong.
   */
  public static final class Seat {
    private static final Seat FREE = new Seat(null, null);

    private final String refusal;
    private final AtomicInteger taken;

    private Seat(String refusal, AtomicInteger taken) {
      this.refusal = refusal;
      this.taken = taken;
    }

    /** Why the session was refused, or null when it was admitted. */
    public String refusal() {
      return refusal;
    }

    /** The end of an admitted session. */
    public void release() {
      if (taken != null) {
        taken.decrementAndGet();
      }
    }
  }

  private static final UserLimits NONE = new UserLimits(List.of(), System::nanoTime);

  private final LongSupplier nanoClock;

  /** The users with a limit, by name; immutable, replaced whole by a reload. */
  private volatile Map<String, User> users;

  public UserLimits(Collection<UserConfig> configs, LongSupplier nanoClock) {
    this.nanoClock = nanoClock;
    this.users = build(configs, Map.of());
  }

  /** No user has a limit. */
  public static UserLimits none() {
    return NONE;
  }

  /**
   * Takes the users' limits from {@code configs} (a config reload). A user whose config did not
   * change keeps its state; a changed one keeps its session count and counters, and a new rate
   * starts with a full bucket. Sessions already open keep the transaction rate they started with; a
   * new cap counts the sessions opened while the old one applied (none when there was no cap).
   */
  public synchronized void reconfigure(Collection<UserConfig> configs) {
    users = build(configs, users);
  }

  private Map<String, User> build(Collection<UserConfig> configs, Map<String, User> before) {
    Map<String, User> map = new TreeMap<>();
    for (UserConfig c : configs) {
      if (c.maxConnections() > 0 || c.maxTransactionsPerSecond() > 0) {
        User old = before.get(c.name());
        map.put(c.name(), old != null && old.config.equals(c) ? old : new User(c, nanoClock, old));
      }
    }
    return java.util.Collections.unmodifiableMap(map);
  }

  /**
   * Counts a new session of {@code user} against its cap. The seat's refusal is null when admitted;
   * then call {@link Seat#release} exactly once when the session ends.
   */
  public Seat connect(String user) {
    User u = users.get(user);
    if (u == null || u.config.maxConnections() == 0) {
      return Seat.FREE;
    }
    int n = u.connections.incrementAndGet();
    if (n > u.config.maxConnections()) {
      u.connections.decrementAndGet();
      u.rejectedConnections.increment();
      return new Seat(
          "user "
              + user
              + ": "
              + (n - 1)
              + " of max_connections "
              + u.config.maxConnections()
              + " sessions in use; close one or raise the user's max_connections",
          null);
    }
    return new Seat(null, u.connections);
  }

  /** The rate-limit state of {@code user}, or null when it has none. */
  User rate(String user) {
    User u = users.get(user);
    return u != null && u.ratesTransactions() ? u : null;
  }

  public List<UserView> views() {
    List<UserView> out = new ArrayList<>();
    users
        .values()
        .forEach(
            u ->
                out.add(
                    new UserView(
                        u.config.name(),
                        u.config.maxConnections(),
                        u.connections.get(),
                        u.config.maxTransactionsPerSecond(),
                        u.config.transactionBurst(),
                        u.rejectedConnections.sum(),
                        u.rejectedTransactions.sum())));
    return out;
  }
}

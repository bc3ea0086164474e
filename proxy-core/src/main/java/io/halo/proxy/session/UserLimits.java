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
 * once from the configuration; the set of users is fixed, so nothing is ever evicted. Thread-safe
 * and lock-free apart from the bucket's own monitor (a few arithmetic operations).
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
    private final AtomicInteger connections = new AtomicInteger();
    private final TokenBucket bucket;
    private final LongAdder rejectedConnections = new LongAdder();
    private final LongAdder rejectedTransactions = new LongAdder();

    private User(UserConfig config, LongSupplier nanoClock) {
      this.config = config;
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

  private static final UserLimits NONE = new UserLimits(List.of(), System::nanoTime);

  private final Map<String, User> users = new TreeMap<>();

  public UserLimits(Collection<UserConfig> configs, LongSupplier nanoClock) {
    for (UserConfig c : configs) {
      if (c.maxConnections() > 0 || c.maxTransactionsPerSecond() > 0) {
        users.put(c.name(), new User(c, nanoClock));
      }
    }
  }

  /** No user has a limit. */
  public static UserLimits none() {
    return NONE;
  }

  /**
   * Counts a new session of {@code user} against its cap. Returns null when admitted (then call
   * {@link #disconnected} exactly once when it ends), else the refusal message.
   */
  public String connect(String user) {
    User u = users.get(user);
    if (u == null || u.config.maxConnections() == 0) {
      return null;
    }
    int n = u.connections.incrementAndGet();
    if (n > u.config.maxConnections()) {
      u.connections.decrementAndGet();
      u.rejectedConnections.increment();
      return "user "
          + user
          + ": "
          + (n - 1)
          + " of max_connections "
          + u.config.maxConnections()
          + " sessions in use; close one or raise the user's max_connections";
    }
    return null;
  }

  /** The end of a session admitted by {@link #connect}. */
  public void disconnected(String user) {
    User u = users.get(user);
    if (u != null && u.config.maxConnections() > 0) {
      u.connections.decrementAndGet();
    }
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

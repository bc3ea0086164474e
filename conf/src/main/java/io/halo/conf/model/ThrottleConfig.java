package io.halo.conf.model;

import java.time.Duration;
import java.util.Objects;

/**
 * Per-backend admission limits.
 *
 * @param maxConnections backend connections Halo opens to one backend at most
 * @param maxQueue sessions (and, separately, transactions) waiting for admission at most; beyond it
 *     they are rejected at once
 * @param queueTimeout how long a session or a transaction waits for admission before it is rejected
 * @param maxTransactions concurrent transactions per backend at most, 0 for no limit; with {@link
 *     ThrottleLimit#GRADIENT} the upper bound of the adaptive limit
 * @param limit fixed or adaptive transaction limit
 * @param minTransactions the adaptive limit's lower bound (ignored when fixed); at most {@code
 *     maxTransactions}
 */
public record ThrottleConfig(
    int maxConnections,
    int maxQueue,
    Duration queueTimeout,
    int maxTransactions,
    ThrottleLimit limit,
    int minTransactions) {

  public ThrottleConfig {
    Objects.requireNonNull(queueTimeout, "queueTimeout");
    Objects.requireNonNull(limit, "limit");
    if (maxConnections < 1) {
      throw new IllegalArgumentException(
          "max_connections must be at least 1, was " + maxConnections);
    }
    if (maxQueue < 0) {
      throw new IllegalArgumentException("max_queue must not be negative, was " + maxQueue);
    }
    if (maxTransactions < 0) {
      throw new IllegalArgumentException(
          "max_transactions must not be negative (0: no limit), was " + maxTransactions);
    }
    if (limit == ThrottleLimit.GRADIENT && maxTransactions == 0) {
      throw new IllegalArgumentException(
          "limit: gradient needs max_transactions (its upper bound)");
    }
    if (limit == ThrottleLimit.GRADIENT
        && (minTransactions < 1 || minTransactions > maxTransactions)) {
      throw new IllegalArgumentException(
          "min_transactions must be between 1 and max_transactions ("
              + maxTransactions
              + "), was "
              + minTransactions);
    }
  }

  /** Session limits only: no transaction limit. */
  public ThrottleConfig(int maxConnections, int maxQueue, Duration queueTimeout) {
    this(maxConnections, maxQueue, queueTimeout, 0, ThrottleLimit.FIXED, 1);
  }

  /** The default lower bound of an adaptive limit: a quarter of the maximum, at least 1. */
  public static int defaultMinTransactions(int maxTransactions) {
    return Math.max(1, maxTransactions / 4);
  }

  public boolean limitsTransactions() {
    return maxTransactions > 0;
  }
}

package io.halo.conf.model;

import java.time.Duration;
import java.util.Objects;

/**
 * Backend connection pooling of one listener (issue 13), in PgBouncer's terms.
 *
 * @param mode {@link Mode#NONE}: each client session logs in to the backend and its connection
 *     closes with it; {@link Mode#SESSION}: a session that ends between transactions gives its
 *     backend connection back (reset with {@code DISCARD ALL}) and the next session with the same
 *     backend, user, database and startup parameters takes it instead of logging in; {@link
 *     Mode#TRANSACTION}: a session holds a backend connection only while a transaction (or a
 *     statement outside one) runs
 * @param maxIdle idle connections kept per (backend, user, database, parameters) and event loop;
 *     one more is closed instead of pooled
 * @param idleTimeout an idle connection older than this is closed (PgBouncer {@code
 *     server_idle_timeout})
 * @param maxLifetime a connection that has lived this long is closed instead of being pooled again
 *     (PgBouncer {@code server_lifetime})
 * @param size transaction mode: backend connections per (backend, user, database, parameters) at
 *     most, open and idle together, shared out evenly among the event loops (PgBouncer {@code
 *     default_pool_size})
 * @param waitTimeout transaction mode: how long a transaction waits for a connection of a full pool
 *     before it is refused (PgBouncer {@code query_wait_timeout})
 * @param maxPreparedStatements protocol-level prepared statements kept per backend connection; the
 *     least recently used beyond are closed (PgBouncer {@code max_prepared_statements})
 * @param checkAfter a pooled connection idle this long answers an empty query before a session gets
 *     it; one that errs or does not answer within 5 s is closed and the next is tried (PgBouncer
 *     {@code server_check_delay}); zero checks every checkout
 * @param minIdle idle connections kept open per pool key (backend, user, database, parameters) and
 *     event loop once the key has been used, through idle_timeout and quiet periods (PgBouncer
 *     {@code min_pool_size}); transaction mode within the loop's share of {@code size}, session
 *     mode for at most 32 keys per event loop and within {@code max_idle}; 0: none
 * @param idleTransactionTimeout transaction mode: a session idle this long inside a transaction
 *     (nothing in flight, nothing from the client) is ended and its connection closed, which rolls
 *     the transaction back (PgBouncer {@code idle_transaction_timeout}, ProxySQL {@code
 *     max_transaction_idle_time}); zero: never
 */
public record PoolConfig(
    Mode mode,
    int maxIdle,
    Duration idleTimeout,
    Duration maxLifetime,
    int size,
    Duration waitTimeout,
    int maxPreparedStatements,
    Duration checkAfter,
    int minIdle,
    Duration idleTransactionTimeout) {

  /** How client sessions use backend connections. */
  public enum Mode {
    NONE,
    SESSION,
    TRANSACTION
  }

  public static final int DEFAULT_SIZE = 20;
  public static final Duration DEFAULT_WAIT_TIMEOUT = Duration.ofSeconds(120);
  public static final int DEFAULT_MAX_PREPARED = 200;
  public static final Duration DEFAULT_CHECK_AFTER = Duration.ofSeconds(30);

  public static final PoolConfig NONE =
      new PoolConfig(Mode.NONE, 32, Duration.ofMinutes(10), Duration.ofHours(1));

  public PoolConfig {
    Objects.requireNonNull(mode, "mode");
    Objects.requireNonNull(idleTimeout, "idleTimeout");
    Objects.requireNonNull(maxLifetime, "maxLifetime");
    Objects.requireNonNull(waitTimeout, "waitTimeout");
    Objects.requireNonNull(checkAfter, "checkAfter");
    Objects.requireNonNull(idleTransactionTimeout, "idleTransactionTimeout");
    if (maxIdle < 1) {
      throw new IllegalArgumentException("pool.max_idle must be at least 1, got " + maxIdle);
    }
    if (idleTimeout.isNegative() || idleTimeout.isZero()) {
      throw new IllegalArgumentException("pool.idle_timeout must be positive");
    }
    if (maxLifetime.isNegative() || maxLifetime.isZero()) {
      throw new IllegalArgumentException("pool.max_lifetime must be positive");
    }
    if (size < 1) {
      throw new IllegalArgumentException("pool.size must be at least 1, got " + size);
    }
    if (waitTimeout.isNegative() || waitTimeout.isZero()) {
      throw new IllegalArgumentException("pool.wait_timeout must be positive");
    }
    if (maxPreparedStatements < 1) {
      throw new IllegalArgumentException(
          "pool.max_prepared_statements must be at least 1, got " + maxPreparedStatements);
    }
    if (checkAfter.isNegative()) {
      throw new IllegalArgumentException("pool.check_after must not be negative");
    }
    if (minIdle < 0) {
      throw new IllegalArgumentException("pool.min_idle must not be negative, got " + minIdle);
    }
    if (idleTransactionTimeout.isNegative()) {
      throw new IllegalArgumentException("pool.idle_transaction_timeout must not be negative");
    }
    if (!idleTransactionTimeout.isZero() && mode != Mode.TRANSACTION) {
      throw new IllegalArgumentException(
          "pool.idle_transaction_timeout needs pool_mode: transaction (a session that keeps its"
              + " connection is bounded by the server's own: PostgreSQL"
              + " idle_in_transaction_session_timeout, MySQL wait_timeout)");
    }
    if (minIdle > 0 && mode == Mode.NONE) {
      throw new IllegalArgumentException(
          "pool.min_idle needs pool_mode: session or transaction (without pooling nothing is kept)");
    }
  }

  /**
   * What a config reload takes of {@code next}: every setting but {@code mode} and {@code
   * max_prepared_statements} (a restart changes those: connections and statement books exist in the
   * running mode).
   *
   * @throws IllegalArgumentException when {@code next}'s settings do not fit the running mode
   */
  public PoolConfig reloadedFrom(PoolConfig next) {
    return new PoolConfig(
        mode,
        next.maxIdle(),
        next.idleTimeout(),
        next.maxLifetime(),
        next.size(),
        next.waitTimeout(),
        maxPreparedStatements,
        next.checkAfter(),
        next.minIdle(),
        next.idleTransactionTimeout());
  }

  /** Without an idle-in-transaction bound (the default). */
  public PoolConfig(
      Mode mode,
      int maxIdle,
      Duration idleTimeout,
      Duration maxLifetime,
      int size,
      Duration waitTimeout,
      int maxPreparedStatements,
      Duration checkAfter,
      int minIdle) {
    this(
        mode,
        maxIdle,
        idleTimeout,
        maxLifetime,
        size,
        waitTimeout,
        maxPreparedStatements,
        checkAfter,
        minIdle,
        Duration.ZERO);
  }

  /** The same with {@code idle_transaction_timeout} set to {@code timeout}. */
  public PoolConfig withIdleTransactionTimeout(Duration timeout) {
    return new PoolConfig(
        mode,
        maxIdle,
        idleTimeout,
        maxLifetime,
        size,
        waitTimeout,
        maxPreparedStatements,
        checkAfter,
        minIdle,
        timeout);
  }

  /** Pooling with the health check on checkout at its default. */
  public PoolConfig(
      Mode mode,
      int maxIdle,
      Duration idleTimeout,
      Duration maxLifetime,
      int size,
      Duration waitTimeout,
      int maxPreparedStatements) {
    this(
        mode,
        maxIdle,
        idleTimeout,
        maxLifetime,
        size,
        waitTimeout,
        maxPreparedStatements,
        DEFAULT_CHECK_AFTER,
        0);
  }

  /** Session pooling with the transaction-mode settings at their defaults. */
  public PoolConfig(Mode mode, int maxIdle, Duration idleTimeout, Duration maxLifetime) {
    this(
        mode,
        maxIdle,
        idleTimeout,
        maxLifetime,
        DEFAULT_SIZE,
        DEFAULT_WAIT_TIMEOUT,
        DEFAULT_MAX_PREPARED,
        DEFAULT_CHECK_AFTER,
        0);
  }

  public boolean pooled() {
    return mode != Mode.NONE;
  }

  /** Transaction mode: sessions share backend connections between transactions. */
  public boolean multiplexed() {
    return mode == Mode.TRANSACTION;
  }
}

package io.halo.conf.model;

import java.time.Duration;
import java.util.Objects;

/**
 * Backend connection pooling of one listener (issue 13), in PgBouncer's terms.
 *
 * @param mode {@link Mode#NONE}: each client session logs in to the backend and its connection
 *     closes with it; {@link Mode#SESSION}: a session that ends between transactions gives its
 *     backend connection back (reset with {@code DISCARD ALL}) and the next session with the same
 *     backend, user, database and startup parameters takes it instead of logging in
 * @param maxIdle idle connections kept per (backend, user, database, parameters) and event loop;
 *     one more is closed instead of pooled
 * @param idleTimeout an idle connection older than this is closed (PgBouncer {@code
 *     server_idle_timeout})
 * @param maxLifetime a connection that has lived this long is closed instead of being pooled again
 *     (PgBouncer {@code server_lifetime})
 */
public record PoolConfig(Mode mode, int maxIdle, Duration idleTimeout, Duration maxLifetime) {

  /** How client sessions use backend connections. */
  public enum Mode {
    NONE,
    SESSION
  }

  public static final PoolConfig NONE =
      new PoolConfig(Mode.NONE, 32, Duration.ofMinutes(10), Duration.ofHours(1));

  public PoolConfig {
    Objects.requireNonNull(mode, "mode");
    Objects.requireNonNull(idleTimeout, "idleTimeout");
    Objects.requireNonNull(maxLifetime, "maxLifetime");
    if (maxIdle < 1) {
      throw new IllegalArgumentException("pool.max_idle must be at least 1, got " + maxIdle);
    }
    if (idleTimeout.isNegative() || idleTimeout.isZero()) {
      throw new IllegalArgumentException("pool.idle_timeout must be positive");
    }
    if (maxLifetime.isNegative() || maxLifetime.isZero()) {
      throw new IllegalArgumentException("pool.max_lifetime must be positive");
    }
  }

  public boolean pooled() {
    return mode != Mode.NONE;
  }
}

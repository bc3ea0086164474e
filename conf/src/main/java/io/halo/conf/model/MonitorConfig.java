package io.halo.conf.model;

import java.time.Duration;
import java.util.Objects;

/**
 * Health probing of a cluster's backends.
 *
 * @param user the monitoring account (needs pg_monitor on PostgreSQL, REPLICATION CLIENT on MySQL)
 * @param database database the probes connect to (PostgreSQL)
 * @param failures consecutive failed probes before a backend is DOWN
 * @param successes consecutive good probes before a DOWN backend is UP again
 */
public record MonitorConfig(
    String user,
    String password,
    String database,
    Duration interval,
    Duration timeout,
    int failures,
    int successes) {

  public MonitorConfig {
    Objects.requireNonNull(user, "user");
    Objects.requireNonNull(database, "database");
    Objects.requireNonNull(interval, "interval");
    Objects.requireNonNull(timeout, "timeout");
    if (interval.isNegative() || interval.isZero()) {
      throw new IllegalArgumentException("interval must be positive");
    }
    if (timeout.isNegative() || timeout.isZero()) {
      throw new IllegalArgumentException("timeout must be positive");
    }
    if (failures < 1 || successes < 1) {
      throw new IllegalArgumentException("failures and successes must be at least 1");
    }
  }

  /** The same settings, logging in as {@code user} with {@code password}. */
  public MonitorConfig withLogin(String user, String password) {
    return new MonitorConfig(user, password, database, interval, timeout, failures, successes);
  }

  @Override
  public String toString() {
    return "MonitorConfig[user="
        + user
        + ", database="
        + database
        + ", interval="
        + interval
        + ", timeout="
        + timeout
        + ", failures="
        + failures
        + ", successes="
        + successes
        + "]";
  }
}

package io.halo.conf.model;

import java.time.Duration;
import java.util.Objects;

/**
 * Per-backend admission limits.
 *
 * @param maxConnections backend connections Halo opens to one backend at most
 * @param maxQueue sessions waiting for admission at most; beyond it they are rejected at once
 * @param queueTimeout how long a session waits for admission before it is rejected
 */
public record ThrottleConfig(int maxConnections, int maxQueue, Duration queueTimeout) {

  public ThrottleConfig {
    Objects.requireNonNull(queueTimeout, "queueTimeout");
    if (maxConnections < 1) {
      throw new IllegalArgumentException("max_connections must be at least 1");
    }
    if (maxQueue < 0) {
      throw new IllegalArgumentException("max_queue must not be negative");
    }
  }
}

package io.halo.conf.model;

import java.time.Duration;
import java.util.Objects;

/**
 * What Halo does when the primary fails.
 *
 * @param maxLagBytes a candidate further behind than this is not promoted automatically
 * @param holdTimeout how long new sessions wait for a failover to finish
 * @param fenceCommand shell command that fences the old primary (optional)
 * @param startCommand shell command that starts a cold standby (required for {@code type: cold})
 * @param switchoverCommand shell command that stops the old primary in a switchover (optional)
 * @param commandTimeout bound for each of these commands
 */
public record FailoverConfig(
    Mode mode,
    Type type,
    long maxLagBytes,
    Duration holdTimeout,
    String fenceCommand,
    String startCommand,
    String switchoverCommand,
    Duration commandTimeout) {

  /** Who decides a promotion. */
  public enum Mode {
    AUTOMATIC,
    MANUAL,
    OBSERVE
  }

  /** Whether the standby already runs (hot) or is started on failover (cold). */
  public enum Type {
    HOT,
    COLD
  }

  public FailoverConfig {
    Objects.requireNonNull(mode, "mode");
    Objects.requireNonNull(type, "type");
    Objects.requireNonNull(holdTimeout, "holdTimeout");
    Objects.requireNonNull(commandTimeout, "commandTimeout");
    if (maxLagBytes < 0) {
      throw new IllegalArgumentException("max_lag must not be negative");
    }
  }
}

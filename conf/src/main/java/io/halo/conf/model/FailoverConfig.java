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
 * @param requireConsensus how many Halo instances of a fleet must see the primary down before the
 *     leader fails over automatically: {@link #CONSENSUS_OFF} (the leader's own probes decide),
 *     {@link #CONSENSUS_MAJORITY} (more than half of the live instances), or a number (at least
 *     that many, the leader included); {@code failover.require_consensus}
 */
public record FailoverConfig(
    Mode mode,
    Type type,
    long maxLagBytes,
    Duration holdTimeout,
    String fenceCommand,
    String startCommand,
    String switchoverCommand,
    Duration commandTimeout,
    int requireConsensus) {

  /** {@code require_consensus: false}: the leader's own probes decide. */
  public static final int CONSENSUS_OFF = 0;

  /**
   * {@code require_consensus: true}: a majority of the live instances must see the primary down.
   */
  public static final int CONSENSUS_MAJORITY = -1;

  /** Without a consensus requirement (the default). */
  public FailoverConfig(
      Mode mode,
      Type type,
      long maxLagBytes,
      Duration holdTimeout,
      String fenceCommand,
      String startCommand,
      String switchoverCommand,
      Duration commandTimeout) {
    this(
        mode,
        type,
        maxLagBytes,
        holdTimeout,
        fenceCommand,
        startCommand,
        switchoverCommand,
        commandTimeout,
        CONSENSUS_OFF);
  }

  /** The same policy with {@code mode}. */
  public FailoverConfig withMode(Mode mode) {
    return new FailoverConfig(
        mode,
        type,
        maxLagBytes,
        holdTimeout,
        fenceCommand,
        startCommand,
        switchoverCommand,
        commandTimeout,
        requireConsensus);
  }

  /** The same policy with {@code require_consensus} set to {@code n}. */
  public FailoverConfig withRequireConsensus(int n) {
    return new FailoverConfig(
        mode,
        type,
        maxLagBytes,
        holdTimeout,
        fenceCommand,
        startCommand,
        switchoverCommand,
        commandTimeout,
        n);
  }

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
    if (requireConsensus < CONSENSUS_MAJORITY) {
      throw new IllegalArgumentException(
          "require_consensus must be true, false or a number of instances >= 1");
    }
  }
}

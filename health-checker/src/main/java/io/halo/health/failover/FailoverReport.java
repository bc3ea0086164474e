package io.halo.health.failover;

import java.time.Duration;
import java.time.Instant;
import java.util.List;

/**
 * The record of one failover, switchover or refused attempt: what was decided, each step with its
 * timing, and how it ended. Immutable; a running failover publishes a new report per step.
 *
 * @param to the promoted backend; null when none was chosen
 * @param finishedAt null while running
 * @param reason why it happened, or why it was refused or failed
 * @param possibleLossBytes for a forced promotion: how much WAL the candidate trailed the old
 *     primary at its last probe (what may be lost); null when nothing may be lost
 * @param writePause switchover: how long new transactions were held; null otherwise
 */
public record FailoverReport(
    long id,
    Kind kind,
    String cluster,
    String from,
    String to,
    Instant startedAt,
    Instant finishedAt,
    Outcome outcome,
    String reason,
    List<Step> steps,
    long epochBefore,
    long epochAfter,
    Long possibleLossBytes,
    Duration writePause) {

  /** What started it. */
  public enum Kind {
    AUTOMATIC,
    MANUAL,
    SWITCHOVER,
    /** A role change made outside Halo (failover mode observe). */
    OBSERVED
  }

  /** How it ended (or that it has not yet). */
  public enum Outcome {
    RUNNING,
    SUCCEEDED,
    FAILED,
    /** Not attempted: no safe candidate, mode manual, or the failure was not confirmed. */
    REFUSED
  }

  /** One step: fence, promote, repoint, start, wait, ... */
  public record Step(String name, Instant at, Duration took, boolean ok, String detail) {}

  public FailoverReport {
    steps = List.copyOf(steps);
  }
}

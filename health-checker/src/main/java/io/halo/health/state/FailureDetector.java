package io.halo.health.state;

import io.halo.health.probe.ProbeResult;
import java.time.Duration;

/**
 * Turns one backend's probe results into a health state, with hysteresis: {@code failures} failed
 * probes in a row make it DOWN, {@code successes} good ones in a row bring it back. A good probe
 * that is slow (latency over {@code slowLatency}) or lagging (over {@code maxLagBytes}) makes it
 * DEGRADED. Not thread-safe: fed by the cluster's single health writer.
 */
public final class FailureDetector {

  private final int failures;
  private final int successes;
  private final Duration slowLatency;
  private final long maxLagBytes;
  private NodeState state = NodeState.UP;
  private int failedInRow;
  private int goodInRow;

  public FailureDetector(int failures, int successes, Duration slowLatency, long maxLagBytes) {
    this.failures = failures;
    this.successes = successes;
    this.slowLatency = slowLatency;
    this.maxLagBytes = maxLagBytes;
  }

  /**
   * Feeds one probe.
   *
   * @param lagBytes the backend's replay lag behind the primary, -1 when unknown
   * @return the state after it (never FENCED: fencing is an admin/failover decision)
   */
  public NodeState next(ProbeResult probe, long lagBytes) {
    if (!probe.ok()) {
      failedInRow++;
      goodInRow = 0;
      if (failedInRow >= failures) {
        state = NodeState.DOWN;
      }
      return state;
    }
    failedInRow = 0;
    goodInRow++;
    if (state == NodeState.DOWN && goodInRow < successes) {
      return state;
    }
    boolean slow = probe.latency() != null && probe.latency().compareTo(slowLatency) > 0;
    boolean lagging = lagBytes > maxLagBytes;
    state = slow || lagging ? NodeState.DEGRADED : NodeState.UP;
    return state;
  }

  /**
   * The failover has just reached this backend and promoted it: it is UP, whatever earlier probes
   * said (a cold standby was DOWN while it was stopped). Without this the new primary would stay
   * DOWN until {@code successes} more probes and trigger another failover from itself.
   */
  public void markReachable() {
    state = NodeState.UP;
    failedInRow = 0;
    goodInRow = successes;
  }

  public NodeState state() {
    return state;
  }

  public int failedInRow() {
    return failedInRow;
  }

  public int goodInRow() {
    return goodInRow;
  }
}

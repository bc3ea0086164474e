package io.halo.health;

import io.halo.health.failover.FailoverReport;
import io.halo.health.state.BackendStatus;
import io.halo.health.state.Topology;
import io.halo.health.store.StateInfo;
import java.util.List;
import java.util.Optional;

/**
 * What an operator (the admin API, the CLI) can see and do with one cluster. Reads never block;
 * actions may take seconds (JDBC, commands) and must be called off Netty event loops.
 */
public interface ClusterControl {

  String name();

  /** postgresql or mysql; it decides what lag counts (bytes of WAL, or transactions). */
  default String engine() {
    return "postgresql";
  }

  /** The current topology snapshot (primary, epoch, backend roles and states). */
  Topology topology();

  /** Every backend with its last probe, lag and admin state, in config order. */
  List<BackendStatus> backends();

  /** Where the cluster's decisions are saved, the saved epoch, and why the config was overruled. */
  default StateInfo state() {
    return StateInfo.NONE;
  }

  /** The latest failover/switchover attempt, running or finished. */
  Optional<FailoverReport> lastFailover();

  /** All attempts since start, oldest first (bounded). */
  List<FailoverReport> failovers();

  /**
   * Promotes {@code target} (or the best candidate when null) now, whatever the mode.
   *
   * @param force promote even when the candidate lags beyond {@code max_lag} or the primary is
   *     still up; the report says what may be lost
   * @throws IllegalArgumentException unknown target
   * @throws IllegalStateException another failover is running
   */
  FailoverReport failover(String target, boolean force);

  /**
   * Planned switchover to {@code target} (or the best candidate when null): hold new transactions,
   * let running ones finish, wait until the target has replayed everything, stop/fence the old
   * primary, promote, release.
   */
  FailoverReport switchover(String target);

  /** No new sessions to this backend; existing ones go on. */
  void drain(String backend);

  /** Back in rotation (also lifts a fence). */
  void enable(String backend);

  /** Out of rotation and its sessions closed. */
  void disable(String backend);

  /** The Halo instances sharing this cluster through ZooKeeper; null when this Halo runs alone. */
  /**
   * {@code automatic}, {@code manual} or {@code observe}: the config's failover.mode, or the last
   * reload's; null when unknown.
   */
  default String failoverMode() {
    return null;
  }

  default FleetView fleet() {
    return null;
  }
}

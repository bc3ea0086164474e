package io.halo.proxy.admin;

import io.halo.health.ClusterControl;
import io.halo.health.failover.FailoverReport;
import io.halo.health.state.BackendStatus;
import io.halo.health.state.NodeState;
import io.halo.health.state.Topology;
import io.halo.proxy.admin.ProxyView.BackendSessions;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The cluster and backend shapes of the admin API. Explicit records, separate from the internal
 * ones, so that a new field in {@code BackendStatus} does not silently change the API.
 */
public final class ClusterViews {

  private ClusterViews() {}

  /** One line of {@code GET /api/v1/clusters}. */
  public record ClusterSummary(
      String name,
      long epoch,
      String primary,
      boolean hasRoutablePrimary,
      int backends,
      Map<String, Integer> backendsByState,
      boolean failoverRunning) {}

  /** {@code GET /api/v1/clusters/{c}}. */
  public record ClusterDetail(
      String name,
      String engine,
      String lagUnit,
      long epoch,
      String primary,
      boolean hasRoutablePrimary,
      boolean failoverRunning,
      String failoverMode,
      List<BackendView> backends,
      FailoverView lastFailover,
      List<FailoverView> failovers,
      StateView state,
      io.halo.health.FleetView fleet) {}

  /**
   * Where the cluster's decisions are saved and what the saved state changed.
   *
   * @param stateDir null when nothing is saved (no {@code server.state_dir})
   * @param savedEpoch the epoch of the latest saved state; 0 before the first save
   * @param saveError why the latest save failed; null when it succeeded
   * @param overruled why the primary is not the one the config names; null when it is
   */
  public record StateView(
      String stateDir, long savedEpoch, String savedAt, String saveError, String overruled) {

    static StateView of(io.halo.health.store.StateInfo s) {
      return new StateView(
          s.location(),
          s.savedEpoch(),
          s.savedAt() == null ? null : s.savedAt().toString(),
          s.error(),
          s.overruled());
    }
  }

  /**
   * One backend.
   *
   * @param lagBytes null when unknown; bytes of WAL on PostgreSQL, transactions (GTID sequence
   *     numbers) on MySQL, as the cluster's {@code lag_unit} says
   * @param sessions relaying client sessions on this backend
   */
  public record BackendView(
      String name,
      String address,
      String role,
      String state,
      String adminState,
      int priority,
      Long lagBytes,
      boolean splitBrain,
      int sessions,
      int consecutiveFailures,
      int consecutiveSuccesses,
      ProbeView lastProbe) {}

  static ClusterSummary summary(ClusterControl c) {
    Topology t = c.topology();
    Map<String, Integer> byState = new LinkedHashMap<>();
    for (NodeState s : NodeState.values()) {
      byState.put(s.name(), 0);
    }
    t.backends().forEach(b -> byState.merge(b.state().name(), 1, Integer::sum));
    return new ClusterSummary(
        c.name(),
        t.epoch(),
        t.primary(),
        t.routablePrimary().isPresent(),
        t.backends().size(),
        byState,
        running(c));
  }

  static ClusterDetail detail(ClusterControl c, List<BackendSessions> sessions) {
    Topology t = c.topology();
    return new ClusterDetail(
        c.name(),
        c.engine(),
        "mysql".equals(c.engine()) ? "transactions" : "bytes",
        t.epoch(),
        t.primary(),
        t.routablePrimary().isPresent(),
        running(c),
        c.failoverMode(),
        c.backends().stream().map(b -> backend(c.name(), b, sessions)).toList(),
        FailoverView.of(c.lastFailover().orElse(null)),
        c.failovers().stream().map(FailoverView::of).toList(),
        StateView.of(c.state()),
        c.fleet());
  }

  static BackendView backend(String cluster, BackendStatus b, List<BackendSessions> sessions) {
    return new BackendView(
        b.node().name(),
        b.node().address().toString(),
        b.node().role().name(),
        b.node().state().name(),
        b.admin().name(),
        b.node().priority(),
        b.lagBytes() < 0 ? null : b.lagBytes(),
        b.splitBrain(),
        sessions(cluster, b.node().name(), sessions),
        b.consecutiveFailures(),
        b.consecutiveSuccesses(),
        ProbeView.of(b.lastProbe()));
  }

  static int sessions(String cluster, String backend, List<BackendSessions> sessions) {
    return sessions.stream()
        .filter(s -> s.cluster().equals(cluster) && s.backend().equals(backend))
        .mapToInt(BackendSessions::sessions)
        .sum();
  }

  static boolean running(ClusterControl c) {
    return c.lastFailover().map(r -> r.outcome() == FailoverReport.Outcome.RUNNING).orElse(false);
  }
}

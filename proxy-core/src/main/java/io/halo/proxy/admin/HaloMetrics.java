package io.halo.proxy.admin;

import io.halo.health.ClusterControl;
import io.halo.health.failover.FailoverReport;
import io.halo.health.state.BackendStatus;
import io.halo.health.state.NodeRole;
import io.halo.health.state.NodeState;
import io.halo.health.state.Topology;
import io.halo.proxy.admin.ProxyView.BackendSessions;
import io.halo.proxy.admin.ProxyView.ListenerView;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * What {@code GET /metrics} shows. Each scrape reads every cluster once (one topology, one backend
 * list, one failover list) and writes the families from those snapshots, so that the numbers of one
 * scrape agree with each other.
 *
 * <p>Unknown values (lag before two probes, latency of a failed probe) are left out rather than
 * written as 0 or NaN: an absent series is what Prometheus means by "unknown".
 *
 * <p>{@code halo_failovers_total} counts the reports {@code ClusterControl.failovers()} still
 * holds; that list is bounded, so after many failovers the counter can drop (a counter reset to
 * Prometheus). In a fleet every instance holds the leader's reports too, so it counts the cluster's
 * failovers whichever instance ran them (do not sum it over the instances).
 *
 * <p>Size: the Prometheus exposition of every counter and gauge Halo keeps, one family after
 * another; splitting it would only scatter the metric names.
 */
final class HaloMetrics {

  private static final String CLUSTER = "cluster";
  private static final String BACKEND = "backend";

  private record Snapshot(
      String name,
      String engine,
      Topology topology,
      List<BackendStatus> backends,
      List<FailoverReport> failovers,
      Optional<FailoverReport> last) {}

  private final List<ClusterControl> clusters;
  private final ProxyView proxy;

  HaloMetrics(List<ClusterControl> clusters, ProxyView proxy) {
    this.clusters = List.copyOf(clusters);
    this.proxy = proxy;
  }

  String scrape() {
    List<Snapshot> snaps =
        clusters.stream()
            .map(
                c ->
                    new Snapshot(
                        c.name(),
                        c.engine(),
                        c.topology(),
                        c.backends(),
                        c.failovers(),
                        c.lastFailover()))
            .toList();
    List<BackendSessions> sessions = proxy.sessions();
    PrometheusText out = new PrometheusText();
    backends(out, snaps, sessions);
    clusters(out, snaps);
    listeners(out, proxy.listeners(), proxy.rejections());
    splits(out, proxy.splits());
    pools(out, proxy.pools(), proxy.outlived());
    throttles(out, proxy.throttles(), proxy.userLimits());
    return out.text();
  }

  private static void throttles(
      PrometheusText out,
      List<ProxyView.ThrottleView> throttles,
      List<io.halo.proxy.session.UserLimits.UserView> users) {
    out.family(
        "halo_throttle_limit",
        "gauge",
        "Current limit per backend and unit (sessions, transactions); an adaptive limit moves below its maximum.");
    eachLimiter(
        throttles, (t, l) -> out.sample("halo_throttle_limit", l.limit(), limiterLabels(t, l)));
    out.family(
        "halo_throttle_max",
        "gauge",
        "The configured maximum of the limit (max_connections, max_transactions).");
    eachLimiter(
        throttles, (t, l) -> out.sample("halo_throttle_max", l.maximum(), limiterLabels(t, l)));
    out.family(
        "halo_throttle_in_use",
        "gauge",
        "Permits in use: sessions or transactions admitted and not finished.");
    eachLimiter(
        throttles, (t, l) -> out.sample("halo_throttle_in_use", l.inUse(), limiterLabels(t, l)));
    out.family(
        "halo_throttle_queue_length", "gauge", "Sessions or transactions waiting for admission.");
    eachLimiter(
        throttles,
        (t, l) -> out.sample("halo_throttle_queue_length", l.waiting(), limiterLabels(t, l)));
    out.family("halo_throttle_queue_limit", "gauge", "max_queue: how many may wait at once.");
    eachLimiter(
        throttles,
        (t, l) -> out.sample("halo_throttle_queue_limit", l.maxQueue(), limiterLabels(t, l)));
    out.family("halo_throttle_admitted_total", "counter", "Permits granted since start.");
    eachLimiter(
        throttles,
        (t, l) -> out.sample("halo_throttle_admitted_total", l.admitted(), limiterLabels(t, l)));
    out.family(
        "halo_throttle_rejected_total",
        "counter",
        "Work refused by the backend's limiter, by reason: queue_full (refused at once) or timed_out (after queue_timeout).");
    eachLimiter(
        throttles,
        (t, l) -> {
          out.sample(
              "halo_throttle_rejected_total",
              l.rejectedQueueFull(),
              CLUSTER,
              t.cluster(),
              BACKEND,
              l.backend(),
              "unit",
              l.unit(),
              "reason",
              "queue_full");
          out.sample(
              "halo_throttle_rejected_total",
              l.rejectedTimedOut(),
              CLUSTER,
              t.cluster(),
              BACKEND,
              l.backend(),
              "unit",
              l.unit(),
              "reason",
              "timed_out");
        });
    out.family(
        "halo_user_sessions", "gauge", "Client sessions of a user with a max_connections cap.");
    users.forEach(u -> out.sample("halo_user_sessions", u.connections(), "user", u.user()));
    out.family(
        "halo_user_rejected_total",
        "counter",
        "Work refused by a user's own limits, by reason: max_connections or transaction_rate.");
    users.forEach(
        u -> {
          out.sample(
              "halo_user_rejected_total",
              u.rejectedConnections(),
              "user",
              u.user(),
              "reason",
              "max_connections");
          out.sample(
              "halo_user_rejected_total",
              u.rejectedTransactions(),
              "user",
              u.user(),
              "reason",
              "transaction_rate");
        });
  }

  private static String[] limiterLabels(
      ProxyView.ThrottleView t, io.halo.proxy.session.Admission.LimiterView l) {
    return new String[] {
      CLUSTER, t.cluster(), BACKEND, l.backend(), "unit", l.unit(), "limit", l.kind()
    };
  }

  private interface LimiterSample {
    void write(
        ProxyView.ThrottleView throttle, io.halo.proxy.session.Admission.LimiterView limiter);
  }

  private static void eachLimiter(List<ProxyView.ThrottleView> throttles, LimiterSample sample) {
    for (ProxyView.ThrottleView t : throttles) {
      for (io.halo.proxy.session.Admission.LimiterView l : t.limiters()) {
        sample.write(t, l);
      }
    }
  }

  private static void backends(
      PrometheusText out, List<Snapshot> snaps, List<BackendSessions> sessions) {
    out.family(
        "halo_backend_up", "gauge", "1 when the backend is UP or DEGRADED (routable), else 0.");
    each(
        snaps,
        (s, b) -> out.sample("halo_backend_up", b.node().state().routable() ? 1 : 0, labels(s, b)));

    out.family(
        "halo_backend_state", "gauge", "The backend's health state, one-hot over all states.");
    each(
        snaps,
        (s, b) -> {
          for (NodeState state : NodeState.values()) {
            out.sample(
                "halo_backend_state",
                b.node().state() == state ? 1 : 0,
                CLUSTER,
                s.name(),
                BACKEND,
                b.node().name(),
                "state",
                state.name());
          }
        });

    out.family(
        "halo_backend_role", "gauge", "The backend's replication role, one-hot over all roles.");
    each(
        snaps,
        (s, b) -> {
          for (NodeRole role : NodeRole.values()) {
            out.sample(
                "halo_backend_role",
                b.node().role() == role ? 1 : 0,
                CLUSTER,
                s.name(),
                BACKEND,
                b.node().name(),
                "role",
                role.name());
          }
        });

    out.family(
        "halo_backend_is_primary", "gauge", "1 when the topology names this backend primary.");
    each(
        snaps,
        (s, b) ->
            out.sample(
                "halo_backend_is_primary",
                b.node().name().equals(s.topology().primary()) ? 1 : 0,
                labels(s, b)));

    // PostgreSQL lag is bytes of WAL, MySQL lag transactions (GTID sequence numbers): two metrics,
    // so that no unit is hidden under the other's name.
    out.family(
        "halo_backend_lag_bytes",
        "gauge",
        "PostgreSQL: bytes of WAL the backend's replay trails the primary; absent when unknown.");
    each(
        snaps,
        (s, b) -> {
          if (b.lagBytes() >= 0 && !"mysql".equals(s.engine())) {
            out.sample("halo_backend_lag_bytes", b.lagBytes(), labels(s, b));
          }
        });
    out.family(
        "halo_backend_lag_transactions",
        "gauge",
        "MySQL/MariaDB: transactions (GTID sequence numbers) the backend trails the primary; absent when unknown.");
    each(
        snaps,
        (s, b) -> {
          if (b.lagBytes() >= 0 && "mysql".equals(s.engine())) {
            out.sample("halo_backend_lag_transactions", b.lagBytes(), labels(s, b));
          }
        });

    out.family(
        "halo_backend_probe_latency_seconds", "gauge", "Round trip of the last successful probe.");
    each(
        snaps,
        (s, b) -> {
          Duration latency = b.lastProbe() == null ? null : b.lastProbe().latency();
          if (latency != null) {
            out.sample("halo_backend_probe_latency_seconds", latency.toNanos() / 1e9, labels(s, b));
          }
        });

    out.family(
        "halo_backend_split_brain",
        "gauge",
        "1 when the backend claims to be primary but the topology names another.");
    each(
        snaps,
        (s, b) -> out.sample("halo_backend_split_brain", b.splitBrain() ? 1 : 0, labels(s, b)));

    out.family("halo_backend_sessions", "gauge", "Client sessions relaying to the backend.");
    each(
        snaps,
        (s, b) ->
            out.sample(
                "halo_backend_sessions",
                ClusterViews.sessions(s.name(), b.node().name(), sessions),
                labels(s, b)));
  }

  private static void clusters(PrometheusText out, List<Snapshot> snaps) {
    out.family(
        "halo_cluster_epoch", "gauge", "Topology epoch; increases on every change of primary.");
    snaps.forEach(s -> out.sample("halo_cluster_epoch", s.topology().epoch(), CLUSTER, s.name()));

    out.family(
        "halo_failovers_total",
        "counter",
        "Finished failover and switchover attempts, by kind and outcome.");
    for (Snapshot s : snaps) {
      for (FailoverReport.Kind kind : FailoverReport.Kind.values()) {
        for (FailoverReport.Outcome outcome : FailoverReport.Outcome.values()) {
          if (outcome == FailoverReport.Outcome.RUNNING) {
            continue;
          }
          long n =
              s.failovers().stream()
                  .filter(r -> r.kind() == kind && r.outcome() == outcome)
                  .count();
          out.sample(
              "halo_failovers_total",
              n,
              CLUSTER,
              s.name(),
              "kind",
              kind.name(),
              "outcome",
              outcome.name());
        }
      }
    }

    out.family(
        "halo_last_failover_duration_seconds",
        "gauge",
        "How long the latest finished failover or switchover took.");
    for (Snapshot s : snaps) {
      s.last()
          .filter(r -> r.startedAt() != null && r.finishedAt() != null)
          .ifPresent(
              r ->
                  out.sample(
                      "halo_last_failover_duration_seconds",
                      Duration.between(r.startedAt(), r.finishedAt()).toNanos() / 1e9,
                      CLUSTER,
                      s.name()));
    }
  }

  private static void listeners(
      PrometheusText out, List<ListenerView> listeners, Map<String, Long> rejections) {
    out.family(
        "halo_listener_client_connections", "gauge", "Open client connections on the listener.");
    listeners.forEach(
        l ->
            out.sample(
                "halo_listener_client_connections", l.clientConnections(), listenerLabels(l)));

    out.family(
        "halo_listener_max_client_connections", "gauge", "The listener's max_client_connections.");
    listeners.forEach(
        l ->
            out.sample(
                "halo_listener_max_client_connections",
                l.maxClientConnections(),
                listenerLabels(l)));

    out.family(
        "halo_rejected_connections_total",
        "counter",
        "Client connections refused since start, by reason.");
    rejections.entrySet().stream()
        .sorted(Map.Entry.comparingByKey())
        .forEach(
            e -> out.sample("halo_rejected_connections_total", e.getValue(), "reason", e.getKey()));

    out.family(
        "halo_log_events_dropped_total",
        "counter",
        "Log events dropped because the log queue was full (stderr too slow or stalled).");
    out.sample("halo_log_events_dropped_total", io.halo.proxy.log.DroppingAsyncAppender.dropped());
  }

  private static void poolGauge(
      PrometheusText out,
      List<ProxyView.PoolView> pools,
      String name,
      String help,
      java.util.function.ToIntFunction<ProxyView.PoolView> value) {
    out.family(name, "gauge", help);
    pools.forEach(
        p -> out.sample(name, value.applyAsInt(p), "listener", p.listener(), CLUSTER, p.cluster()));
  }

  private static void pools(
      PrometheusText out, List<ProxyView.PoolView> pools, List<ProxyView.OutlivedView> outlived) {
    if (!pools.isEmpty()) {
      out.family("halo_pool_idle_connections", "gauge", "Idle backend connections in the pool.");
      pools.forEach(
          p ->
              out.sample(
                  "halo_pool_idle_connections",
                  p.idle(),
                  "listener",
                  p.listener(),
                  CLUSTER,
                  p.cluster()));
      out.family(
          "halo_pool_sessions_total",
          "counter",
          "Client sessions of pooled listeners, by whether they reused a pooled backend connection"
              + " or logged in.");
      for (ProxyView.PoolView p : pools) {
        out.sample(
            "halo_pool_sessions_total",
            p.reused(),
            "listener",
            p.listener(),
            CLUSTER,
            p.cluster(),
            "backend_connection",
            "reused");
        out.sample(
            "halo_pool_sessions_total",
            p.opened(),
            "listener",
            p.listener(),
            CLUSTER,
            p.cluster(),
            "backend_connection",
            "new");
      }
      out.family(
          "halo_pool_returned_total",
          "counter",
          "Backend connections given back to the pool (session mode: reset with DISCARD ALL;"
              + " transaction mode: at the end of each transaction).");
      pools.forEach(
          p ->
              out.sample(
                  "halo_pool_returned_total",
                  p.returned(),
                  "listener",
                  p.listener(),
                  CLUSTER,
                  p.cluster()));
      poolGauge(
          out,
          pools,
          "halo_pool_connections",
          "Transaction mode: backend connections open (in use and idle).",
          ProxyView.PoolView::open);
      poolGauge(
          out,
          pools,
          "halo_pool_waiting",
          "Transaction mode: transactions waiting for a connection of a full pool.",
          ProxyView.PoolView::waiting);
      out.family(
          "halo_pool_wait_timeouts_total",
          "counter",
          "Transaction mode: transactions refused after pool.wait_timeout (53300).");
      pools.forEach(
          p ->
              out.sample(
                  "halo_pool_wait_timeouts_total",
                  p.waitTimeouts(),
                  "listener",
                  p.listener(),
                  CLUSTER,
                  p.cluster()));
      out.family(
          "halo_pool_waits_total",
          "counter",
          "Transaction mode: waits for a connection of a full pool that ended (served or timed"
              + " out).");
      pools.forEach(
          p ->
              out.sample(
                  "halo_pool_waits_total",
                  p.waits(),
                  "listener",
                  p.listener(),
                  CLUSTER,
                  p.cluster()));
      out.family(
          "halo_pool_wait_seconds_total",
          "counter",
          "Transaction mode: time spent in those waits (divide by halo_pool_waits_total for the"
              + " mean).");
      pools.forEach(
          p ->
              out.sample(
                  "halo_pool_wait_seconds_total",
                  p.waitSeconds(),
                  "listener",
                  p.listener(),
                  CLUSTER,
                  p.cluster()));
    }
    if (!pools.isEmpty()) {
      out.family(
          "halo_pool_checks_total",
          "counter",
          "Pooled connections idle beyond pool.check_after that answered an empty query before a"
              + " session got them (passed), or were closed instead (failed).");
      for (ProxyView.PoolView p : pools) {
        out.sample(
            "halo_pool_checks_total",
            p.checksPassed(),
            "listener",
            p.listener(),
            CLUSTER,
            p.cluster(),
            "outcome",
            "passed");
        out.sample(
            "halo_pool_checks_total",
            p.checksFailed(),
            "listener",
            p.listener(),
            CLUSTER,
            p.cluster(),
            "outcome",
            "failed");
      }
      out.family(
          "halo_pool_warmed_total",
          "counter",
          "Backend logins the pool made by itself to keep pool.min_idle connections idle.");
      for (ProxyView.PoolView p : pools) {
        out.sample(
            "halo_pool_warmed_total", p.warmed(), "listener", p.listener(), CLUSTER, p.cluster());
      }
    }
    if (outlived.isEmpty()) {
      return;
    }
    out.family(
        "halo_sessions_outlived_backend_total",
        "counter",
        "Sessions that lost their backend with nothing in flight: waited for a new primary, moved"
            + " there, or ended after all.");
    for (ProxyView.OutlivedView o : outlived) {
      out.sample(
          "halo_sessions_outlived_backend_total",
          o.waited(),
          CLUSTER,
          o.cluster(),
          "outcome",
          "waited");
      out.sample(
          "halo_sessions_outlived_backend_total",
          o.moved(),
          CLUSTER,
          o.cluster(),
          "outcome",
          "moved");
      out.sample(
          "halo_sessions_outlived_backend_total",
          o.ended(),
          CLUSTER,
          o.cluster(),
          "outcome",
          "ended");
    }
    out.family(
        "halo_backend_suspicions_total",
        "counter",
        "Backend connections a relay saw fail (a reset, a close without the client's goodbye), each"
            + " asking the health checker to probe at once.");
    for (ProxyView.OutlivedView o : outlived) {
      out.sample("halo_backend_suspicions_total", o.suspicions(), CLUSTER, o.cluster());
    }
  }

  private static void splits(PrometheusText out, List<ProxyView.SplitView> splits) {
    if (splits.isEmpty()) {
      return;
    }
    out.family(
        "halo_split_reads_total",
        "counter",
        "Reads of route: split sessions, by where they ran (replica, or primary when no replica fitted).");
    for (ProxyView.SplitView s : splits) {
      out.sample(
          "halo_split_reads_total",
          s.readsOnReplica(),
          "listener",
          s.listener(),
          CLUSTER,
          s.cluster(),
          "target",
          "replica");
      out.sample(
          "halo_split_reads_total",
          s.readsOnPrimary(),
          "listener",
          s.listener(),
          CLUSTER,
          s.cluster(),
          "target",
          "primary");
    }
    out.family(
        "halo_split_read_your_writes_primary_total",
        "counter",
        "Reads sent to the primary because no replica had replayed the session's own writes in time.");
    splits.forEach(
        s ->
            out.sample(
                "halo_split_read_your_writes_primary_total",
                s.readYourWritesOnPrimary(),
                "listener",
                s.listener(),
                CLUSTER,
                s.cluster()));
    out.family("halo_split_sessions", "gauge", "Open route: split sessions.");
    splits.forEach(
        s ->
            out.sample(
                "halo_split_sessions",
                s.sessions(),
                "listener",
                s.listener(),
                CLUSTER,
                s.cluster()));
    out.family(
        "halo_split_pinned_sessions",
        "gauge",
        "Open sessions of route: split or pool_mode: transaction pinned to their primary connection (temporary tables, locks, LISTEN, ...).");
    splits.forEach(
        s ->
            out.sample(
                "halo_split_pinned_sessions",
                s.pinnedSessions(),
                "listener",
                s.listener(),
                CLUSTER,
                s.cluster()));
    out.family(
        "halo_split_pinned_total",
        "counter",
        "Sessions of route: split or pool_mode: transaction pinned to their primary connection since start.");
    splits.forEach(
        s ->
            out.sample(
                "halo_split_pinned_total",
                s.pinnedTotal(),
                "listener",
                s.listener(),
                CLUSTER,
                s.cluster()));
    out.family(
        "halo_split_idle_transaction_ended_total",
        "counter",
        "Sessions of pool_mode: transaction ended for sitting idle in a transaction beyond"
            + " pool.idle_transaction_timeout since start.");
    splits.forEach(
        s ->
            out.sample(
                "halo_split_idle_transaction_ended_total",
                s.idleTransactionEnded(),
                "listener",
                s.listener(),
                CLUSTER,
                s.cluster()));
  }

  private static String[] listenerLabels(ListenerView l) {
    return new String[] {"listener", l.name(), CLUSTER, l.cluster(), "address", l.address()};
  }

  private static String[] labels(Snapshot s, BackendStatus b) {
    return new String[] {CLUSTER, s.name(), BACKEND, b.node().name()};
  }

  private interface BackendSample {
    void write(Snapshot cluster, BackendStatus backend);
  }

  private static void each(List<Snapshot> snaps, BackendSample sample) {
    for (Snapshot s : snaps) {
      for (BackendStatus b : s.backends()) {
        sample.write(s, b);
      }
    }
  }
}

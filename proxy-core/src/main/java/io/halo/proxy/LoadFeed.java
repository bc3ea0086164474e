package io.halo.proxy;

import io.halo.conf.model.BackendConfig;
import io.halo.conf.model.ClusterConfig;
import io.halo.health.state.BackendStatus;
import io.halo.health.state.ClusterHealth;
import io.halo.routing.balance.BackendLoads;
import io.halo.routing.balance.LagGate;
import java.time.Instant;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Feeds one cluster's probe results to its balancing figures: the configured weights, each new
 * probe's latency into the latency EWMA, and each replica's lag into the listeners' lag gates. Runs
 * on the cluster's health writer after every change; a probe is fed once (the hook also runs for
 * changes that are not probes), so lag-gate hysteresis counts real observations.
 */
final class LoadFeed implements Runnable {

  private final ClusterHealth health;
  private final BackendLoads loads;
  private final List<LagGate> gates;
  private final Map<String, Instant> fed = new HashMap<>();

  LoadFeed(ClusterConfig cluster, ClusterHealth health, BackendLoads loads, List<LagGate> gates) {
    this.health = health;
    this.loads = loads;
    this.gates = List.copyOf(gates);
    for (BackendConfig b : cluster.backends()) {
      loads.counters(b.name()).weight(b.weight());
    }
  }

  @Override
  public void run() {
    for (BackendStatus s : health.statuses()) {
      if (s.lastProbe() == null || s.lastProbe().at().equals(fed.get(s.node().name()))) {
        continue;
      }
      fed.put(s.node().name(), s.lastProbe().at());
      if (s.lastProbe().ok() && s.lastProbe().latency() != null) {
        loads.counters(s.node().name()).latency(s.lastProbe().latency().toNanos());
      }
      for (LagGate g : gates) {
        g.observe(s);
      }
    }
  }
}

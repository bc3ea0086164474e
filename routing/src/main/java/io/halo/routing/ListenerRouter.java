package io.halo.routing;

import io.halo.conf.model.ListenerConfig;
import io.halo.conf.model.Route;
import io.halo.health.state.BackendNode;
import io.halo.health.state.NodeState;
import io.halo.health.state.Topology;
import io.halo.health.state.TopologySource;
import java.util.List;
import java.util.Objects;
import io.halo.routing.balance.BackendLoads;
import io.halo.routing.balance.BalancePolicy;
import io.halo.routing.balance.Balancer;
import io.halo.routing.balance.LagGate;
import java.time.Duration;
import java.util.concurrent.ThreadLocalRandom;

/**
 * The router of one listener: {@code route: primary} goes to the topology's primary,
 * {@code route: replicas} spreads sessions over routable standbys that the lag gate keeps in
 * rotation, by the listener's {@code balance} policy, and when none is left falls back to the
 * primary if the listener allows it. While a failover runs and no primary is routable, it
 * says {@link RouteResult.Wait} so that new sessions are held instead of refused.
 */
public final class ListenerRouter implements Router {

  private final String cluster;
  private final ListenerConfig listener;
  private final TopologySource topologies;
  private final BackendLoads loads;
  private final Balancer balancer;
  private final LagGate lagGate;

  /** Round-robin over the replicas, no lag limit (tests and simple setups). */
  public ListenerRouter(String cluster, ListenerConfig listener, TopologySource topologies) {
    this(cluster, listener, topologies, new BackendLoads(Duration.ofSeconds(10), System::nanoTime), null);
  }

  /**
   * @param loads the cluster's load figures (shared by its listeners)
   * @param lagGate the listener's lag limit for replicas, or null for none
   */
  public ListenerRouter(
      String cluster, ListenerConfig listener, TopologySource topologies, BackendLoads loads, LagGate lagGate) {
    this.cluster = Objects.requireNonNull(cluster, "cluster");
    this.listener = Objects.requireNonNull(listener, "listener");
    this.topologies = Objects.requireNonNull(topologies, "topologies");
    this.loads = Objects.requireNonNull(loads, "loads");
    this.lagGate = lagGate;
    // Each pick draws from the calling event loop's own ThreadLocalRandom.
    this.balancer = BalancePolicy.valueOf(listener.balance().name()).create(loads, () -> ThreadLocalRandom.current().nextLong());
  }

  @Override
  public void sessionStarted(String backend) {
    loads.counters(backend).sessionStarted();
  }

  @Override
  public void sessionEnded(String backend) {
    loads.counters(backend).sessionEnded();
  }

  @Override
  public boolean inRotation(String backend) {
    for (BackendNode n : topologies.current().routableStandbys()) {
      if (n.name().equals(backend)) {
        return lagGate == null || lagGate.inRotation(backend);
      }
    }
    return false;
  }

  @Override
  public RouteResult routeReplica(RouteRequest request) {
    Topology topology = topologies.current();
    List<BackendNode> standbys = topology.routableStandbys();
    if (lagGate != null) {
      standbys = lagGate.filter(standbys);
    }
    if (standbys.isEmpty()) {
      return new RouteResult.Unavailable("cluster " + cluster + " has no replica in rotation");
    }
    return new RouteResult.Routed(balancer.pick(standbys), topology.epoch());
  }

  @Override
  public RouteResult route(RouteRequest request) {
    Topology topology = topologies.current();
    if (listener.route() == Route.REPLICAS) {
      if (routeReplica(request) instanceof RouteResult.Routed r) {
        return r;
      }
      if (!listener.fallbackToPrimary()) {
        return new RouteResult.Unavailable(
            "cluster " + cluster + " has no healthy replica and fallback_to_primary is off");
      }
    }
    if (topology.failoverInProgress()) {
      return new RouteResult.Wait("a failover of cluster " + cluster + " is in progress");
    }
    // A DOWN primary is still tried: Halo's probe may be what failed, and a refused connection
    // tells the client more (08001 naming the backend) than a guess would. Only a fence stops it.
    return topology
        .backend(topology.primary())
        .filter(p -> p.state() != NodeState.FENCED && !p.draining())
        .<RouteResult>map(p -> new RouteResult.Routed(p, topology.epoch()))
        .orElseGet(
            () ->
                new RouteResult.Unavailable(
                    "cluster " + cluster + " has no available primary"
                        + (topology.primary() == null ? "" : " (" + topology.primary() + " is fenced or draining)")));
  }
}

package io.halo.routing;

import io.halo.conf.model.ListenerConfig;
import io.halo.conf.model.Route;
import io.halo.health.state.BackendNode;
import io.halo.health.state.NodeState;
import io.halo.health.state.Topology;
import io.halo.health.state.TopologySource;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The router of one listener: {@code route: primary} goes to the topology's primary,
 * {@code route: replicas} round-robins over routable standbys and, when none is left, falls back
 * to the primary if the listener allows it. While a failover runs and no primary is routable, it
 * says {@link RouteResult.Wait} so that new sessions are held instead of refused.
 */
public final class ListenerRouter implements Router {

  private final String cluster;
  private final ListenerConfig listener;
  private final TopologySource topologies;
  private final AtomicInteger next = new AtomicInteger();

  public ListenerRouter(String cluster, ListenerConfig listener, TopologySource topologies) {
    this.cluster = Objects.requireNonNull(cluster, "cluster");
    this.listener = Objects.requireNonNull(listener, "listener");
    this.topologies = Objects.requireNonNull(topologies, "topologies");
  }

  @Override
  public RouteResult route(RouteRequest request) {
    Topology topology = topologies.current();
    if (listener.route() == Route.REPLICAS) {
      List<BackendNode> standbys = topology.routableStandbys();
      if (!standbys.isEmpty()) {
        BackendNode pick = standbys.get(Math.floorMod(next.getAndIncrement(), standbys.size()));
        return new RouteResult.Routed(pick, topology.epoch());
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

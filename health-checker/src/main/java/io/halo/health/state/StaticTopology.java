package io.halo.health.state;

import io.halo.conf.model.BackendRole;
import io.halo.conf.model.ClusterConfig;
import java.util.List;

/**
 * A topology taken from the config alone: the configured primary is primary, running standbys are
 * standbys, every backend is assumed UP. Used until monitors are running (and by tests).
 */
public final class StaticTopology implements TopologySource {

  private final Topology topology;

  public StaticTopology(ClusterConfig cluster) {
    List<BackendNode> nodes =
        cluster.backends().stream()
            .map(
                b ->
                    new BackendNode(
                        b.name(),
                        b.address(),
                        b.role() == BackendRole.PRIMARY ? NodeRole.PRIMARY : NodeRole.STANDBY,
                        b.role() == BackendRole.COLD ? NodeState.DOWN : NodeState.UP,
                        b.priority()))
            .toList();
    this.topology = new Topology(cluster.name(), 1, cluster.configuredPrimary().name(), nodes);
  }

  @Override
  public Topology current() {
    return topology;
  }
}

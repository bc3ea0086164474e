package io.halo.health.state;

import java.util.List;
import java.util.Objects;
import java.util.Optional;

/**
 * An immutable snapshot of one cluster: its backends with role and state, and which one is primary.
 * Routing reads one snapshot per decision; the health checker publishes a new one on every change.
 *
 * <p>The type lives in health-checker, not routing, because module dependencies point one way
 * ({@code conf <- health-checker <- routing}) and health-checker is the writer.
 *
 * @param epoch incremented on every change of primary; a fencing token for later coordination
 * @param primary name of the backend that may take writes, or null while there is none
 * @param failoverInProgress new primary sessions wait (bounded) instead of failing
 * @param unresolved a failover stopped after its promotion was sent, its outcome unknown: the
 *     primary stays fenced and writes wait (failoverInProgress is true too) until an operator
 *     decides, which is what a session's error then says, not that a failover is in progress
 */
public record Topology(
    String cluster,
    long epoch,
    String primary,
    List<BackendNode> backends,
    boolean failoverInProgress,
    boolean unresolved) {

  public Topology(String cluster, long epoch, String primary, List<BackendNode> backends) {
    this(cluster, epoch, primary, backends, false);
  }

  public Topology(
      String cluster,
      long epoch,
      String primary,
      List<BackendNode> backends,
      boolean failoverInProgress) {
    this(cluster, epoch, primary, backends, failoverInProgress, false);
  }

  public Topology {
    Objects.requireNonNull(cluster, "cluster");
    backends = List.copyOf(backends);
    if (primary != null && backends.stream().noneMatch(b -> b.name().equals(primary))) {
      throw new IllegalArgumentException(
          "primary '" + primary + "' is not a backend of " + cluster);
    }
  }

  /** The primary, if one is named and routable. */
  public Optional<BackendNode> routablePrimary() {
    return backend(primary).filter(BackendNode::routable);
  }

  public Optional<BackendNode> backend(String name) {
    if (name == null) {
      return Optional.empty();
    }
    for (BackendNode b : backends) { // every new session asks: no stream on this path
      if (b.name().equals(name)) {
        return Optional.of(b);
      }
    }
    return Optional.empty();
  }

  /** Standbys that may take read traffic, in config order. */
  public List<BackendNode> routableStandbys() {
    return backends.stream()
        .filter(b -> !b.name().equals(primary))
        .filter(b -> b.role() == NodeRole.STANDBY && b.routable())
        .toList();
  }

  /** The same topology with one backend replaced (matched by name). */
  public Topology with(BackendNode node) {
    return new Topology(
        cluster,
        epoch,
        primary,
        backends.stream().map(b -> b.name().equals(node.name()) ? node : b).toList(),
        failoverInProgress,
        unresolved);
  }
}

package io.halo.health.state;

/** Where routing gets the current Topology of a cluster. Reads are cheap and never block. */
public interface TopologySource {

  /** The latest snapshot. */
  Topology current();
}

package io.halo.health.state;

/** What a backend is in the replication topology, as Halo last established it. */
public enum NodeRole {
  PRIMARY,
  STANDBY,
  /** Not known yet, or the backend is not reachable to ask. */
  UNKNOWN
}

package io.halo.conf.model;

/** Where a listener sends its sessions. */
public enum Route {
  /** Read-write: the current primary. */
  PRIMARY,
  /** Read-only: healthy standbys/replicas, balanced. */
  REPLICAS
}

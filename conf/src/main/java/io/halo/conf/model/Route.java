package io.halo.conf.model;

/** Where a listener sends its sessions. */
public enum Route {
  /** Read-write: the current primary. */
  PRIMARY,
  /** Read-only: healthy standbys/replicas, balanced. */
  REPLICAS,
  /**
   * Read/write split per statement: reads outside a transaction to a replica, the rest to the
   * primary. The only route on which statement-level routing rules ({@code statement:},
   * {@code hint:}) apply.
   */
  SPLIT
}

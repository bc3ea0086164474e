package io.halo.conf.model;

/** Where a listener sends its sessions. */
public enum Route {
  /** Read-write: the current primary. */
  PRIMARY,
  /** Read-only: healthy standbys/replicas, balanced. */
  REPLICAS,
  /**
   * Read/write split per statement: reads outside transactions go to a replica, everything else to
   * the primary (one session, connections to both). The only route on which statement-level routing
   * rules ({@code statement:}, {@code hint:}) apply.
   */
  SPLIT
}

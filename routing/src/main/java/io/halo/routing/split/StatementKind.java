package io.halo.routing.split;

/**
 * Where a statement may run under {@code route: split}, from the cheapest to the most binding.
 * Combining the kinds of several statements sent together takes the most binding one.
 */
public enum StatementKind {
  /** Only reads: a replica may run it outside a transaction. */
  READ,
  /**
   * Changes a session setting that can be replayed on another connection (PostgreSQL {@code SET},
   * {@code RESET}; MySQL {@code SET NAMES}, {@code SET SESSION}, {@code USE}): runs on the primary
   * and is replayed on the session's replica connection before its next read.
   */
  SESSION,
  /** Writes, or anything not known to be a pure read: the primary. */
  WRITE,
  /** Transaction control ({@code BEGIN}, {@code COMMIT}, ...): the primary. */
  TRANSACTION,
  /**
   * Creates session state that cannot be moved (temporary tables, advisory locks, {@code LISTEN},
   * SQL-level {@code PREPARE}, MySQL user variables and table locks): the session stays on the
   * primary from now on.
   */
  PIN;

  /** The kind of several statements sent as one request. */
  public StatementKind and(StatementKind other) {
    if (this == other) {
      return this;
    }
    if (this == PIN || other == PIN) {
      return PIN;
    }
    // A setting mixed with other work cannot be replayed on its own.
    if (this == SESSION || other == SESSION) {
      return PIN;
    }
    return this.ordinal() >= other.ordinal() ? this : other;
  }

  /** Whether a replica may run it. */
  public boolean replicaSafe() {
    return this == READ;
  }
}

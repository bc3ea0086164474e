package io.halo.health;

/**
 * An action that only the fleet's leader may take (failover, switchover, drain...) was asked of an
 * instance that does not lead; the admin API answers 409 with the leader's address.
 */
public final class NotLeaderException extends IllegalStateException {

  private static final long serialVersionUID = 1L;

  private final String leader;

  public NotLeaderException(String cluster, String leader) {
    super(
        "this Halo instance does not lead cluster "
            + cluster
            + (leader == null
                ? "; no leader is known now (ZooKeeper unreachable or an election running): retry"
                : "; ask the leader: " + leader));
    this.leader = leader;
  }

  /** {@code instance@host:port} of the leader's admin API; null when none is known. */
  public String leader() {
    return leader;
  }
}

package io.halo.health.store;

import io.halo.health.failover.FailoverReport;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * What Halo decided about one cluster, as it must survive a restart: the epoch and the primary it
 * routes writes to, the backends it fenced or an operator took out, and the latest failover
 * reports. Immutable.
 *
 * @param primary null while the cluster has none
 * @param fenced backends fenced by a failover: never routed until they rejoin as standbys of the
 *     primary or an operator enables them
 * @param admin operator states other than enabled ({@code DRAINING}, {@code DISABLED}) by backend
 * @param reports finished failover reports, oldest first
 * @param unresolved a failover that stopped after its promotion was sent, until an operator
 *     decides: no automatic failover follows it (also in a restarted Halo or a new fleet leader,
 *     which would otherwise see only a fenced primary and promote again); null otherwise
 * @param savedAt when the file was written; null in a state not yet saved
 */
public record SavedState(
    int format,
    String cluster,
    long epoch,
    String primary,
    List<String> fenced,
    Map<String, String> admin,
    List<FailoverReport> reports,
    Unresolved unresolved,
    Instant savedAt) {

  public static final int FORMAT = 1;

  /** A failover left unresolved: its old primary, and what the operator is told to decide. */
  public record Unresolved(String oldPrimary, String what) {
    public Unresolved {
      Objects.requireNonNull(oldPrimary, "oldPrimary");
      Objects.requireNonNull(what, "what");
    }
  }

  public SavedState {
    Objects.requireNonNull(cluster, "cluster");
    fenced = fenced == null ? List.of() : List.copyOf(fenced);
    admin = admin == null ? Map.of() : Map.copyOf(admin);
    reports = reports == null ? List.of() : List.copyOf(reports);
  }

  /** The same decisions stamped with another time. */
  public SavedState at(Instant when) {
    return new SavedState(
        format, cluster, epoch, primary, fenced, admin, reports, unresolved, when);
  }

  /** Whether both hold the same decisions (the time they were saved aside). */
  public boolean sameAs(SavedState other) {
    return other != null && at(null).equals(other.at(null));
  }
}

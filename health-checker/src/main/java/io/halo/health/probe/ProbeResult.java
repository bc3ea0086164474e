package io.halo.health.probe;

import io.halo.health.state.NodeRole;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Objects;

/**
 * What one probe of one backend found. Immutable; engine-neutral where it can be (positions are
 * LSNs on PostgreSQL, a GTID set on MySQL).
 *
 * @param latency round trip of the probe's {@code SELECT 1}; null when the probe failed
 * @param error why the probe failed; null when it succeeded
 * @param timeline PostgreSQL timeline; 0 when unknown
 * @param walPosition PostgreSQL: primary {@code pg_current_wal_lsn()}, standby {@code
 *     pg_last_wal_replay_lsn()}; -1 when unknown
 * @param receivedPosition PostgreSQL standby {@code pg_last_wal_receive_lsn()}; primary: as
 *     walPosition; -1 when unknown
 * @param gtidPosition MySQL/MariaDB executed GTID set; null on PostgreSQL
 * @param replayDelay standby: how far replay trails the newest received transaction in time (0 when
 *     everything received is replayed); null on a primary
 * @param upstream a standby's replication link to its primary; null when it has none
 * @param downstreams a primary's connected standbys
 */
public record ProbeResult(
    String backend,
    Instant at,
    Duration latency,
    String error,
    NodeRole role,
    long timeline,
    long walPosition,
    long receivedPosition,
    String gtidPosition,
    Duration replayDelay,
    Upstream upstream,
    List<Downstream> downstreams) {

  /**
   * A standby's link to the server it replicates from.
   *
   * @param lastMessageAge time since the standby last heard from its upstream; null when unknown
   * @param senderTimeout the standby's {@code wal_sender_timeout}, taken as the upstream's: an idle
   *     upstream sends a keepalive at least every half of it
   */
  public record Upstream(
      String host,
      int port,
      String status,
      boolean streaming,
      Duration lastMessageAge,
      Duration senderTimeout) {

    public Upstream(String host, int port, String status, boolean streaming) {
      this(host, port, status, streaming, null, null);
    }
  }

  /** A standby as its primary sees it ({@code pg_stat_replication}). */
  public record Downstream(
      String name, String clientAddress, String state, String syncState, long replayPosition) {}

  public ProbeResult {
    Objects.requireNonNull(backend, "backend");
    Objects.requireNonNull(at, "at");
    Objects.requireNonNull(role, "role");
    downstreams = downstreams == null ? List.of() : List.copyOf(downstreams);
  }

  public boolean ok() {
    return error == null;
  }

  /** A failed probe. */
  public static ProbeResult failed(String backend, Instant at, String error) {
    return new ProbeResult(
        backend, at, null, error, NodeRole.UNKNOWN, 0, -1, -1, null, null, null, List.of());
  }
}

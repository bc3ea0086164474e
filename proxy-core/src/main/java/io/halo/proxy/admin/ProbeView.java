package io.halo.proxy.admin;

import io.halo.health.probe.ProbeResult;
import java.util.List;

/**
 * A backend's last probe as the admin API shows it. Positions come twice: as PostgreSQL LSN text
 * ({@code wal_lsn}: "0/3000060") and as the raw number ({@code wal_position}); both null when
 * unknown.
 */
public record ProbeView(
    String at,
    boolean ok,
    Double latencyMs,
    String error,
    String role,
    long timeline,
    String walLsn,
    Long walPosition,
    String receivedLsn,
    Long receivedPosition,
    String gtidPosition,
    Long replayDelayMs,
    UpstreamView upstream,
    List<DownstreamView> downstreams) {

  /** A standby's replication link to its upstream. */
  public record UpstreamView(String host, int port, String status, boolean streaming) {}

  /** A standby connected to this primary. */
  public record DownstreamView(
      String name,
      String clientAddress,
      String state,
      String syncState,
      String replayLsn,
      Long replayPosition) {}

  static ProbeView of(ProbeResult p) {
    if (p == null) {
      return null;
    }
    ProbeResult.Upstream up = p.upstream();
    return new ProbeView(
        p.at().toString(),
        p.ok(),
        p.latency() == null ? null : p.latency().toNanos() / 1_000_000.0,
        p.error(),
        p.role().name(),
        p.timeline(),
        Lsn.format(p.walPosition()),
        position(p.walPosition()),
        Lsn.format(p.receivedPosition()),
        position(p.receivedPosition()),
        p.gtidPosition(),
        p.replayDelay() == null ? null : p.replayDelay().toMillis(),
        up == null ? null : new UpstreamView(up.host(), up.port(), up.status(), up.streaming()),
        p.downstreams().stream()
            .map(
                d ->
                    new DownstreamView(
                        d.name(),
                        d.clientAddress(),
                        d.state(),
                        d.syncState(),
                        Lsn.format(d.replayPosition()),
                        position(d.replayPosition())))
            .toList());
  }

  private static Long position(long p) {
    return p < 0 ? null : p;
  }
}

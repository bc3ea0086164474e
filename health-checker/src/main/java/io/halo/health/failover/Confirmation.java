package io.halo.health.failover;

import io.halo.health.probe.ProbeResult;
import io.halo.health.state.BackendStatus;
import java.util.List;

/**
 * Whether a primary that Halo cannot reach is really gone. Where standbys are reachable, their WAL
 * receivers must have lost it too: a standby that still streams from it means Halo's own link may
 * be what failed, and promoting would split the cluster.
 *
 * <p>Why "still streaming" and not "heard from it recently": with PostgreSQL's defaults an idle
 * primary sends nothing at all (the standby's status replies every 10 s keep the sender from ever
 * pinging), so silence proves nothing. A killed primary resets the streams at once; a hung or
 * unplugged one is given up by the standby after its {@code wal_receiver_timeout} (60 s by
 * default), and then Halo confirms. Lower that setting for faster hang detection.
 */
final class Confirmation {

  private Confirmation() {}

  /**
   * Null when confirmed, else the reason not to fail over.
   *
   * <p>Any fresh stream counts, whatever address the standby uses for its upstream: Halo and the
   * standbys often reach the primary by different names (a VIP, DNS, a proxy). Only a stream from
   * another standby of the cluster (cascading replication) proves nothing about the primary.
   */
  static String check(List<BackendStatus> statuses, String primary) {
    for (BackendStatus s : statuses) {
      if (s.node().name().equals(primary)) {
        continue;
      }
      ProbeResult p = s.lastProbe();
      if (p == null || !p.ok() || p.upstream() == null) {
        continue;
      }
      ProbeResult.Upstream up = p.upstream();
      if (!up.streaming() || fromOtherStandby(statuses, primary, up)) {
        continue;
      }
      return "standby "
          + s.node().name()
          + " still streams from "
          + primary
          + (up.lastMessageAge() == null
              ? ""
              // the standby's clock may be a little ahead of Halo's: never "-4 ms ago"
              : " (last message " + Math.max(0, up.lastMessageAge().toMillis()) + " ms ago)")
          + ": Halo's own link to "
          + primary
          + " may be what failed; waiting until the standbys lose "
          + primary
          + " too (their wal_receiver_timeout)";
    }
    return null;
  }

  private static boolean fromOtherStandby(
      List<BackendStatus> statuses, String primary, ProbeResult.Upstream up) {
    return statuses.stream()
        .filter(s -> !s.node().name().equals(primary))
        .map(s -> s.node().address())
        .anyMatch(a -> a.port() == up.port() && a.host().equals(up.host()));
  }
}

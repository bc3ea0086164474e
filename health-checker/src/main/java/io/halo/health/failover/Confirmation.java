package io.halo.health.failover;

import io.halo.conf.model.HostPort;
import io.halo.health.probe.ProbeResult;
import io.halo.health.state.BackendStatus;
import java.time.Duration;
import java.util.List;

/**
 * Whether a primary that Halo cannot reach is really gone. Where standbys are reachable, their WAL
 * receivers must have lost it too: a standby that still streams from it and heard from it
 * recently means Halo's own link failed, and promoting would split the cluster.
 *
 * <p>"Recently" is half the standby's {@code wal_sender_timeout} (an idle primary sends a
 * keepalive at least that often) plus two probe intervals of slack. A killed primary resets the
 * streams at once; a hung one goes silent and is confirmed once the window passes.
 */
final class Confirmation {

  private Confirmation() {}

  /** Null when confirmed, else the reason not to fail over. */
  static String check(List<BackendStatus> statuses, String primary, HostPort primaryAddress, Duration interval) {
    for (BackendStatus s : statuses) {
      if (s.node().name().equals(primary)) {
        continue;
      }
      ProbeResult p = s.lastProbe();
      if (p == null || !p.ok() || p.upstream() == null) {
        continue;
      }
      ProbeResult.Upstream up = p.upstream();
      if (!up.streaming() || up.port() != primaryAddress.port()) {
        continue;
      }
      Duration window =
          (up.senderTimeout() == null ? Duration.ofSeconds(60) : up.senderTimeout()).dividedBy(2)
              .plus(interval.multipliedBy(2));
      if (up.lastMessageAge() == null || up.lastMessageAge().compareTo(window) <= 0) {
        return "standby " + s.node().name() + " still streams from " + primary
            + (up.lastMessageAge() == null ? "" : " (last message " + up.lastMessageAge().toMillis() + " ms ago)")
            + ": Halo's own link to " + primary + " seems to have failed, not " + primary;
      }
    }
    return null;
  }
}

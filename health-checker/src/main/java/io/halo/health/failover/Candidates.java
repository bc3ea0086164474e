package io.halo.health.failover;

import io.halo.conf.model.BackendRole;
import io.halo.conf.model.ClusterConfig;
import io.halo.health.probe.ProbeResult;
import io.halo.health.state.AdminState;
import io.halo.health.state.BackendStatus;
import io.halo.health.state.NodeRole;
import io.halo.health.state.NodeState;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * Chooses the standby to promote: healthy, enabled, a standby, within {@code max_lag} of the old
 * primary's last known position, and — when the primary ran synchronous replication — one of its
 * synchronous standbys (matched by application_name = backend name). Most advanced received
 * position first, then priority, then config order. Received, not replayed: a promotion replays
 * everything the standby received before it opens for writes (PostgreSQL's end of recovery,
 * MySqlOps waiting for the applied GTIDs to reach the received ones), so a standby that received
 * more but replayed less (replay paused by a conflicting query) is the one that holds the last
 * acknowledged commits; its replay backlog only makes its promotion slower. The applied position
 * counts where a probe has no received one. Pure: works on status snapshots.
 */
final class Candidates {

  /** The choice, or why there is none (one reason per rejected standby). */
  record Choice(BackendStatus candidate, long lagBytes, List<String> rejected) {

    /** Why no candidate was chosen, never empty: each rejected standby, or that there is none. */
    String why() {
      return rejected.isEmpty()
          ? "the cluster has no standby to promote"
          : String.join("; ", rejected);
    }
  }

  private Candidates() {}

  /**
   * Whether {@code backend} is a cold standby of {@code config} (promoted only by a cold failover).
   */
  static boolean isCold(ClusterConfig config, String backend) {
    return config.backend(backend).map(b -> b.role() == BackendRole.COLD).orElse(false);
  }

  static Choice choose(
      ClusterConfig config,
      List<BackendStatus> statuses,
      String oldPrimary,
      ProbeResult primaryLast,
      String target,
      boolean force) {
    long primaryPos = primaryLast == null ? -1 : primaryLast.walPosition();
    Set<String> sync =
        primaryLast == null
            ? Set.of()
            : primaryLast.downstreams().stream()
                .filter(d -> "sync".equals(d.syncState()) || "quorum".equals(d.syncState()))
                .map(ProbeResult.Downstream::name)
                .collect(Collectors.toSet());
    List<String> rejected = new ArrayList<>();
    List<BackendStatus> ok = new ArrayList<>();
    if (target == null) {
      // Another server already takes writes (promoted outside Halo, or by a failover that stopped
      // after its promotion, whose instance then stopped): promoting a third would make two
      // primaries. Only an operator, naming it, adopts it. Not counted: a server fenced by an
      // earlier failover (an old primary restarted as one: split brain, its writes are the lost
      // ones), one an operator took out, a cold standby.
      for (BackendStatus s : statuses) {
        ProbeResult p = s.lastProbe();
        if (!s.node().name().equals(oldPrimary)
            && p != null
            && p.ok()
            && p.role() == NodeRole.PRIMARY
            && s.node().state() != NodeState.FENCED
            && s.admin() == AdminState.ENABLED
            && !isCold(config, s.node().name())) {
          rejected.add(
              s.node().name()
                  + " reports itself a primary: no other is promoted; an operator adopts it"
                  + " (POST /api/v1/clusters/"
                  + config.name()
                  + "/failover {\"target\": \""
                  + s.node().name()
                  + "\", \"force\": true})");
        }
      }
      if (!rejected.isEmpty()) {
        return new Choice(null, -1, rejected);
      }
    }
    for (BackendStatus s : statuses) {
      String name = s.node().name();
      if (name.equals(oldPrimary) || (target != null && !name.equals(target))) {
        continue;
      }
      String why = reject(config, s, sync, primaryPos, target != null, force);
      if (why == null) {
        ok.add(s);
      } else {
        rejected.add(name + ": " + why);
      }
    }
    if (target != null && ok.isEmpty() && rejected.isEmpty()) {
      rejected.add(
          target + ": not a backend of cluster " + config.name() + " other than the primary");
    }
    ok.sort(
        Comparator.<BackendStatus>comparingLong(s -> reached(s.lastProbe()))
            .reversed()
            .thenComparing(
                Comparator.<BackendStatus>comparingInt(s -> s.node().priority()).reversed()));
    if (ok.isEmpty()) {
      return new Choice(null, -1, rejected);
    }
    BackendStatus best = ok.get(0);
    long reached = reached(best.lastProbe());
    long lag = primaryPos < 0 || reached < 0 ? -1 : Math.max(0, primaryPos - reached);
    return new Choice(best, lag, rejected);
  }

  private static String reject(
      ClusterConfig config,
      BackendStatus s,
      Set<String> sync,
      long primaryPos,
      boolean named,
      boolean force) {
    if (isCold(config, s.node().name())) {
      return "a cold standby (promoted only by failover.type: cold)";
    }
    if (s.admin() != AdminState.ENABLED) {
      return "admin state " + s.admin().name().toLowerCase(java.util.Locale.ROOT);
    }
    ProbeResult p = s.lastProbe();
    if (p == null || !p.ok()) {
      return "not reachable" + (p == null ? "" : " (" + p.error() + ")");
    }
    if (!s.node().state().routable()) {
      return "state " + s.node().state();
    }
    // A primary already is taken only when an operator names it and forces: a failover that did
    // not finish may have promoted it, and the operator decided it is the one (it is adopted as is)
    if (p.role() != NodeRole.STANDBY && !(named && force && p.role() == NodeRole.PRIMARY)) {
      return "not a standby (reports " + p.role() + ")";
    }
    if (!named && s.node().priority() < 0) {
      return "priority " + s.node().priority() + " (never promoted automatically)";
    }
    if (!force && !sync.isEmpty() && !sync.contains(s.node().name())) {
      return "not a synchronous standby of the old primary (sync: " + sync + ")";
    }
    long lag = primaryPos < 0 ? -1 : primaryPos - reached(p);
    if (!force && lag > config.failover().maxLagBytes()) {
      return "lags "
          + lag
          + " bytes behind the old primary's last known position, more than max_lag "
          + config.failover().maxLagBytes();
    }
    return null;
  }

  /**
   * How far a standby's log reaches: what it received (PostgreSQL: flushed by its WAL receiver;
   * MySQL/MariaDB: the IO thread's GTIDs), else what it applied; -1 when unknown.
   */
  private static long reached(ProbeResult p) {
    if (p == null) {
      return -1;
    }
    return p.receivedPosition() >= 0 ? p.receivedPosition() : p.walPosition();
  }
}

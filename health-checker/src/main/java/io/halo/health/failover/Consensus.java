package io.halo.health.failover;

import io.halo.conf.model.FailoverConfig;
import io.halo.health.FleetView;
import java.util.ArrayList;
import java.util.List;

/**
 * A quorum of observers (pgpool-II's {@code failover_require_consensus}): with {@code
 * failover.require_consensus}, the leader fails over automatically only when enough live Halo
 * instances see the primary down through their own probes. One Halo's own link to the primary may
 * be what failed; the other instances probe from elsewhere.
 *
 * <p>The instances counted are those with a live view in ZooKeeper (ephemeral nodes: an instance
 * whose session ended is not counted, so a majority is of the instances still running). The leader
 * counts itself as seeing the primary down (it is evaluating because its own probes say so), even
 * before its own view has reached ZooKeeper. A Halo running alone has no fleet: one observer,
 * itself.
 */
final class Consensus {

  private Consensus() {}

  /**
   * Null when enough instances see {@code primary} down, else the reason not to fail over.
   *
   * @param fleet the fleet as this (leading) instance sees it; null when it runs alone
   * @param required {@link FailoverConfig#CONSENSUS_MAJORITY} or a number of instances
   */
  static String check(FleetView fleet, String primary, int required) {
    if (required == FailoverConfig.CONSENSUS_OFF || fleet == null) {
      return null;
    }
    int live = 0;
    List<String> seeDown = new ArrayList<>();
    List<String> seeUp = new ArrayList<>();
    boolean self = false;
    for (FleetView.Member m : fleet.instances()) {
      live++;
      if (m.instance().equals(fleet.instance())) {
        self = true;
        seeDown.add(m.instance());
      } else if (m.down().contains(primary)) {
        seeDown.add(m.instance());
      } else {
        seeUp.add(m.instance());
      }
    }
    if (!self) {
      live++;
      seeDown.add(fleet.instance());
    }
    int needed = required == FailoverConfig.CONSENSUS_MAJORITY ? live / 2 + 1 : required;
    if (seeDown.size() >= needed) {
      return null;
    }
    return "failover.require_consensus needs "
        + needed
        + (required == FailoverConfig.CONSENSUS_MAJORITY
            ? " of " + live + " live Halo instances (a majority)"
            : " Halo instances (" + live + " live)")
        + " to see it down, and only "
        + seeDown.size()
        + " do ("
        + String.join(", ", seeDown)
        + "; "
        + (seeUp.isEmpty() ? "no other instance" : String.join(", ", seeUp))
        + " still reach it)";
  }
}

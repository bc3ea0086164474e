package io.halo.health;

import java.util.List;

/**
 * The fleet of Halo instances sharing a cluster through ZooKeeper, as this instance sees it.
 *
 * @param instance this instance's name
 * @param leads whether this instance decides (leads, connected)
 * @param leader {@code instance@admin-address} of the leader when another instance leads; null when
 *     this one leads or none is known
 * @param problem why this instance is degraded (ZooKeeper connection lost); null when it is not
 * @param instances every connected instance's view: name, admin address, epoch, primary, leader
 */
public record FleetView(
    String instance, boolean leads, String leader, String problem, List<Member> instances) {

  /**
   * One instance's published view of the cluster.
   *
   * @param down the backends this instance's own probes see DOWN
   * @param hold the leader's request that every instance hold its sessions for the switchover it
   *     runs (a token per switchover), or null
   * @param held the switchover hold (its token) this instance has done: its sessions are held
   *     between transactions, nothing in flight; or null
   */
  public record Member(
      String instance,
      String admin,
      long epoch,
      String primary,
      boolean leader,
      List<String> down,
      String hold,
      String held) {

    public Member {
      down = down == null ? List.of() : List.copyOf(down);
    }

    public Member(
        String instance,
        String admin,
        long epoch,
        String primary,
        boolean leader,
        List<String> down) {
      this(instance, admin, epoch, primary, leader, down, null, null);
    }
  }

  public FleetView {
    instances = List.copyOf(instances);
  }
}

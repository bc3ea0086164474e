package io.halo.proxy.mysql;

import io.halo.conf.model.Route;
import io.halo.health.state.TopologySource;
import io.halo.proxy.session.ClusterSessions;
import io.halo.proxy.session.SwitchoverGate;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * The proxy's half of a planned switchover for one MySQL/MariaDB cluster, as {@code SwitchoverGate}
 * is for PostgreSQL: every read-write session stops at its next transaction boundary (known from
 * the server status flags); once none has work in flight, each reads its session settings from the
 * still-primary backend (the snapshot a move replays); at release the sessions on the old primary
 * move to the new one while new commands are still held, then everything goes on. Sessions of split
 * listeners ({@link MySqlSplitRelay}) are held and moved too: their primary connection is replaced
 * by one to the new primary, opened before their next command, with their settings replayed.
 */
public final class MySqlSwitchoverGate extends SwitchoverGate {

  public MySqlSwitchoverGate(ClusterSessions sessions, TopologySource topology) {
    super(sessions, topology);
  }

  @Override
  protected void whenQuiescent(long deadline) throws InterruptedException {
    // Every primary session is quiescent and stays so (new commands are held): read what a move
    // replays. A session whose snapshot does not come in time is ended at release, not moved.
    // (A split session needs none: it replays the settings it recorded.)
    List<MySqlSession> primaries = new ArrayList<>();
    for (var s : clusterSessions().all()) {
      if (s instanceof MySqlSession m && m.route() == Route.PRIMARY) {
        primaries.add(m);
      }
    }
    CountDownLatch read = new CountDownLatch(primaries.size());
    for (MySqlSession s : primaries) {
      s.client().eventLoop().execute(() -> s.snapshot(read));
    }
    long left = Math.max(1, deadline - System.nanoTime());
    read.await(Math.min(left, TimeUnit.SECONDS.toNanos(PHASE_WAIT_SECONDS)), TimeUnit.NANOSECONDS);
  }
}

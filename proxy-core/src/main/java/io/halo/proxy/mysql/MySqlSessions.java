package io.halo.proxy.mysql;

import io.halo.conf.model.Route;
import io.halo.health.state.Topology;
import io.halo.proxy.admin.ProxyView;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The relaying MySQL sessions of one cluster, so that a topology change can end the sessions that
 * must not go on — those on a fenced backend, and read-write sessions on a backend that is no
 * longer the primary — and a switchover can hold and move them ({@link MySqlSwitchoverGate}). Each
 * is ended on its own event loop with ERR 1053 when the client can take one (see {@link
 * MySqlSession#terminate}). Sessions of a {@code route: split} listener ({@link MySqlSplitRelay})
 * are kept apart; a switchover holds and moves them too, and a failover closes those whose primary
 * is fenced or replaced.
 */
public final class MySqlSessions {

  private static final Logger log = LoggerFactory.getLogger(MySqlSessions.class);

  private final String cluster;
  private final Set<MySqlSession> sessions = ConcurrentHashMap.newKeySet();
  private final Set<MySqlSplitRelay> splitSessions = ConcurrentHashMap.newKeySet();

  /** A switchover holds new transactions of primary sessions. */
  private volatile boolean holding;

  public MySqlSessions(String cluster) {
    this.cluster = cluster;
  }

  void add(MySqlSession s) {
    sessions.add(s);
  }

  void add(MySqlSplitRelay s) {
    splitSessions.add(s);
    s.client().closeFuture().addListener(f -> splitSessions.remove(s));
  }

  Set<MySqlSplitRelay> splits() {
    return splitSessions;
  }

  void remove(MySqlSession s) {
    sessions.remove(s);
  }

  boolean holding() {
    return holding;
  }

  void holding(boolean on) {
    holding = on;
  }

  Set<MySqlSession> all() {
    return sessions;
  }

  /** Called by the health writer on every topology change; only schedules work, never blocks. */
  public void onTopology(Topology t) {
    if (holding) {
      return; // a switchover moves its held sessions itself when it releases them
    }
    for (MySqlSplitRelay s : splitSessions) {
      s.eventLoop().execute(() -> s.onTopology(t, cluster));
    }
    for (MySqlSession s : sessions) {
      // decided on the session's own loop, from its own fields
      s.client()
          .eventLoop()
          .execute(
              () -> {
                if (s.moving() || s.closing()) {
                  return; // a switchover is moving it to the new primary
                }
                String why =
                    io.halo.proxy.session.SessionVerdicts.endReason(
                        t, cluster, s.backendName(), s.route() == Route.PRIMARY);
                if (why != null) {
                  log.info("[{}] ending session {}: {}", cluster, s, why);
                  s.terminate(why);
                }
              });
    }
  }

  public List<ProxyView.BackendSessions> counts() {
    Map<String, Integer> by = new HashMap<>();
    for (MySqlSession s : sessions) {
      by.merge(s.backendName(), 1, Integer::sum);
    }
    for (MySqlSplitRelay s : splitSessions) {
      by.merge(s.backendName(), 1, Integer::sum);
    }
    List<ProxyView.BackendSessions> out = new ArrayList<>();
    by.forEach((b, n) -> out.add(new ProxyView.BackendSessions(cluster, b, n)));
    return out;
  }

  public int size() {
    return sessions.size() + splitSessions.size();
  }
}

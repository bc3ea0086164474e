package io.halo.proxy.pg;

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
 * The relaying sessions of one cluster, so that a topology change can end the sessions that must
 * not go on: those on a fenced backend, and read-write sessions on a backend that is no longer the
 * primary. Each is ended on its own event loop with a FATAL 57P01 that says why.
 */
public final class PgSessions {

  private static final Logger log = LoggerFactory.getLogger(PgSessions.class);

  private final String cluster;
  private final Set<PgSession> sessions = ConcurrentHashMap.newKeySet();

  /** A switchover holds new transactions of primary sessions. */
  private volatile boolean holding;

  public PgSessions(String cluster) {
    this.cluster = cluster;
  }

  void add(PgSession s) {
    sessions.add(s);
  }

  /**
   * @return whether it was registered (so that it is counted out once)
   */
  boolean remove(PgSession s) {
    return sessions.remove(s);
  }

  boolean holding() {
    return holding;
  }

  void holding(boolean on) {
    holding = on;
  }

  Set<PgSession> all() {
    return sessions;
  }

  /** Called by the health writer on every topology change; only schedules work, never blocks. */
  public void onTopology(Topology t) {
    if (holding) {
      return; // a switchover moves its held sessions itself when it releases them
    }
    for (PgSession s : sessions) {
      // decided on the session's own loop, from its own fields
      s.client()
          .eventLoop()
          .execute(
              () -> {
                if (s.moving() || s.state() == io.halo.proxy.session.SessionState.CLOSING) {
                  return; // a switchover is moving it to the new primary
                }
                String why =
                    io.halo.proxy.session.SessionVerdicts.endReason(
                        t, cluster, s.backendName(), s.readWrite());
                if (why != null) {
                  log.info("[{}] ending session {}: {}", cluster, s, why);
                  s.terminate(SqlState.ADMIN_SHUTDOWN, why);
                }
              });
    }
  }

  public List<ProxyView.BackendSessions> counts() {
    Map<String, Integer> by = new HashMap<>();
    for (PgSession s : sessions) {
      by.merge(s.backendName(), 1, Integer::sum);
    }
    List<ProxyView.BackendSessions> out = new ArrayList<>();
    by.forEach((b, n) -> out.add(new ProxyView.BackendSessions(cluster, b, n)));
    return out;
  }

  public int size() {
    return sessions.size();
  }
}

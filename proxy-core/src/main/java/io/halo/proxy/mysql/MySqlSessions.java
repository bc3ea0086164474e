package io.halo.proxy.mysql;

import io.halo.conf.model.Route;
import io.halo.health.state.BackendNode;
import io.halo.health.state.NodeState;
import io.halo.health.state.Topology;
import io.halo.proxy.admin.ProxyView;
import io.netty.channel.Channel;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The relaying MySQL sessions of one cluster, so that a topology change can end the sessions that
 * must not go on — those on a fenced backend, and read-write sessions on a backend that is no
 * longer the primary — and a switchover can hold and move them ({@link MySqlSwitchoverGate}).
 * Each is ended on its own event loop with ERR 1053 when the client can take one (see
 * {@link MySqlSession#terminate}). Sessions of a {@code route: split} listener
 * ({@link MySqlSplitRelay}) are kept apart as {@link Session} records: they are not held by a
 * switchover and are closed as soon as their backend is fenced or replaced, hold or not.
 */
public final class MySqlSessions {

  private static final Logger log = LoggerFactory.getLogger(MySqlSessions.class);

  /** One relaying split session. */
  record Session(Channel client, Channel backend, String backendName, Route route) {}

  private final String cluster;
  private final Set<MySqlSession> sessions = ConcurrentHashMap.newKeySet();
  private final Set<Session> splitSessions = ConcurrentHashMap.newKeySet();
  /** A switchover holds new transactions of primary sessions. */
  private volatile boolean holding;

  public MySqlSessions(String cluster) {
    this.cluster = cluster;
  }

  void add(MySqlSession s) {
    sessions.add(s);
  }

  void add(Session s) {
    splitSessions.add(s);
    s.client().closeFuture().addListener(f -> splitSessions.remove(s));
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
    for (Session s : splitSessions) {
      boolean fenced = t.backend(s.backendName()).map(b -> b.state() == NodeState.FENCED).orElse(false);
      boolean replaced = s.route() != Route.REPLICAS && t.primary() != null && !t.primary().equals(s.backendName());
      if (fenced || replaced) {
        log.info("[{}] closing a session on {}: {}", cluster, s.backendName(),
            fenced ? "backend fenced" : "failover: " + t.primary() + " is the primary now (epoch " + t.epoch() + ")");
        s.client().eventLoop().execute(() -> {
          s.backend().close();
          s.client().close();
        });
      }
    }
    if (holding) {
      return; // a switchover moves its held sessions itself when it releases them
    }
    for (MySqlSession s : sessions) {
      if (s.moving()) {
        continue;
      }
      Optional<BackendNode> node = t.backend(s.backendName());
      String why = null;
      if (node.isPresent() && node.get().state() == NodeState.FENCED) {
        why = "backend " + s.backendName() + " of cluster " + cluster + " is fenced"
            + (t.failoverInProgress() ? ": failover in progress" : "") + "; reconnect";
      } else if (s.route() == Route.PRIMARY && t.primary() != null && !t.primary().equals(s.backendName())) {
        why = "failover: backend " + s.backendName() + " is no longer the primary of cluster " + cluster + "; "
            + t.primary() + " is (epoch " + t.epoch() + "); reconnect";
      }
      if (why != null) {
        String reason = why;
        log.info("[{}] ending session {}: {}", cluster, s, reason);
        s.client().eventLoop().execute(() -> s.terminate(reason));
      }
    }
  }

  public List<ProxyView.BackendSessions> counts() {
    Map<String, Integer> by = new HashMap<>();
    for (MySqlSession s : sessions) {
      by.merge(s.backendName(), 1, Integer::sum);
    }
    for (Session s : splitSessions) {
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

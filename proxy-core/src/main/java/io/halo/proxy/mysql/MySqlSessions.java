package io.halo.proxy.mysql;

import io.halo.conf.model.Route;
import io.halo.health.state.NodeState;
import io.halo.health.state.Topology;
import io.halo.proxy.admin.ProxyView;
import io.netty.channel.Channel;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The relaying MySQL sessions of one cluster, so that a failover can end those on a fenced backend
 * or on a primary that is no longer primary. Until the MySQL relay tracks response boundaries,
 * Halo cannot inject an ERR packet mid-stream, so these sessions are closed (the driver reports a
 * communications failure and reconnects to the new primary).
 */
public final class MySqlSessions {

  private static final Logger log = LoggerFactory.getLogger(MySqlSessions.class);

  /** One relaying session. */
  record Session(Channel client, Channel backend, String backendName, Route route) {}

  private final String cluster;
  private final Set<Session> sessions = ConcurrentHashMap.newKeySet();

  public MySqlSessions(String cluster) {
    this.cluster = cluster;
  }

  void add(Session s) {
    sessions.add(s);
    s.client().closeFuture().addListener(f -> sessions.remove(s));
  }

  /** Called by the health writer on every topology change; only schedules work. */
  public void onTopology(Topology t) {
    for (Session s : sessions) {
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
  }

  public List<ProxyView.BackendSessions> counts() {
    Map<String, Integer> by = new HashMap<>();
    for (Session s : sessions) {
      by.merge(s.backendName(), 1, Integer::sum);
    }
    List<ProxyView.BackendSessions> out = new ArrayList<>();
    by.forEach((b, n) -> out.add(new ProxyView.BackendSessions(cluster, b, n)));
    return out;
  }
}

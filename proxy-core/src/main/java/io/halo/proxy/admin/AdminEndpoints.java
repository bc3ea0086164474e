package io.halo.proxy.admin;

import io.halo.health.ClusterControl;
import io.halo.health.failover.FailoverReport;
import io.halo.proxy.admin.AdminJson.ActionBody;
import io.halo.proxy.admin.AdminRouter.Route;
import io.netty.handler.codec.http.HttpResponseStatus;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What each endpoint does, turned into a finished {@link AdminResponse}. {@link #respond} never
 * throws: expected failures become 4xx JSON errors, anything else a 500 that is logged here, once.
 * Reads run on the event loop (the contract says they never block); actions are called by the
 * handler on the action executor.
 */
final class AdminEndpoints {

  private static final Logger log = LoggerFactory.getLogger(AdminEndpoints.class);

  private final Map<String, ClusterControl> clusters;
  private final ProxyView proxy;
  private final AdminJson json;
  private final HaloMetrics metrics;
  private final LeaderForwarder forwarder;

  AdminEndpoints(List<ClusterControl> clusters, ProxyView proxy, AdminJson json) {
    this(clusters, proxy, json, null);
  }

  /**
   * @param forwarder sends a follower's actions to the fleet's leader; null: a follower refuses
   *     them (409 naming the leader)
   */
  AdminEndpoints(
      List<ClusterControl> clusters, ProxyView proxy, AdminJson json, LeaderForwarder forwarder) {
    this.forwarder = forwarder;
    Map<String, ClusterControl> byName = new LinkedHashMap<>();
    for (ClusterControl c : clusters) {
      if (byName.putIfAbsent(c.name(), c) != null) {
        throw new IllegalArgumentException("two clusters are named '" + c.name() + "'");
      }
    }
    this.clusters = byName;
    this.proxy = proxy;
    this.json = json;
    this.metrics = new HaloMetrics(clusters, proxy);
  }

  /**
   * @param body the request body as text, empty when none
   */
  AdminResponse respond(Route route, String body) {
    try {
      return handle(route, body);
    } catch (AdminException e) {
      return error(e);
    } catch (RuntimeException e) {
      log.error("admin: {} failed unexpectedly", describe(route), e);
      return json.error(
          HttpResponseStatus.INTERNAL_SERVER_ERROR,
          describe(route) + " failed unexpectedly: " + message(e) + " (details in Halo's log)");
    }
  }

  /**
   * An action (failover, switchover, drain, enable, disable). In a fleet, a follower connected to
   * ZooKeeper that knows the leader forwards it there ({@link LeaderForwarder}), unless it came
   * forwarded already (a degraded follower, or one that knows no leader, answers 409); the instance
   * that acts names itself in the answer ({@code acted_by}, and {@code forwarded_by} when a
   * follower passed it on). Blocks: action executor only.
   *
   * @param path the request's path, for forwarding
   * @param authorization the caller's Authorization header (null when none), for forwarding
   * @param forwardedBy the follower that forwarded this request; null when it came from a client
   */
  AdminResponse respondAction(
      Route route, String path, String body, String authorization, String forwardedBy) {
    ClusterControl c = clusters.get(route.cluster());
    io.halo.health.FleetView fleet = c == null ? null : c.fleet();
    if (fleet == null) {
      return respond(route, body);
    }
    // A degraded follower (cut from ZooKeeper) refuses instead: what it knows of the leader is old.
    if (!fleet.leads()
        && fleet.leader() != null
        && fleet.problem() == null
        && forwardedBy == null
        && forwarder != null) {
      return forwarder.forward(fleet.leader(), path, body, authorization, fleet.instance());
    }
    AdminResponse r = respond(route, body);
    if (!fleet.leads() && !c.fleet().leads()) {
      return r; // not acted on here: the answer (409) names the leader
    }
    Map<String, String> by = new LinkedHashMap<>();
    by.put("acted_by", fleet.instance());
    if (forwardedBy != null) {
      by.put("forwarded_by", forwardedBy);
    }
    Map<String, String> headers = new LinkedHashMap<>(r.headers());
    headers.put(LeaderForwarder.ACTED_BY, fleet.instance());
    return json.withFields(r, by).withHeaders(headers);
  }

  AdminResponse error(AdminException e) {
    return json.error(e.status(), e.getMessage()).withHeaders(e.headers());
  }

  private AdminResponse handle(Route route, String body) {
    return switch (route.endpoint()) {
      case HEALTH -> health();
      case METRICS ->
          AdminResponse.text(HttpResponseStatus.OK, AdminResponse.PROMETHEUS, metrics.scrape());
      case CLUSTERS -> json.ok(clusters.values().stream().map(ClusterViews::summary).toList());
      case CLUSTER -> json.ok(ClusterViews.detail(cluster(route), proxy.sessions()));
      case FAILOVER -> failover(route, json.readActionBody(body, Set.of("target", "force")));
      case SWITCHOVER -> switchover(route, json.readActionBody(body, Set.of("target")));
      case DRAIN, ENABLE, DISABLE -> backendAction(route);
      case RELOAD -> reload(json.readFlag(body, "dry_run"));
      case THROTTLE -> json.ok(throttle(cluster(route).name()));
      case THROTTLE_SET -> throttleSet(cluster(route).name(), body);
    };
  }

  /**
   * {@code POST /api/v1/reload}: 200 with what was applied and what waits for a restart; 400 with
   * every problem when the file does not load (nothing changed). With {@code {"dry_run": true}} the
   * same answer, and nothing is applied.
   */
  private AdminResponse reload(boolean dryRun) {
    ProxyView.ReloadView r;
    try {
      r = proxy.reload(dryRun);
    } catch (io.halo.conf.load.ConfigException e) {
      log.warn(
          "admin: reload refused, the config does not load; nothing changed:\n{}", e.getMessage());
      Map<String, Object> body = new LinkedHashMap<>();
      body.put("error", "the config file does not load; nothing changed");
      body.put("problems", e.violations().stream().map(Object::toString).toList());
      return json.json(HttpResponseStatus.BAD_REQUEST, body);
    } catch (IllegalArgumentException e) {
      log.warn("admin: reload refused; nothing changed: {}", message(e));
      throw AdminException.badRequest(message(e) + "; nothing changed");
    } catch (UnsupportedOperationException | IllegalStateException e) {
      throw new AdminException(HttpResponseStatus.CONFLICT, message(e));
    }
    return json.ok(r);
  }

  private ProxyView.ThrottleView throttle(String cluster) {
    return proxy.throttles().stream()
        .filter(t -> t.cluster().equals(cluster))
        .findFirst()
        .orElseThrow(() -> AdminException.notFound("cluster '" + cluster + "' has no throttle"));
  }

  /** {@code {"max_connections": 100, "max_transactions": 20, "max_queue": 50}}, each optional. */
  private AdminResponse throttleSet(String cluster, String body) {
    Map<String, Integer> values =
        json.readIntegers(body, Set.of("max_connections", "max_transactions", "max_queue"));
    if (values.isEmpty()) {
      throw AdminException.badRequest(
          "nothing to change; send any of max_connections, max_queue, max_transactions");
    }
    ProxyView.ThrottleView updated;
    try {
      updated =
          proxy.updateThrottle(
              cluster,
              values.get("max_connections"),
              values.get("max_transactions"),
              values.get("max_queue"));
    } catch (IllegalArgumentException e) {
      throw AdminException.badRequest(message(e));
    } catch (java.util.NoSuchElementException e) {
      throw AdminException.notFound(message(e));
    }
    log.info("admin: throttle of cluster {} changed to {}", cluster, values);
    return json.ok(updated);
  }

  private AdminResponse health() {
    List<String> lacking =
        clusters.values().stream()
            .filter(c -> c.topology().routablePrimary().isEmpty())
            .map(ClusterControl::name)
            .toList();
    Map<String, Object> body = new LinkedHashMap<>();
    if (lacking.isEmpty()) {
      body.put("status", "ok");
      return json.ok(body);
    }
    body.put("status", "unavailable");
    body.put("error", "no routable primary in cluster(s) " + String.join(", ", lacking));
    body.put("clusters_without_primary", lacking);
    return json.json(HttpResponseStatus.SERVICE_UNAVAILABLE, body);
  }

  private AdminResponse failover(Route route, ActionBody body) {
    ClusterControl c = cluster(route);
    checkBackend(c, body.target());
    return report(call(() -> c.failover(body.target(), body.force())));
  }

  private AdminResponse switchover(Route route, ActionBody body) {
    ClusterControl c = cluster(route);
    checkBackend(c, body.target());
    return report(call(() -> c.switchover(body.target())));
  }

  private AdminResponse backendAction(Route route) {
    ClusterControl c = cluster(route);
    String b = route.backend();
    checkBackend(c, b);
    call(
        () -> {
          switch (route.endpoint()) {
            case DRAIN -> c.drain(b);
            case ENABLE -> c.enable(b);
            case DISABLE -> c.disable(b);
            default -> throw new IllegalStateException("not a backend action: " + route.endpoint());
          }
          return null;
        });
    return c.backends().stream()
        .filter(s -> s.node().name().equals(b))
        .findFirst()
        .map(s -> json.ok(ClusterViews.backend(c.name(), s, proxy.sessions())))
        .orElseThrow(
            () ->
                AdminException.notFound(
                    "cluster '" + c.name() + "' no longer has backend '" + b + "'"));
  }

  /** SUCCEEDED: 200; still RUNNING: 202; REFUSED or FAILED: 409, the report's reason says why. */
  private AdminResponse report(FailoverReport r) {
    HttpResponseStatus status =
        switch (r.outcome()) {
          case SUCCEEDED -> HttpResponseStatus.OK;
          case RUNNING -> HttpResponseStatus.ACCEPTED;
          case REFUSED, FAILED -> HttpResponseStatus.CONFLICT;
        };
    return json.json(status, FailoverView.of(r));
  }

  /**
   * Calls a ClusterControl action, mapping its documented exceptions: IllegalStateException
   * (another failover is running) to 409, IllegalArgumentException (a target or backend the cluster
   * rejects) to 400. Only around the action, so that the same exception types thrown by a bug
   * elsewhere in the API stay a 500.
   */
  private static <T> T call(Supplier<T> action) {
    try {
      return action.get();
    } catch (IllegalStateException e) {
      throw new AdminException(HttpResponseStatus.CONFLICT, message(e));
    } catch (IllegalArgumentException e) {
      throw AdminException.badRequest(message(e));
    }
  }

  private ClusterControl cluster(Route route) {
    ClusterControl c = clusters.get(route.cluster());
    if (c == null) {
      throw AdminException.notFound(
          "no cluster '"
              + route.cluster()
              + "'; clusters: "
              + String.join(", ", clusters.keySet()));
    }
    return c;
  }

  /** An unknown backend is a 404 here; an IllegalArgumentException from the action is a 400. */
  private static void checkBackend(ClusterControl c, String backend) {
    if (backend != null && c.topology().backend(backend).isEmpty()) {
      throw AdminException.notFound("cluster '" + c.name() + "' has no backend '" + backend + "'");
    }
  }

  private static String describe(Route route) {
    return route.endpoint().method
        + " "
        + route.endpoint().name().toLowerCase(java.util.Locale.ROOT)
        + (route.cluster() == null ? "" : " on cluster " + route.cluster())
        + (route.backend() == null ? "" : ", backend " + route.backend());
  }

  private static String message(RuntimeException e) {
    return e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
  }
}

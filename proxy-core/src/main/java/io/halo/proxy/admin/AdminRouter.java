package io.halo.proxy.admin;

import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpResponseStatus;
import java.util.List;
import java.util.Map;

/**
 * Maps a method and a path to one admin endpoint. Knows only the URL shapes, not whether a cluster
 * or backend exists: that is the endpoints' 404.
 */
final class AdminRouter {

  /** What the API can do; {@code action} endpoints block and run on the action executor. */
  enum Endpoint {
    HEALTH(HttpMethod.GET, false),
    METRICS(HttpMethod.GET, false),
    CLUSTERS(HttpMethod.GET, false),
    CLUSTER(HttpMethod.GET, false),
    FAILOVER(HttpMethod.POST, true),
    SWITCHOVER(HttpMethod.POST, true),
    DRAIN(HttpMethod.POST, true),
    ENABLE(HttpMethod.POST, true),
    DISABLE(HttpMethod.POST, true),
    RELOAD(HttpMethod.POST, true),
    THROTTLE(HttpMethod.GET, false),
    /** Changes limits in memory; never blocks, so it runs on the event loop. PUT or POST. */
    THROTTLE_SET(HttpMethod.PUT, false);

    final HttpMethod method;
    final boolean action;

    Endpoint(HttpMethod method, boolean action) {
      this.method = method;
      this.action = action;
    }
  }

  /**
   * A matched request.
   *
   * @param cluster null unless the path names one
   * @param backend null unless the path names one
   */
  record Route(Endpoint endpoint, String cluster, String backend) {}

  private static final String CLUSTERS = "/api/v1/clusters";

  /**
   * @param path the decoded path, without the query string
   * @throws AdminException 404 for an unknown path, 405 (with {@code Allow}) for a known path and a
   *     wrong method
   */
  Route route(HttpMethod method, String path) {
    Route route = match(path);
    if (route == null) {
      throw AdminException.notFound("no such endpoint: " + method + " " + path);
    }
    if (route.endpoint() == Endpoint.THROTTLE
        && (method.equals(HttpMethod.PUT) || method.equals(HttpMethod.POST))) {
      return new Route(Endpoint.THROTTLE_SET, route.cluster(), null);
    }
    if (route.endpoint() == Endpoint.THROTTLE && !method.equals(HttpMethod.GET)) {
      throw new AdminException(
          HttpResponseStatus.METHOD_NOT_ALLOWED,
          method + " is not allowed on " + path + "; use GET, PUT or POST",
          Map.of(HttpHeaderNames.ALLOW.toString(), "GET, PUT, POST"));
    }
    if (!route.endpoint().method.equals(method)) {
      throw new AdminException(
          HttpResponseStatus.METHOD_NOT_ALLOWED,
          method + " is not allowed on " + path + "; use " + route.endpoint().method,
          Map.of(HttpHeaderNames.ALLOW.toString(), route.endpoint().method.name()));
    }
    return route;
  }

  private static Route match(String path) {
    switch (path) {
      case "/health":
        return new Route(Endpoint.HEALTH, null, null);
      case "/metrics":
        return new Route(Endpoint.METRICS, null, null);
      case "/api/v1/reload":
        return new Route(Endpoint.RELOAD, null, null);
      case CLUSTERS:
        return new Route(Endpoint.CLUSTERS, null, null);
      default:
        break;
    }
    if (!path.startsWith(CLUSTERS + "/")) {
      return null;
    }
    List<String> parts = List.of(path.substring(CLUSTERS.length() + 1).split("/", -1));
    if (parts.stream().anyMatch(String::isEmpty)) {
      return null;
    }
    String cluster = parts.get(0);
    if (parts.size() == 1) {
      return new Route(Endpoint.CLUSTER, cluster, null);
    }
    if (parts.size() == 2) {
      return switch (parts.get(1)) {
        case "failover" -> new Route(Endpoint.FAILOVER, cluster, null);
        case "switchover" -> new Route(Endpoint.SWITCHOVER, cluster, null);
        case "throttle" -> new Route(Endpoint.THROTTLE, cluster, null);
        default -> null;
      };
    }
    if (parts.size() == 4 && parts.get(1).equals("backends")) {
      String backend = parts.get(2);
      return switch (parts.get(3)) {
        case "drain" -> new Route(Endpoint.DRAIN, cluster, backend);
        case "enable" -> new Route(Endpoint.ENABLE, cluster, backend);
        case "disable" -> new Route(Endpoint.DISABLE, cluster, backend);
        default -> null;
      };
    }
    return null;
  }
}

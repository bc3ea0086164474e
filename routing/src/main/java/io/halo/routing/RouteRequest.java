package io.halo.routing;

import java.net.SocketAddress;
import java.util.Objects;

/**
 * What routing may know about a new session when it picks a backend.
 *
 * @param clientAddress the client's socket address (for rules on client networks)
 */
public record RouteRequest(
    String user, String database, String applicationName, SocketAddress clientAddress) {

  public RouteRequest {
    Objects.requireNonNull(user, "user");
    Objects.requireNonNull(database, "database");
  }
}

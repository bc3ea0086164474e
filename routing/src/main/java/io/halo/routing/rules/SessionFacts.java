package io.halo.routing.rules;

import io.halo.routing.RouteRequest;
import java.net.InetAddress;
import java.net.InetSocketAddress;

/**
 * The session-level facts rules match on, taken once from a {@link RouteRequest}.
 *
 * @param clientAddress the client's IP address, or null when unknown (a Unix socket, a test
 *     channel): a {@code client} rule then does not match
 */
record SessionFacts(
    String user, String database, String applicationName, InetAddress clientAddress) {

  static SessionFacts of(RouteRequest request) {
    InetAddress address =
        request.clientAddress() instanceof InetSocketAddress isa ? isa.getAddress() : null;
    return new SessionFacts(request.user(), request.database(), request.applicationName(), address);
  }
}

package io.halo.conf.model;

import java.util.Objects;

/**
 * One client-facing port of a cluster.
 *
 * @param maxClientConnections client connections accepted at once on this listener; more are
 *     refused with the protocol's "too many connections" error
 * @param fallbackToPrimary for {@link Route#REPLICAS}: use the primary when no replica is healthy
 */
public record ListenerConfig(
    HostPort listen, Route route, int maxClientConnections, boolean fallbackToPrimary) {

  public ListenerConfig {
    Objects.requireNonNull(listen, "listen");
    Objects.requireNonNull(route, "route");
    if (maxClientConnections < 1) {
      throw new IllegalArgumentException(
          "max_client_connections must be at least 1, got " + maxClientConnections);
    }
  }
}

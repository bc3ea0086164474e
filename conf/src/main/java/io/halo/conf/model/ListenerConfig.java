package io.halo.conf.model;

import java.util.Objects;

/**
 * One client-facing port of a cluster.
 *
 * @param maxClientConnections client connections accepted at once on this listener; more are
 *     refused with the protocol's "too many connections" error
 * @param fallbackToPrimary for {@link Route#REPLICAS}: use the primary when no replica is healthy
 * @param balance for {@link Route#REPLICAS}: how sessions are spread over the replicas
 * @param maxReplicaLag for {@link Route#REPLICAS}: a replica further behind leaves rotation (bytes
 *     of WAL on PostgreSQL, transactions on MySQL); -1 = no limit
 */
public record ListenerConfig(
    HostPort listen, Route route, int maxClientConnections, boolean fallbackToPrimary, Balance balance,
    long maxReplicaLag) {

  public ListenerConfig(HostPort listen, Route route, int maxClientConnections, boolean fallbackToPrimary) {
    this(listen, route, maxClientConnections, fallbackToPrimary, Balance.ROUND_ROBIN, -1);
  }

  public ListenerConfig {
    Objects.requireNonNull(listen, "listen");
    Objects.requireNonNull(route, "route");
    Objects.requireNonNull(balance, "balance");
    if (maxReplicaLag == 0 || maxReplicaLag < -1) {
      throw new IllegalArgumentException("max_replica_lag must be positive (leave it out for no limit)");
    }
    if (maxClientConnections < 1) {
      throw new IllegalArgumentException(
          "max_client_connections must be at least 1, got " + maxClientConnections);
    }
  }
}

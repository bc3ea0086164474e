package io.halo.conf.model;

import java.time.Duration;
import java.util.List;
import java.util.Objects;

/**
 * One client-facing port of a cluster.
 *
 * @param maxClientConnections client connections accepted at once on this listener; more are
 *     refused with the protocol's "too many connections" error
 * @param fallbackToPrimary for {@link Route#REPLICAS}: use the primary when no replica is healthy
 * @param balance for {@link Route#REPLICAS}: how sessions are spread over the replicas
 * @param maxReplicaLag for {@link Route#REPLICAS}: a replica further behind leaves rotation (bytes
 *     of WAL on PostgreSQL, transactions on MySQL); -1 = no limit; also gates the replicas of rules
 *     with {@code target: replicas} or a group target on any route
 * @param readYourWrites for {@link Route#SPLIT}: after a session writes, its reads go only to a
 *     replica that has replayed the write
 * @param readYourWritesWait for {@link Route#SPLIT}: how long a read waits for the replica to catch
 *     up before it goes to the primary instead; zero = go to the primary at once
 * @param rules routing rules tried in order before the route ({@link RuleConfig}); empty = none
 * @param tls TLS between clients and this listener ({@link ListenerTlsConfig#DISABLED} = none)
 * @param allow the networks clients may connect from (empty: any), checked at accept before a byte
 *     is read (PostgreSQL FATAL 28000, MySQL ERR 1130)
 * @param pool backend connection pooling ({@link PoolConfig#NONE} = a backend login per session)
 */
public record ListenerConfig(
    HostPort listen,
    Route route,
    int maxClientConnections,
    boolean fallbackToPrimary,
    Balance balance,
    long maxReplicaLag,
    boolean readYourWrites,
    Duration readYourWritesWait,
    List<RuleConfig> rules,
    ListenerTlsConfig tls,
    List<Cidr> allow,
    PoolConfig pool) {

  public ListenerConfig(
      HostPort listen,
      Route route,
      int maxClientConnections,
      boolean fallbackToPrimary,
      Balance balance,
      long maxReplicaLag,
      boolean readYourWrites,
      Duration readYourWritesWait,
      List<RuleConfig> rules,
      ListenerTlsConfig tls,
      List<Cidr> allow) {
    this(
        listen,
        route,
        maxClientConnections,
        fallbackToPrimary,
        balance,
        maxReplicaLag,
        readYourWrites,
        readYourWritesWait,
        rules,
        tls,
        allow,
        PoolConfig.NONE);
  }

  public ListenerConfig(
      HostPort listen,
      Route route,
      int maxClientConnections,
      boolean fallbackToPrimary,
      Balance balance,
      long maxReplicaLag,
      boolean readYourWrites,
      Duration readYourWritesWait,
      List<RuleConfig> rules,
      ListenerTlsConfig tls) {
    this(
        listen,
        route,
        maxClientConnections,
        fallbackToPrimary,
        balance,
        maxReplicaLag,
        readYourWrites,
        readYourWritesWait,
        rules,
        tls,
        List.of());
  }

  public ListenerConfig(
      HostPort listen,
      Route route,
      int maxClientConnections,
      boolean fallbackToPrimary,
      Balance balance,
      long maxReplicaLag,
      boolean readYourWrites,
      Duration readYourWritesWait,
      List<RuleConfig> rules) {
    this(
        listen,
        route,
        maxClientConnections,
        fallbackToPrimary,
        balance,
        maxReplicaLag,
        readYourWrites,
        readYourWritesWait,
        rules,
        ListenerTlsConfig.DISABLED);
  }

  public ListenerConfig(
      HostPort listen, Route route, int maxClientConnections, boolean fallbackToPrimary) {
    this(listen, route, maxClientConnections, fallbackToPrimary, Balance.ROUND_ROBIN, -1);
  }

  public ListenerConfig(
      HostPort listen,
      Route route,
      int maxClientConnections,
      boolean fallbackToPrimary,
      Balance balance,
      long maxReplicaLag) {
    this(
        listen,
        route,
        maxClientConnections,
        fallbackToPrimary,
        balance,
        maxReplicaLag,
        true,
        Duration.ZERO);
  }

  public ListenerConfig(
      HostPort listen,
      Route route,
      int maxClientConnections,
      boolean fallbackToPrimary,
      Balance balance,
      long maxReplicaLag,
      boolean readYourWrites,
      Duration readYourWritesWait) {
    this(
        listen,
        route,
        maxClientConnections,
        fallbackToPrimary,
        balance,
        maxReplicaLag,
        readYourWrites,
        readYourWritesWait,
        List.of());
  }

  /** The same listener with {@code newRules}. */
  public ListenerConfig withRules(List<RuleConfig> newRules) {
    return new ListenerConfig(
        listen,
        route,
        maxClientConnections,
        fallbackToPrimary,
        balance,
        maxReplicaLag,
        readYourWrites,
        readYourWritesWait,
        newRules,
        tls,
        allow,
        pool);
  }

  /** The same listener with {@code newTls}. */
  public ListenerConfig withTls(ListenerTlsConfig newTls) {
    return new ListenerConfig(
        listen,
        route,
        maxClientConnections,
        fallbackToPrimary,
        balance,
        maxReplicaLag,
        readYourWrites,
        readYourWritesWait,
        rules,
        newTls,
        allow,
        pool);
  }

  /** The same listener with {@code newAllow}. */
  public ListenerConfig withAllow(List<Cidr> newAllow) {
    return new ListenerConfig(
        listen,
        route,
        maxClientConnections,
        fallbackToPrimary,
        balance,
        maxReplicaLag,
        readYourWrites,
        readYourWritesWait,
        rules,
        tls,
        newAllow,
        pool);
  }

  /** The same listener with {@code newPool}. */
  public ListenerConfig withPool(PoolConfig newPool) {
    return new ListenerConfig(
        listen,
        route,
        maxClientConnections,
        fallbackToPrimary,
        balance,
        maxReplicaLag,
        readYourWrites,
        readYourWritesWait,
        rules,
        tls,
        allow,
        newPool);
  }

  public ListenerConfig {
    Objects.requireNonNull(listen, "listen");
    Objects.requireNonNull(route, "route");
    Objects.requireNonNull(balance, "balance");
    Objects.requireNonNull(readYourWritesWait, "readYourWritesWait");
    Objects.requireNonNull(tls, "tls");
    Objects.requireNonNull(pool, "pool");
    rules = List.copyOf(rules);
    allow = List.copyOf(allow);
    if (readYourWritesWait.isNegative()) {
      throw new IllegalArgumentException("read_your_writes_wait must not be negative");
    }
    if (maxReplicaLag == 0 || maxReplicaLag < -1) {
      throw new IllegalArgumentException(
          "max_replica_lag must be positive (leave it out for no limit)");
    }
    if (maxClientConnections < 1) {
      throw new IllegalArgumentException(
          "max_client_connections must be at least 1, got " + maxClientConnections);
    }
  }
}

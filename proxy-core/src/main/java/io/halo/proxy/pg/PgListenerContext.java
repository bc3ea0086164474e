package io.halo.proxy.pg;

import io.halo.conf.model.ListenerConfig;
import io.halo.conf.model.ServerConfig;
import io.halo.proxy.pg.auth.Credentials;
import io.halo.proxy.session.CancelRegistry;
import io.halo.proxy.session.Rejections;
import io.halo.proxy.transport.Transports;
import io.halo.routing.Router;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Everything the sessions of one PostgreSQL listener share. Immutable apart from the counters.
 *
 * @param name log prefix, e.g. {@code main/127.0.0.1:6432}
 * @param holdTimeout how long a new session waits for a running failover
 * @param split for {@code route: split} and {@code pool_mode: transaction} (which run the split
 *     engine): the classifier and counters; null otherwise
 */
public record PgListenerContext(
    String name,
    String cluster,
    ListenerConfig listener,
    ServerConfig server,
    Credentials credentials,
    Router router,
    CancelRegistry<PgSession> cancels,
    Transports transports,
    AtomicInteger clientConnections,
    Duration holdTimeout,
    io.halo.proxy.session.ClusterSessions sessions,
    Rejections rejections,
    io.halo.proxy.session.LogThrottle backendErrors,
    io.halo.proxy.session.Admission admission,
    io.halo.proxy.pg.auth.ScramKeyCache scramKeys,
    io.halo.proxy.session.SplitContext split,
    io.halo.proxy.session.AuthFailures authFailures,
    PgPool pool)
    implements io.halo.proxy.session.SessionListener {

  /** A listener whose pool follows its config ({@code pool_mode}). */
  public PgListenerContext(
      String name,
      String cluster,
      ListenerConfig listener,
      ServerConfig server,
      Credentials credentials,
      Router router,
      CancelRegistry<PgSession> cancels,
      Transports transports,
      AtomicInteger clientConnections,
      Duration holdTimeout,
      io.halo.proxy.session.ClusterSessions sessions,
      Rejections rejections,
      io.halo.proxy.session.LogThrottle backendErrors,
      io.halo.proxy.session.Admission admission,
      io.halo.proxy.pg.auth.ScramKeyCache scramKeys,
      io.halo.proxy.session.SplitContext split,
      io.halo.proxy.session.AuthFailures authFailures) {
    this(
        name,
        cluster,
        listener,
        server,
        credentials,
        router,
        cancels,
        transports,
        clientConnections,
        holdTimeout,
        sessions,
        rejections,
        backendErrors,
        admission,
        scramKeys,
        split,
        authFailures,
        new PgPool(listener.pool(), server.ioLoops(), admission));
  }

  /** {@code pool_mode: transaction}: sessions share backend connections between transactions. */
  @Override
  public boolean multiplexed() {
    return pool.multiplexed();
  }
}

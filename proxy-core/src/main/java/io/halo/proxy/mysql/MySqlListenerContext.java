package io.halo.proxy.mysql;

import io.halo.conf.model.ListenerConfig;
import io.halo.conf.model.ServerConfig;
import io.halo.proxy.mysql.auth.MySqlCredentials;
import io.halo.proxy.session.LogThrottle;
import io.halo.proxy.session.Rejections;
import io.halo.proxy.transport.Transports;
import io.halo.routing.Router;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Everything the sessions of one MySQL listener share. Immutable apart from the counters.
 *
 * @param split for {@code route: split}: the classifier and counters; null otherwise
 * @param backendGreeting the last backend greeting seen (server version and capabilities), which
 *     Halo's own greeting follows; null until a backend was reached
 * @param pool {@code pool_mode: session} or {@code transaction}: the backend connections sessions
 *     give back or check in
 */
public record MySqlListenerContext(
    String name,
    String cluster,
    ListenerConfig listener,
    ServerConfig server,
    MySqlCredentials credentials,
    Router router,
    Transports transports,
    AtomicInteger clientConnections,
    io.halo.proxy.session.CancelRegistry<MySqlKill.Target> connectionIds,
    Rejections rejections,
    LogThrottle backendErrors,
    java.time.Duration holdTimeout,
    io.halo.proxy.session.ClusterSessions sessions,
    io.halo.proxy.session.Admission admission,
    io.halo.proxy.session.SplitContext split,
    io.halo.proxy.session.AuthFailures authFailures,
    MySqlGreetings.Known backendGreeting,
    MySqlPool pool)
    implements io.halo.proxy.session.SessionListener {

  public MySqlListenerContext(
      String name,
      String cluster,
      ListenerConfig listener,
      ServerConfig server,
      MySqlCredentials credentials,
      Router router,
      Transports transports,
      AtomicInteger clientConnections,
      io.halo.proxy.session.CancelRegistry<MySqlKill.Target> connectionIds,
      Rejections rejections,
      LogThrottle backendErrors,
      java.time.Duration holdTimeout,
      io.halo.proxy.session.ClusterSessions sessions,
      io.halo.proxy.session.Admission admission,
      io.halo.proxy.session.SplitContext split,
      io.halo.proxy.session.AuthFailures authFailures) {
    this(
        name,
        cluster,
        listener,
        server,
        credentials,
        router,
        transports,
        clientConnections,
        connectionIds,
        rejections,
        backendErrors,
        holdTimeout,
        sessions,
        admission,
        split,
        authFailures,
        new MySqlGreetings.Known(),
        new MySqlPool(listener.pool(), server.ioLoops(), admission));
  }

  /** {@code pool_mode: transaction}: sessions share backend connections between transactions. */
  @Override
  public boolean multiplexed() {
    return pool.multiplexed();
  }
}

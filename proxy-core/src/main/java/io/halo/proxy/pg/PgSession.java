package io.halo.proxy.pg;

import io.halo.conf.model.HostPort;
import io.halo.conf.model.Route;
import io.halo.proxy.session.CancelRegistry;
import io.halo.proxy.session.SessionState;
import io.netty.channel.Channel;

/**
 * One client session after authentication: which backend connection it uses and what a cancel
 * request must be forwarded as. Mutable fields are touched only on the session's event loop; the
 * cancel fields are written before the session is registered for cancels and never change.
 */
public final class PgSession {

  private final PgListenerContext listener;
  private final Channel client;
  private final String user;
  private final String database;
  private final String backendName;
  private final HostPort backendAddress;
  private final int backendProcessId;
  private final int backendSecret;
  private CancelRegistry.Key cancelKey;
  private SessionState state = SessionState.IDLE;
  private Channel backend;
  /** The relay on the backend channel: it knows whether the client-bound stream is between messages. */
  private PgRelayHandler clientBound;

  PgSession(
      PgListenerContext listener,
      Channel client,
      String user,
      String database,
      PgBackendConnection connection) {
    this.listener = listener;
    this.client = client;
    this.user = user;
    this.database = database;
    this.backend = connection.channel();
    this.backendName = connection.node().name();
    this.backendAddress = connection.node().address();
    this.backendProcessId = connection.processId();
    this.backendSecret = connection.secret();
  }

  public String user() {
    return user;
  }

  public String database() {
    return database;
  }

  public String backendName() {
    return backendName;
  }

  public HostPort backendAddress() {
    return backendAddress;
  }

  int backendProcessId() {
    return backendProcessId;
  }

  int backendSecret() {
    return backendSecret;
  }

  public Route route() {
    return listener.listener().route();
  }

  public SessionState state() {
    return state;
  }

  void state(SessionState state) {
    this.state = state;
  }

  Channel client() {
    return client;
  }

  Channel backend() {
    return backend;
  }

  PgListenerContext listener() {
    return listener;
  }

  void clientBound(PgRelayHandler relay) {
    this.clientBound = relay;
  }

  /** Registers for cancel requests and in the cluster's session list. */
  CancelRegistry.Key register() {
    cancelKey = listener.cancels().register(this);
    listener.sessions().add(this);
    return cancelKey;
  }

  void unregister() {
    listener.sessions().remove(this);
    if (cancelKey != null) {
      listener.cancels().unregister(cancelKey);
      cancelKey = null;
    }
  }

  /**
   * Ends the session from Halo's side (failover, fence): a FATAL with {@code state} when the
   * client-bound stream is between messages, then both connections close. Event loop only.
   */
  void terminate(io.halo.proxy.pg.SqlState sqlState, String message) {
    if (state == SessionState.CLOSING) {
      return;
    }
    state = SessionState.CLOSING;
    unregister();
    backend.close();
    if (clientBound != null && clientBound.clientStreamAtBoundary() && client.isActive()) {
      client.writeAndFlush(io.halo.proxy.pg.message.PgMessages.fatal(client.alloc(), sqlState, message))
          .addListener(io.netty.channel.ChannelFutureListener.CLOSE);
    } else {
      client.close();
    }
  }

  @Override
  public String toString() {
    return user + "@" + database + " via " + backendName;
  }
}

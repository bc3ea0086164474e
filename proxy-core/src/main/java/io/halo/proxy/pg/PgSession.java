package io.halo.proxy.pg;

import io.halo.conf.model.HostPort;
import io.halo.conf.model.Route;
import io.halo.conf.model.UserConfig;
import io.halo.health.state.BackendNode;
import io.halo.proxy.pg.message.PgMessages;
import io.halo.proxy.session.CancelRegistry;
import io.halo.proxy.session.SessionState;
import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * One client session after authentication: which backend connection it uses, what a cancel
 * request must be forwarded as, and the state that lets it be held at a transaction boundary and
 * moved to another backend (switchover): requests awaiting a ReadyForQuery and the named prepared
 * statements it created.
 *
 * <p>Everything is changed on the session's event loop. Fields other threads read (the cancel
 * target, the state and in-flight count the switchover gate polls) are volatile.
 */
public final class PgSession {

  /** Named Parse messages kept for replay, at most this many bytes; beyond, the session cannot move. */
  static final int MAX_PREPARED_BYTES = 1 << 20;

  private final PgListenerContext listener;
  private final Channel client;
  private final String user;
  private final String database;
  private final UserConfig userConfig;
  private final Map<String, String> backendParameters;
  private volatile String backendName;
  private volatile HostPort backendAddress;
  private volatile int backendProcessId;
  private volatile int backendSecret;
  private volatile SessionState state = SessionState.IDLE;
  /** Requests (Query, Sync, FunctionCall) sent whose ReadyForQuery has not come back yet. */
  private volatile int pendingReplies;
  private volatile boolean held;
  /** Extended-protocol messages sent since the last Sync: a batch is open and must not be split. */
  private volatile boolean extendedOpen;
  /** Being moved to another backend by a switchover. */
  private volatile boolean moving;
  private CancelRegistry.Key cancelKey;
  private Channel backend;
  /** Set for a {@code route: split} session, which relays through it instead of relay handlers. */
  private PgSplitRelay split;
  private PgRelayHandler toClient;
  private PgRelayHandler toBackend;
  private final List<ByteBuf> heldBuffers = new ArrayList<>();
  private final Map<String, ByteBuf> prepared = new LinkedHashMap<>();
  private int preparedBytes;
  private boolean preparedOverflow;

  PgSession(
      PgListenerContext listener,
      Channel client,
      String user,
      String database,
      UserConfig userConfig,
      Map<String, String> backendParameters,
      PgBackendConnection connection) {
    this.listener = listener;
    this.client = client;
    this.user = user;
    this.database = database;
    this.userConfig = userConfig;
    this.backendParameters = Map.copyOf(backendParameters);
    bind(connection);
  }

  private void bind(PgBackendConnection connection) {
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

  /** Whether the session writes through the primary ({@code route: primary} or {@code split}). */
  public boolean readWrite() {
    return route() != Route.REPLICAS;
  }

  void split(PgSplitRelay relay) {
    this.split = relay;
  }

  /** Where a cancel request goes now: the backend running the split session's current request. */
  void cancelTarget(BackendNode node, int processId, int secret) {
    this.backendAddress = node.address();
    this.backendProcessId = processId;
    this.backendSecret = secret;
  }

  /** A split session belongs to a new primary (switchover); it logs in there on demand. */
  void boundTo(BackendNode node) {
    listener.router().sessionEnded(backendName);
    this.backendName = node.name();
    this.backendAddress = node.address();
    listener.router().sessionStarted(backendName);
  }

  /** The split session's connection to its (new) primary is open. */
  void rebound(BackendNode node, int processId, int secret, Channel channel) {
    this.backend = channel;
    cancelTarget(node, processId, secret);
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

  UserConfig userConfig() {
    return userConfig;
  }

  Map<String, String> backendParameters() {
    return backendParameters;
  }

  void relays(PgRelayHandler toBackend, PgRelayHandler toClient) {
    this.toBackend = toBackend;
    this.toClient = toClient;
  }

  // ---------------------------------------------------------------- requests in flight

  void requestSent() {
    pendingReplies++;
  }

  void extendedStarted() {
    extendedOpen = true;
  }

  /** A Sync closes the open extended batch; its ReadyForQuery is still to come. */
  void syncSent() {
    extendedOpen = false;
    pendingReplies++;
  }

  void replyReceived(byte status) {
    if (pendingReplies > 0) {
      pendingReplies--;
    }
    state = SessionState.fromTransactionStatus(status);
  }

  /** Between transactions with nothing in flight (or already held there). Any thread. */
  boolean quiescent() {
    return held || (pendingReplies == 0 && !extendedOpen && state == SessionState.IDLE);
  }

  /** Whether new work from the client must wait now: a switchover holds this cluster at boundaries. */
  boolean mustHold() {
    return listener.sessions().holding() && readWrite() && pendingReplies == 0
        && !extendedOpen && state == SessionState.IDLE;
  }

  boolean held() {
    return held;
  }

  /** A split session stopped before new work (it keeps the work itself); release resumes it. */
  void holdSplit() {
    held = true;
  }

  /** Keeps a client buffer that would start new work; the client is not read until release. */
  void hold(ByteBuf buf) {
    held = true;
    heldBuffers.add(buf);
    client.config().setAutoRead(false);
  }

  // ---------------------------------------------------------------- prepared statements

  /** A captured Parse or Close message from the client. Takes ownership. */
  void captured(ByteBuf message) {
    byte type = message.getByte(0);
    if (type == 'P') {
      int nameEnd = message.indexOf(5, message.writerIndex(), (byte) 0);
      String name = message.toString(5, Math.max(0, nameEnd - 5), java.nio.charset.StandardCharsets.UTF_8);
      if (name.isEmpty() || preparedOverflow) {
        message.release();
        return;
      }
      forget(name);
      if (preparedBytes + message.readableBytes() > MAX_PREPARED_BYTES) {
        preparedOverflow = true;
        message.release();
        return;
      }
      preparedBytes += message.readableBytes();
      prepared.put(name, message);
    } else if (type == 'C' && message.readableBytes() > 6 && message.getByte(5) == 'S') {
      int nameEnd = message.indexOf(6, message.writerIndex(), (byte) 0);
      forget(message.toString(6, Math.max(0, nameEnd - 6), java.nio.charset.StandardCharsets.UTF_8));
      message.release();
    } else {
      message.release();
    }
  }

  private void forget(String name) {
    ByteBuf old = prepared.remove(name);
    if (old != null) {
      preparedBytes -= old.readableBytes();
      old.release();
    }
  }

  // ---------------------------------------------------------------- switchover

  boolean moving() {
    return moving;
  }

  /**
   * Switchover release, phase 1 (new transactions still held): a read-write session on a backend
   * that is no longer the primary stops reading and starts moving to {@code primary} (new backend
   * login, prepared statements replayed). Nothing can reach the old primary meanwhile. Event loop.
   */
  void prepareRelease(BackendNode primary) {
    if (state == SessionState.CLOSING || !readWrite() || primary == null
        || primary.name().equals(backendName)) {
      return;
    }
    if (split != null) {
      split.primaryChanged(primary);
      return;
    }
    held = true;
    moving = true;
    client.config().setAutoRead(false);
    if (preparedOverflow) {
      terminate(SqlState.ADMIN_SHUTDOWN, "switchover to " + primary.name() + ": this session's prepared statements"
          + " exceed " + MAX_PREPARED_BYTES + " bytes and cannot be moved; reconnect");
      return;
    }
    PgSessionMove.start(this, primary);
  }

  /** Switchover release, phase 2 (nothing held any more): a held session that stays goes on. */
  void finishRelease() {
    if (held && !moving && state != SessionState.CLOSING) {
      resume();
    }
  }

  /** Lets held work go on the current backend. */
  void resume() {
    held = false;
    moving = false;
    if (split != null) {
      split.resumeAfterHold();
      return;
    }
    List<ByteBuf> bufs = new ArrayList<>(heldBuffers);
    heldBuffers.clear();
    for (ByteBuf b : bufs) {
      toBackend.forward(b);
    }
    backend.flush();
    client.config().setAutoRead(true);
  }

  /** Prepared statements to replay on a new backend (retained duplicates; the caller writes them). */
  List<ByteBuf> preparedForReplay() {
    return prepared.values().stream().map(ByteBuf::retainedDuplicate).toList();
  }

  /** Switches the session to an authenticated connection on another backend, then resumes. */
  void rebind(PgBackendConnection next) {
    if (state == SessionState.CLOSING || !client.isActive()) {
      next.channel().close();
      return;
    }
    Channel old = backend;
    old.pipeline().remove(toClient);
    old.writeAndFlush(PgMessages.terminate(old.alloc())).addListener(ChannelFutureListener.CLOSE);
    listener.router().sessionEnded(backendName);
    bind(next);
    listener.router().sessionStarted(backendName);
    PgRelayHandler nextToClient = new PgRelayHandler(this, false, client, listener.server().maxMessageSize());
    PgRelayHandler.pair(toBackend, nextToClient);
    toBackend.peer(backend);
    toClient = nextToClient;
    backend.pipeline().addLast("relay", nextToClient);
    backend.config().setAutoRead(true);
    resume();
  }

  // ---------------------------------------------------------------- registration and end

  /** Registers for cancel requests and in the cluster's session list. */
  CancelRegistry.Key register() {
    cancelKey = listener.cancels().register(this);
    listener.sessions().add(this);
    listener.router().sessionStarted(backendName);
    return cancelKey;
  }

  void unregister() {
    if (listener.sessions().remove(this)) {
      listener.router().sessionEnded(backendName);
    }
    if (cancelKey != null) {
      listener.cancels().unregister(cancelKey);
      cancelKey = null;
    }
    heldBuffers.forEach(ByteBuf::release);
    heldBuffers.clear();
    prepared.values().forEach(ByteBuf::release);
    prepared.clear();
  }

  /**
   * Ends the session from Halo's side (failover, fence): a FATAL with {@code state} when the
   * client-bound stream is between messages, then both connections close. Event loop only.
   */
  void terminate(SqlState sqlState, String message) {
    if (state == SessionState.CLOSING) {
      return;
    }
    state = SessionState.CLOSING;
    unregister();
    backend.close();
    if (split != null) {
      split.closeBackends();
    }
    boolean atBoundary = split != null || (toClient != null && toClient.clientStreamAtBoundary());
    if (atBoundary && client.isActive()) {
      client.writeAndFlush(PgMessages.fatal(client.alloc(), sqlState, message))
          .addListener(ChannelFutureListener.CLOSE);
    } else {
      client.close();
    }
  }

  @Override
  public String toString() {
    return user + "@" + database + " via " + backendName;
  }
}

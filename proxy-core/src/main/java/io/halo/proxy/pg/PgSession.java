package io.halo.proxy.pg;

import io.halo.conf.model.HostPort;
import io.halo.conf.model.Route;
import io.halo.conf.model.UserConfig;
import io.halo.health.state.BackendNode;
import io.halo.proxy.pg.message.PgMessages;
import io.halo.proxy.session.CancelRegistry;
import io.halo.proxy.session.SessionState;
import io.halo.proxy.session.TransactionGate;
import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * One client session after authentication: which backend connection it uses, what a cancel request
 * must be forwarded as, and the state that lets it be held at a transaction boundary and moved to
 * another backend (switchover): requests awaiting a ReadyForQuery and the named prepared statements
 * it created.
 *
 * <p>Everything is changed on the session's event loop. A switchover asks the session whether it is
 * quiescent as an event on that loop ({@link #awaitQuiescence}), never by reading its fields from
 * another thread. Fields other threads read (the cancel target, the backend's name for the admin
 * views) are volatile.
 *
 * <h2>Transaction admission (the relay's hooks)</h2>
 *
 * <p>A relay calls {@link #admitClientBuffer} with every client buffer before forwarding it, and
 * {@link #replyReceived} with every ReadyForQuery status. When a buffer starts new work on a
 * session idle between transactions (status 'I', no reply pending, no extended batch open), the
 * session asks its {@link TransactionGate} for a transaction permit of its backend: granted at
 * once, the buffer goes on; queued, the session holds the buffer (and stops reading the client, the
 * same hold a switchover uses) until the permit arrives on this event loop; refused (queue full,
 * {@code queue_timeout}, the user's rate limit), {@link PgRefusal} answers the work with ERROR
 * 53300 and ReadyForQuery, and the session stays usable. The permit goes back at the ReadyForQuery
 * that leaves the session idle with nothing pending; its duration is the latency sample of the
 * adaptive limit and of the balancers. Holding for a switchover and holding for a permit share one
 * list of held buffers: a resumed session whose held bytes start new work takes a permit first, and
 * a session moved to another backend gives back its place on the old one and asks the new one.
 *
 * <p>Size: the plain relay's per-session state (cancel target, transaction admission with held and
 * refused buffers, captured prepared statements for a move, giving its connection back to the pool,
 * outliving a lost backend) is one state machine on one event loop; the protocol-neutral switchover
 * and failover mechanics live in {@link io.halo.proxy.session.HeldSession}, the pool in {@link
 * PgPool}.
 */
public final class PgSession extends io.halo.proxy.session.HeldSession {

  /**
   * Named Parse messages kept for replay, at most this many bytes; beyond, the session cannot move.
   */
  static final int MAX_PREPARED_BYTES = 1 << 20;

  private final PgListenerContext listener;
  private final String user;
  private final String database;
  private final UserConfig userConfig;
  private final Map<String, String> backendParameters;

  /** {@link #backendParameters}, or (transaction pooling) a copy without {@link #SET_NOT_KEYED}. */
  private final Map<String, String> poolParameters;

  private volatile String backendName;

  /** Where a cancel request goes: read by other event loops, so one immutable value. */
  private volatile CancelTarget cancelTarget;

  private volatile SessionState state = SessionState.IDLE;

  /** Requests (Query, Sync, FunctionCall) sent whose ReadyForQuery has not come back yet. */
  private int pendingReplies;

  /** Extended-protocol messages sent since the last Sync: a batch is open and must not be split. */
  private boolean extendedOpen;

  private CancelRegistry.Key cancelKey;

  /** The plain relay's backend connection; null once a split relay has the session. */
  private Channel backend;

  /** Set for a {@code route: split} session, which relays through it instead of relay handlers. */
  private PgSplitRelay split;

  private PgRelayHandler toClient;
  private PgRelayHandler toBackend;
  private final Route route;
  private final Map<String, ByteBuf> prepared = new LinkedHashMap<>();
  private int preparedBytes;
  private boolean preparedOverflow;
  private final TransactionGate gate;

  /** Refused work still being answered, or null. */
  private PgRefusal refusal;

  /** The backend connection went back to the listener's pool when the client left. */
  private boolean pooledAway;

  /** What a lost backend said last (its FATAL), for the client if the session cannot go on. */
  private ByteBuf lastWords;

  PgSession(
      PgListenerContext listener,
      Channel client,
      String user,
      String database,
      UserConfig userConfig,
      Map<String, String> backendParameters,
      PgBackendConnection connection) {
    this(
        listener,
        client,
        user,
        database,
        userConfig,
        backendParameters,
        connection,
        listener.listener().route());
  }

  /**
   * @param route the session's route: its listener's, or another a routing rule chose
   */
  PgSession(
      PgListenerContext listener,
      Channel client,
      String user,
      String database,
      UserConfig userConfig,
      Map<String, String> backendParameters,
      PgBackendConnection connection,
      Route route) {
    super(client);
    this.route = java.util.Objects.requireNonNull(route, "route");
    this.listener = listener;
    this.user = user;
    this.database = database;
    this.userConfig = userConfig;
    this.backendParameters = Map.copyOf(backendParameters);
    this.poolParameters =
        listener.pool().multiplexed()
            ? listener.pool().canonical(poolParameters(this.backendParameters, true))
            : this.backendParameters;
    this.gate = listener.admission().transactionGate(user);
    bind(connection);
  }

  private void bind(PgBackendConnection connection) {
    this.backend = connection.channel();
    this.backendName = connection.node().name();
    this.cancelTarget =
        new CancelTarget(connection.node().address(), connection.processId(), connection.secret());
  }

  /**
   * The backend connection a cancel request must reach: its address and BackendKeyData. Replaced
   * whole, so that a cancel forwarded from another event loop never mixes two connections' keys.
   */
  record CancelTarget(HostPort address, int processId, int secret) {}

  public String user() {
    return user;
  }

  public String database() {
    return database;
  }

  @Override
  public String backendName() {
    return backendName;
  }

  public HostPort backendAddress() {
    return cancelTarget.address();
  }

  /**
   * Where a cancel request goes now. A split session's is asked of its relay (on the session's
   * event loop, where a cancel is decided): it changes with every transaction, and keeping it
   * current cost three comparisons per transaction.
   */
  CancelTarget cancelTarget() {
    PgSplitRelay s = split;
    return s != null ? s.cancelTarget() : cancelTarget;
  }

  /**
   * How this session is treated on topology changes: its listener's route, unless a routing rule
   * sent it elsewhere (a primary listener's session on a replica is a replicas session).
   */
  public Route route() {
    return route;
  }

  /** Whether the session writes through the primary ({@code route: primary} or {@code split}). */
  public boolean readWrite() {
    return route() != Route.REPLICAS;
  }

  /**
   * A client's cancel request for this session (any thread), decided on the session's event loop: a
   * request waiting in Halo is answered as cancelled there; otherwise {@code forward} sends the
   * cancel to the backend connection running the session's work, read on that loop too.
   */
  void cancel(Runnable forward) {
    client
        .eventLoop()
        .execute(
            () -> {
              if (split != null) {
                if (!split.cancelWaiting()) {
                  forward.run();
                }
              } else if (held
                  && gate.waiting()
                  && state != SessionState.CLOSING
                  && toClient != null
                  && toClient.clientStreamAtBoundary()) {
                // new work waits for a transaction permit; nothing runs on the backend
                gate.abandon();
                refuseHeld(SqlState.QUERY_CANCELED, CANCELED);
              } else {
                forward.run();
              }
            });
  }

  /** What PostgreSQL says to the client of a cancelled statement. */
  static final String CANCELED = "canceling statement due to user request";

  void split(PgSplitRelay relay) {
    this.split = relay;
    // the relay holds the session's connections from now on (the login's may go back to the pool
    // and serve another session): none is this session's to close or to read from here
    this.backend = null;
  }

  /** A split session belongs to a new primary (switchover); it logs in there on demand. */
  void boundTo(BackendNode node) {
    listener.router().sessionEnded(backendName);
    this.backendName = node.name(); // (its cancel target is its relay's: see cancelTarget())
    listener.router().sessionStarted(backendName);
  }

  public SessionState state() {
    return state;
  }

  void state(SessionState state) {
    this.state = state;
    if (state == SessionState.CLOSING) {
      ended();
    }
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

  /**
   * The startup parameters a backend connection of this session logs in with, and its pool key: on
   * a transaction-pooled listener, without the parameters Halo applies by {@code SET} instead
   * ({@link #SET_NOT_KEYED}), so that sessions differing only in them share connections.
   */
  Map<String, String> poolParameters() {
    return poolParameters; // made once: every transaction's checkout keys the pool with it
  }

  /** Startup parameters a transaction-pooled session gets by SET, not by its connection's login. */
  static final List<String> SET_NOT_KEYED = List.of("application_name");

  static Map<String, String> poolParameters(Map<String, String> parameters, boolean multiplexed) {
    if (!multiplexed || SET_NOT_KEYED.stream().noneMatch(parameters::containsKey)) {
      return parameters;
    }
    Map<String, String> key = new java.util.LinkedHashMap<>(parameters);
    SET_NOT_KEYED.forEach(key::remove);
    return Map.copyOf(key);
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

  /**
   * Relay hook: a ReadyForQuery with {@code status} came from the backend. Ends the transaction
   * (gives its permit back) when the session is idle again with nothing pending. Event loop.
   */
  public void replyReceived(byte status) {
    if (pendingReplies > 0) {
      pendingReplies--;
    }
    state = SessionState.fromTransactionStatus(status);
    if (gate.open() && betweenTransactions()) {
      gate.end();
    }
    checkQuiescence();
  }

  private boolean betweenTransactions() {
    return pendingReplies == 0 && !extendedOpen && state == SessionState.IDLE;
  }

  // ---------------------------------------------------------------- transaction admission

  /**
   * Relay hook, for every client buffer before it is forwarded. Event loop only.
   *
   * @param atBoundary the client stream is between messages before this buffer (the relay's
   *     scanner)
   * @return true when the relay forwards {@code buf} now; false when the session took it (held for
   *     a switchover or a transaction permit, or answered as refused work) and owns it
   */
  public boolean admitClientBuffer(ByteBuf buf, boolean atBoundary) {
    if (afterLoss()
        && atBoundary
        && heldBuffers.isEmpty()
        && buf.isReadable()
        && buf.getByte(buf.readerIndex()) == 'X') {
      // the client leaves while the session has no backend: no login just to say goodbye
      buf.release();
      state(SessionState.CLOSING);
      unregister();
      client.close();
      return false;
    }
    if (refusal != null) {
      continueRefusal(buf);
      return false;
    }
    if (held || (atBoundary && mustHold())) {
      hold(buf);
      return false;
    }
    if (!atBoundary || gate.open() || !betweenTransactions() || state == SessionState.CLOSING) {
      return true;
    }
    if (buf.isReadable() && buf.getByte(buf.readerIndex()) == 'X') {
      return true; // a client leaving needs no permit
    }
    heldBuffers.add(buf);
    if (beginHeld()) {
      heldBuffers.remove(heldBuffers.size() - 1);
      return true;
    }
    return false;
  }

  /** The session's transaction admission (the split relay asks it per backend). */
  TransactionGate gate() {
    return gate;
  }

  /** Whether a transaction is admitted and not finished (for tests and the split relay). */
  public boolean transactionOpen() {
    return gate.open();
  }

  /**
   * The held buffers (at least one) start new work: asks for a permit. True when they may go on
   * now; otherwise they stay held (waiting) or were answered (refused).
   */
  private boolean beginHeld() {
    TransactionGate.Decision d = gate.begin(backendName, client.eventLoop(), this::permitOutcome);
    switch (d) {
      case ADMITTED:
        return true;
      case WAITING:
        held = true;
        client.config().setAutoRead(false);
        checkQuiescence();
        return false;
      default:
        refuseHeld(gate.refusal());
        return false;
    }
  }

  /** The queued permit request ended: {@code refused} is null when the permit was granted. */
  private void permitOutcome(String refused) {
    if (state == SessionState.CLOSING || moving) {
      gate.abandon();
      return;
    }
    if (refused != null) {
      refuseHeld(refused);
    } else if (!(listener.sessions().holding() && route() == Route.PRIMARY)) {
      resume();
    }
    // else a switchover holds the cluster: the permit is kept and finishRelease resumes the session
  }

  /** Answers every held buffer as refused work (ERROR 53300), then reads the client again. */
  private void refuseHeld(String message) {
    refuseHeld(SqlState.TOO_MANY_CONNECTIONS, message);
  }

  /** Answers every held buffer as work that failed with {@code error}; reads the client again. */
  private void refuseHeld(SqlState error, String message) {
    if (toClient == null || !toClient.clientStreamAtBoundary()) {
      // the backend is mid-way through an asynchronous message (NOTIFY): no room for an error
      terminate(error, message);
      return;
    }
    held = false;
    refusal = new PgRefusal(client, error, message, listener.server().maxMessageSize());
    List<ByteBuf> bufs = takeHeld();
    for (ByteBuf b : bufs) {
      continueRefusal(b);
    }
    if (state != SessionState.CLOSING) {
      client.config().setAutoRead(client.isWritable());
    }
  }

  private void continueRefusal(ByteBuf buf) {
    PgRefusal r = refusal;
    if (r == null) {
      buf.release();
      return;
    }
    boolean over = r.consume(buf);
    if (r.terminated()) {
      state = SessionState.CLOSING;
      unregister();
      backend
          .writeAndFlush(PgMessages.terminate(backend.alloc()))
          .addListener(ChannelFutureListener.CLOSE);
      client
          .writeAndFlush(io.netty.buffer.Unpooled.EMPTY_BUFFER)
          .addListener(ChannelFutureListener.CLOSE);
    } else if (r.violation() != null) {
      terminate(SqlState.PROTOCOL_VIOLATION, r.violation());
    } else if (over) {
      refusal = null;
    }
    if (!client.isWritable()) {
      client.config().setAutoRead(false); // the client does not read its errors: stop reading it
    }
  }

  /** Refused work is being answered (the relay lets the client be read again when it drains). */
  boolean refusing() {
    return refusal != null;
  }

  /**
   * Between transactions with nothing in flight (or already held there), and the client's stream
   * between messages (a message whose header is only partly here would go on unheld). Event loop.
   */
  @Override
  public boolean quiescent() {
    return held
        || (pendingReplies == 0
            && !extendedOpen
            && state == SessionState.IDLE
            && (toBackend == null || toBackend.atBoundary())
            && (split == null || split.backendsIdle()));
  }

  /**
   * Whether new work from the client must wait now: a switchover holds this cluster at boundaries,
   * and a stopping Halo every session.
   */
  boolean mustHold() {
    return (stopping || (listener.sessions().holding() && readWrite()))
        && pendingReplies == 0
        && !extendedOpen
        && state == SessionState.IDLE;
  }

  /** A split session stopped before new work (it keeps the work itself); release resumes it. */
  void holdSplit() {
    held = true;
    checkQuiescence();
  }

  // ---------------------------------------------------------------- prepared statements

  /** A captured Parse or Close message from the client. Takes ownership. */
  void captured(ByteBuf message) {
    byte type = message.getByte(message.readerIndex());
    ByteBuf body = message.slice(message.readerIndex() + 5, message.readableBytes() - 5);
    io.halo.proxy.pg.message.ClientMessages.CloseTarget closed =
        type == 'C' ? io.halo.proxy.pg.message.ClientMessages.closeTarget(body) : null;
    if (type == 'P') {
      String name = io.halo.proxy.pg.message.ClientMessages.parseName(body);
      if (name == null || name.isEmpty() || preparedOverflow) {
        message.release();
        return;
      }
      forget(name);
      if (preparedBytes + PgSplitRelay.ENTRY_BYTES + message.readableBytes() > MAX_PREPARED_BYTES) {
        preparedOverflow = true;
        message.release();
        return;
      }
      preparedBytes += PgSplitRelay.ENTRY_BYTES + message.readableBytes(); // (and its entry)
      prepared.put(name, message);
    } else if (closed != null && closed.statement()) {
      forget(closed.name());
      message.release();
    } else {
      message.release();
    }
  }

  private void forget(String name) {
    ByteBuf old = prepared.remove(name);
    if (old != null) {
      preparedBytes -= PgSplitRelay.ENTRY_BYTES + old.readableBytes();
      old.release();
    }
  }

  // ---------------------------------------------------------------- switchover

  boolean moving() {
    return moving;
  }

  /**
   * Lets held work go on the current backend (after a transaction permit, if it starts new work).
   */
  @Override
  protected void resume() {
    held = false;
    moving = false;
    if (split != null) {
      split.resumeAfterHold();
      return;
    }
    if (stopping && !heldBuffers.isEmpty()) {
      held = true; // Halo is stopping: the drain ends the session, this work unanswered
      checkQuiescence();
      return;
    }
    if (!heldBuffers.isEmpty() && !gate.open() && !gate.waiting() && !beginHeld()) {
      return;
    }
    List<ByteBuf> bufs = takeHeld();
    for (ByteBuf b : bufs) {
      toBackend.forward(b);
    }
    backend.flush();
    client.config().setAutoRead(true);
  }

  @Override
  protected boolean writes() {
    return readWrite();
  }

  @Override
  protected boolean closing() {
    return state == SessionState.CLOSING;
  }

  @Override
  public io.halo.proxy.session.SessionListener listenerContext() {
    return listener;
  }

  /** A split session moves its own connections ({@link PgSplitRelay#primaryChanged}). */
  @Override
  protected boolean movedOtherwise(BackendNode primary) {
    if (split == null) {
      return false;
    }
    split.primaryChanged(primary);
    return true;
  }

  /** A permit (or a place in the queue) of the old backend; the new one is asked on resume. */
  @Override
  protected void moveStarting() {
    gate.abandon();
  }

  @Override
  protected String unmovable() {
    return preparedOverflow
        ? "its prepared statements exceed " + MAX_PREPARED_BYTES + " bytes"
        : null;
  }

  /** New backend login, prepared statements replayed, then resumed. */
  @Override
  protected void startMove(BackendNode primary) {
    PgSessionMove.start(this, primary);
  }

  @Override
  protected void endForSwitchover(String message) {
    terminate(SqlState.ADMIN_SHUTDOWN, message);
  }

  /** A session waiting for a transaction permit goes on when it has one. */
  @Override
  protected boolean mayResume() {
    return !gate.waiting();
  }

  /**
   * Prepared statements to replay on a new backend (retained duplicates; the caller writes them).
   */
  List<ByteBuf> preparedForReplay() {
    return prepared.values().stream().map(ByteBuf::retainedDuplicate).toList();
  }

  /** Switches the session to an authenticated connection on another backend, then resumes. */
  void rebind(PgBackendConnection next) {
    if (state == SessionState.CLOSING || !client.isActive()) {
      next.channel().close();
      return;
    }
    boolean lostTransaction = transactionLost();
    lossHandled();
    detachBackend();
    if (lastWords != null) {
      lastWords.release(); // the session goes on: the client never sees its old backend's FATAL
      lastWords = null;
    }
    if (lostTransaction) {
      client.write(
          PgMessages.warning(
              client.alloc(),
              SqlState.CONNECTION_FAILURE.code(),
              "Halo: backend "
                  + backendName
                  + " was lost; this session now runs on "
                  + next.node().name()
                  + ", and its open transaction was rolled back: end it with ROLLBACK"));
    }
    listener.router().sessionEnded(backendName);
    bind(next);
    listener.router().sessionStarted(backendName);
    PgRelayHandler nextToClient =
        new PgRelayHandler(this, false, client, listener.server().maxMessageSize());
    PgRelayHandler.pair(toBackend, nextToClient);
    toBackend.peer(backend);
    toClient = nextToClient;
    backend.pipeline().addLast("relay", nextToClient);
    backend.config().setAutoRead(true);
    resume();
  }

  /** Takes the relay off the current backend connection and closes it (Terminate first). */
  private void detachBackend() {
    Channel old = backend;
    if (toClient != null && old.pipeline().context(toClient) != null) {
      old.pipeline().remove(toClient);
    }
    if (old.isActive()) {
      old.writeAndFlush(PgMessages.terminate(old.alloc())).addListener(ChannelFutureListener.CLOSE);
    }
  }

  // ---------------------------------------------------------------- pooling

  /**
   * The client left (Terminate or close) on a pooled listener: when the session was between
   * transactions with nothing in flight, its backend connection goes back to the pool instead of
   * closing. True when it did: the caller must not close the connection.
   */
  boolean giveBack() {
    PgPool pool = listener.pool();
    if (!pool.enabled()
        || pooledAway
        || split != null
        || state != SessionState.IDLE
        || pendingReplies != 0
        || extendedOpen
        || moving
        || afterLoss()
        || gate.open()
        || !backend.isActive()
        || toBackend == null
        || !toBackend.atBoundary()
        || toClient == null
        || !toClient.clientStreamAtBoundary()) {
      return false;
    }
    pooledAway = true;
    state(SessionState.CLOSING);
    unregister();
    if (backend.pipeline().context(toClient) != null) {
      backend.pipeline().remove(toClient);
    }
    pool.giveBack(backend, backendParameters);
    return true;
  }

  /** Whether the backend connection went back to the pool (it is not this session's to close). */
  boolean pooledAway() {
    return pooledAway;
  }

  // ---------------------------------------------------------------- surviving a failover

  /**
   * Plain relay with nothing in flight: no request or extended batch open, nothing held or refused,
   * the client's stream between messages (inside a transaction too: see {@link #transactionLost}).
   */
  @Override
  protected boolean survivable() {
    return split == null
        && pendingReplies == 0
        && !extendedOpen
        && (state == SessionState.IDLE
            || state == SessionState.IN_TX
            || state == SessionState.FAILED_TX)
        && refusal == null
        && heldBuffers.isEmpty()
        && !gate.waiting()
        && (toBackend == null || toBackend.atBoundary());
  }

  /**
   * Whether the session was inside a transaction when it lost its backend: the transaction is gone,
   * so the move leaves the new connection in a failed transaction of its own (the client's next
   * statement fails, its COMMIT answers ROLLBACK, its ROLLBACK works) and warns the client.
   */
  boolean transactionLost() {
    return afterLoss() && state != SessionState.IDLE;
  }

  /**
   * The relay lost the backend connection of this session ({@code lastWords}: its withheld FATAL,
   * or null). True when the session waits for a new primary (it then owns {@code lastWords}).
   */
  boolean outlive(ByteBuf lastWords) {
    if (!outliveBackend(backendName)) {
      return false;
    }
    this.lastWords = lastWords;
    return true;
  }

  @Override
  protected void endForBackendLoss(String why) {
    ByteBuf words = lastWords;
    lastWords = null;
    if (words == null) {
      terminate(
          SqlState.CONNECTION_FAILURE,
          "backend " + backendName + " closed the connection unexpectedly");
      return;
    }
    state = SessionState.CLOSING;
    unregister();
    client.writeAndFlush(words).addListener(ChannelFutureListener.CLOSE);
  }

  // ---------------------------------------------------------------- registration and end

  @Override
  public void onTopology(io.halo.health.state.Topology t, String cluster) {
    if (topologyWhileOrphaned() || moving || state == SessionState.CLOSING) {
      return; // waiting for a new primary, or a switchover is moving it
    }
    if (split != null && split.unbound()) {
      return; // transaction pooling, between transactions: the next one checks out the primary
    }
    String why =
        io.halo.proxy.session.SessionVerdicts.endReason(t, cluster, backendName, readWrite());
    if (why != null) {
      if (split != null && split.leavePrimary()) {
        return; // a split session, idle: it follows the next primary on its next request
      }
      if (survivable() && unmovable() == null) {
        // idle on a fenced or demoted backend: leave it and follow the new primary
        detachBackend();
        if (outliveBackend(backendName)) {
          return;
        }
      }
      org.slf4j.LoggerFactory.getLogger(PgSession.class)
          .info("[{}] ending session {}: {}", cluster, this, why);
      terminate(SqlState.ADMIN_SHUTDOWN, why);
    }
  }

  /** Registers for cancel requests and in the cluster's session list. */
  CancelRegistry.Key register() {
    cancelKey = listener.cancels().register(this);
    listener.sessions().add(this);
    listener.router().sessionStarted(backendName);
    return cancelKey;
  }

  void unregister() {
    ended(); // a session that ends has nothing in flight
    gate.abandon();
    if (listener.sessions().remove(this)) {
      listener.router().sessionEnded(backendName);
    }
    if (cancelKey != null) {
      listener.cancels().unregister(cancelKey);
      cancelKey = null;
    }
    releaseHeld();
    refusal = null;
    if (lastWords != null) {
      lastWords.release();
      lastWords = null;
    }
    prepared.values().forEach(ByteBuf::release);
    prepared.clear();
  }

  /**
   * The backend connection was lost: a transaction in flight counts as dropped (overload signal).
   */
  void backendLost() {
    gate.dropped();
  }

  @Override
  public void endForShutdown() {
    terminate(SqlState.ADMIN_SHUTDOWN, io.halo.proxy.session.ShutdownDrain.MESSAGE);
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
    if (backend != null) {
      backend.close();
    }
    if (split != null) {
      split.closeBackends();
    }
    boolean atBoundary = split != null || (toClient != null && toClient.clientStreamAtBoundary());
    if (atBoundary && client.isActive()) {
      client
          .writeAndFlush(PgMessages.fatal(client.alloc(), sqlState, message))
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

package io.halo.proxy.mysql;

import io.halo.conf.model.Route;
import io.halo.health.state.BackendNode;
import io.halo.proxy.mysql.auth.MySqlCredentials;
import io.halo.proxy.mysql.packet.HandshakeResponse;
import io.halo.proxy.mysql.packet.MySqlPackets;
import io.halo.proxy.mysql.packet.MySqlResponseTracker;
import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One relaying MySQL client session: its backend connection, the {@link MySqlResponseTracker} that
 * both relay directions feed, and what lets a switchover hold it at a transaction boundary and move
 * it to the new primary.
 *
 * <p>Design memo (switchover).
 *
 * <ul>
 *   <li>Hold: while the cluster holds, a client buffer that starts a command while the session is
 *       quiescent (no reply pending, not in a transaction: server status flags) is kept, not sent.
 *   <li>Snapshot: once every primary session is quiescent, each sends Halo's own query on its
 *       still-primary backend and keeps the answer: current schema, character sets, collation,
 *       sql_mode, time zone (autocommit comes from the status flags). It stays held from then on,
 *       so the snapshot stays true. Taking it then, not at release, means a switchover_command that
 *       stops the old primary does not prevent the move.
 *   <li>Move ({@link MySqlSessionMove}): a new backend login on the new primary as the same backend
 *       user with that schema, one SET replaying the rest, then the relay is swapped onto the new
 *       connection, the old one gets COM_QUIT, and held commands go on once the cluster's hold is
 *       lifted.
 *   <li>Not moved: server-side state that a new connection would not have — prepared statements
 *       (their ids are chosen by the server and are already known to the client; re-preparing would
 *       need every later COM_STMT_* rewritten, and parameter types a driver sent once would be
 *       missing), a tracker that lost the conversation, or a failed snapshot. Such a session is
 *       ended with ERR 1053 (08S01) naming the reason, and counted as {@code switchover_unmovable}.
 *       Also not carried: user variables, temporary tables, locks, session variables other than
 *       those above.
 *   <li>Ending from Halo's side: a held command is answered with the ERR; a session with nothing in
 *       flight answers its next command with it (a client not reading would otherwise see an
 *       unsolicited packet); a session in the middle of a reply is closed.
 * </ul>
 *
 * Everything is changed on the session's event loop; a switchover asks whether the session is
 * quiescent as an event on that loop ({@link #awaitQuiescence}), never by reading its fields.
 *
 * <p>Size: the per-session state of the plain relay (backend binding, held commands, the settings
 * snapshot of a move, ending with the right ERR at the right moment) is one state machine on one
 * event loop; its switchover mechanics live in {@link io.halo.proxy.session.HeldSession}.
 */
final class MySqlSession extends io.halo.proxy.session.HeldSession
    implements MySqlChangeUser.Target {

  private static final Logger log = LoggerFactory.getLogger(MySqlSession.class);

  /** Transaction admission ({@code throttle.max_transactions}, the user's transaction rate). */
  private final io.halo.proxy.session.TransactionGate gate;

  private final Route route;
  private final MySqlListenerContext listener;
  private final HandshakeResponse hello;
  private final byte[] scramble;
  private final MySqlFrontendHandler.SessionTarget target;
  private final MySqlResponseTracker tracker;
  private final boolean deprecateEof;
  private volatile MySqlCredentials.Entry credentials;
  private volatile String user;
  private volatile BackendNode node;
  private Channel backend;
  private MySqlRelayHandler toBackend;
  private MySqlRelayHandler toClient;

  private volatile int status;
  private volatile int pendingReplies;
  private volatile boolean closing;

  /** Halo itself is talking to the client (COM_CHANGE_USER): never quiescent meanwhile. */
  private volatile boolean busy;

  private MySqlSessionMove.Snapshot snapshot;
  private String snapshotFailure;

  /** Set when the session was ended while idle: its next command gets this ERR. */
  private Err doomed;

  /** An ERR Halo sends a client: code, SQLSTATE, message. */
  record Err(int code, String sqlState, String message) {

    /**
     * The ERR packet at the reader index of {@code buf} (header included), or null when it is not
     * one.
     */
    static Err parse(ByteBuf buf) {
      int r = buf.readerIndex();
      int n = buf.readableBytes();
      if (n < 7 || buf.getUnsignedByte(r + 4) != 0xff || 4 + buf.getUnsignedMediumLE(r) > n) {
        return null;
      }
      int end = r + 4 + buf.getUnsignedMediumLE(r);
      int code = buf.getUnsignedShortLE(r + 5);
      int at = r + 7;
      String state = "HY000";
      if (at + 6 <= end && buf.getByte(at) == '#') {
        state = buf.toString(at + 1, 5, java.nio.charset.StandardCharsets.US_ASCII);
        at += 6;
      }
      return new Err(
          code, state, buf.toString(at, end - at, java.nio.charset.StandardCharsets.UTF_8));
    }
  }

  /** What the session changed on its backend since its login, as far as Halo can replay it. */
  private final MySqlSessionState state;

  /** The unsolicited ERR of a backend that went away while the session was idle, or null. */
  private Err lastWords;

  /** The session is asking to outlive its backend (an idle session that lost it). */
  private boolean losing;

  /** It was inside a transaction when it lost its backend: the move will have rolled it back. */
  private boolean transactionAtLoss;

  /** The transaction was lost in a move: the client's next statement gets ERR 1213, once. */
  private boolean transactionLost;

  /** The backend the session last lost. */
  private String lostBackend;

  private boolean registered = true;

  /** COM_CHANGE_USER or COM_SET_OPTION ran: the connection no longer matches its pool key. */
  private boolean loginChanged;

  /** The backend connection went back to the pool: it is not this session's to close. */
  private boolean pooledAway;

  MySqlSession(
      MySqlListenerContext listener,
      Channel client,
      HandshakeResponse hello,
      byte[] scramble,
      MySqlCredentials.Entry credentials,
      MySqlFrontendHandler.SessionTarget target,
      MySqlBackendConnection conn,
      Route route) {
    super(client);
    this.listener = listener;
    this.route = route;
    this.hello = hello;
    this.scramble = scramble;
    this.credentials = credentials;
    this.user = hello.user();
    this.target = target;
    target.interruptible(client.eventLoop(), this::interruptWaiting);
    this.deprecateEof =
        (hello.capabilities()
                & MySqlFrontendHandler.CAPABILITIES
                & MySqlPackets.CLIENT_DEPRECATE_EOF)
            != 0;
    this.tracker =
        new MySqlResponseTracker(deprecateEof, conn.status(), listener.server().maxMessageSize());
    this.status = conn.status();
    this.gate = listener.admission().transactionGate(user);
    this.state = new MySqlSessionState(hello.database());
    tracker.listener(
        new MySqlResponseTracker.Listener() {
          @Override
          public void commandSent(int command) {
            state.sent(command);
          }

          @Override
          public void responseComplete(int command, boolean error, int status) {
            state.answered(error);
            // The permit goes back when the session is between transactions with nothing pending.
            if (gate.open()
                && (status & MySqlPackets.SERVER_STATUS_IN_TRANS) == 0
                && tracker.pendingReplies() == 0) {
              gate.end();
            }
          }
        });
    bind(conn);
  }

  /** What {@link #admitCommand} decided. */
  enum Admit {
    GO,
    HELD,
    REFUSED
  }

  /**
   * Transaction admission for a command that starts new work (the session is between transactions
   * with nothing pending): a permit of its backend, granted now, later (the buffer is held and let
   * go by {@link #resume}), or refused ({@link #refusal()}). Event loop.
   */
  Admit admitCommand(ByteBuf buf) {
    if (gate.open() || tracker.inTransaction() || tracker.pendingReplies() > 0 || closing) {
      return Admit.GO;
    }
    switch (gate.begin(node.name(), client.eventLoop(), this::permitOutcome)) {
      case ADMITTED:
        return Admit.GO;
      case WAITING:
        hold(buf);
        return Admit.HELD;
      default:
        return Admit.REFUSED;
    }
  }

  /** Why the last transaction permit was refused. */
  String refusal() {
    return gate.refusal();
  }

  /**
   * {@code KILL QUERY} of this session while its command waits for a transaction permit: the
   * command is answered with ERR 1317 and never runs. Event loop.
   */
  void interruptWaiting() {
    if (!held || !gate.waiting() || closing || moving) {
      return;
    }
    gate.abandon(); // its outcome never runs
    held = false;
    List<ByteBuf> bufs = takeHeld();
    publish();
    toBackend.refuseHeld(bufs, MySqlError.QUERY_INTERRUPTED, "Query execution was interrupted");
  }

  private void permitOutcome(String refused) {
    if (closing || moving) {
      gate.abandon();
      return;
    }
    if (refused == null) {
      if (!listener.sessions().holding()) {
        resume();
      }
      return;
    }
    held = false;
    List<ByteBuf> bufs = takeHeld();
    publish();
    toBackend.refuseHeld(bufs, MySqlError.TOO_MANY_CONNECTIONS, refused);
  }

  private void bind(MySqlBackendConnection conn) {
    this.backend = conn.channel();
    this.node = conn.node();
    target.bind(conn.node(), conn.threadId());
  }

  /** Starts relaying: relay handlers on both channels, registration, reading on. Event loop. */
  void start() {
    toBackend = new MySqlRelayHandler(this, true, backend);
    toClient = new MySqlRelayHandler(this, false, client);
    backend.pipeline().addLast("relay", toClient);
    client.pipeline().addLast("relay", toBackend);
    listener.sessions().add(this);
    listener.router().sessionStarted(node.name());
    client.closeFuture().addListener(f -> unregister());
    backend.config().setAutoRead(true);
    client.config().setAutoRead(true);
  }

  @Override
  public MySqlListenerContext listener() {
    return listener;
  }

  Channel client() {
    return client;
  }

  Channel backend() {
    return backend;
  }

  MySqlResponseTracker tracker() {
    return tracker;
  }

  /** What the session changed on its backend, for a move after the loss of its backend. */
  MySqlSessionState state() {
    return state;
  }

  @Override
  public HandshakeResponse hello() {
    return hello;
  }

  @Override
  public byte[] scramble() {
    return scramble;
  }

  MySqlCredentials.Entry credentials() {
    return credentials;
  }

  /** The Halo user (changes with COM_CHANGE_USER). */
  String user() {
    return user;
  }

  @Override
  public String backendName() {
    return node.name();
  }

  @Override
  public BackendNode node() {
    return node;
  }

  /** The session's route: the listener's, or the one a routing rule gave it. */
  Route route() {
    return route;
  }

  boolean deprecateEof() {
    return deprecateEof;
  }

  /**
   * After each read in either direction: what other threads (admin views) may read, and the answer
   * to a switchover waiting for this session to be quiescent.
   */
  void publish() {
    checkQuiescence();
    status = tracker.status();
    pendingReplies = tracker.pendingReplies();
  }

  /** In a transaction (SERVER_STATUS_IN_TRANS of the last OK/EOF). Any thread. */
  boolean inTransaction() {
    return (status & MySqlPackets.SERVER_STATUS_IN_TRANS) != 0;
  }

  /** Autocommit on (SERVER_STATUS_AUTOCOMMIT of the last OK/EOF). Any thread. */
  boolean autocommit() {
    return (status & MySqlPackets.SERVER_STATUS_AUTOCOMMIT) != 0;
  }

  /** Commands sent whose response is not complete. Any thread. */
  int pendingReplies() {
    return pendingReplies;
  }

  @Override
  public void busy(boolean on) {
    busy = on;
    publish();
  }

  /** Between transactions with nothing in flight, or held there, or ending. Event loop. */
  @Override
  protected boolean quiescent() {
    return closing || (!busy && (held || tracker.quiescent()));
  }

  @Override
  protected boolean closing() {
    return closing;
  }

  boolean moving() {
    return moving;
  }

  // ---------------------------------------------------------------- hold

  /** Whether a client buffer that starts a command must wait now. */
  boolean mustHold() {
    return held
        || ((stopping || (listener.sessions().holding() && route() == Route.PRIMARY))
            && !busy
            && tracker.quiescent());
  }

  /**
   * Switchover, after every primary session is quiescent: hold this one and read its session
   * settings from its backend. Counts {@code done} down either way. Event loop.
   */
  void snapshot(CountDownLatch done) {
    if (closing || route() != Route.PRIMARY || busy || (!tracker.quiescent() && !held)) {
      snapshotFailure = closing ? "closing" : "not quiescent";
      done.countDown();
      return;
    }
    held = true;
    client.config().setAutoRead(false);
    publish();
    MySqlSessionMove.read(
        this,
        (taken, failure) -> {
          snapshot = taken;
          snapshotFailure = failure;
          done.countDown();
        });
  }

  @Override
  protected boolean writes() {
    return route() == Route.PRIMARY;
  }

  @Override
  public io.halo.proxy.session.SessionListener listenerContext() {
    return listener;
  }

  @Override
  protected void moveStarting() {
    publish();
  }

  @Override
  protected String unmovable() {
    if (tracker.openStatements() > 0) {
      return tracker.openStatements()
          + " prepared statement(s) are open on "
          + node.name()
          + " and cannot be re-created under the same ids";
    }
    if (tracker.lost()) {
      return "Halo could not follow its protocol state";
    }
    if (losing || afterLoss()) {
      // nothing to read on a lost backend: the move rebuilds what Halo tracked
      return state.unknown() == null
          ? null
          : "Halo does not know its state: it ran " + state.unknown();
    }
    if (snapshot == null) {
      return snapshotFailure == null ? "its settings were not read" : snapshotFailure;
    }
    return null;
  }

  /**
   * New backend login with the settings read at the hold (switchover), or with the state Halo
   * tracked (after the loss of the backend), then resumed.
   */
  @Override
  protected void startMove(BackendNode primary) {
    if (afterLoss()) {
      MySqlSessionMove.rebuild(this, primary);
    } else {
      MySqlSessionMove.start(this, primary, snapshot);
    }
  }

  /**
   * Plain primary session with nothing in flight (inside a transaction too: the move then rolls it
   * back, and says so), nothing held or half-read, no prepared statement open, and a state Halo
   * knows whole ({@link MySqlSessionState}).
   */
  @Override
  protected boolean survivable() {
    return route == Route.PRIMARY
        && !closing
        && client.isActive()
        && !tracker.quit()
        && !busy
        && !moving
        && heldBuffers.isEmpty()
        && !tracker.lost()
        && tracker.idle()
        && tracker.openStatements() == 0
        && state.unknown() == null
        && !gate.waiting()
        && doomed == null
        && (toBackend == null || toBackend.quiet());
  }

  /**
   * The relay lost this session's backend connection ({@code words}: the unsolicited ERR it sent
   * before closing, withheld, or null). True when the session waits for a new primary instead of
   * ending.
   */
  boolean outlive(Err words) {
    if (closing) {
      return false;
    }
    boolean inTransaction = tracker.inTransaction();
    losing = true;
    boolean kept;
    try {
      kept = outliveBackend(node.name());
    } finally {
      losing = false;
    }
    if (kept) {
      lastWords = words;
      transactionAtLoss = inTransaction;
    }
    return kept;
  }

  /** Whether client work is held (it waits for a release or a move). */
  boolean holdsWork() {
    return !heldBuffers.isEmpty();
  }

  /** The client quit while the session waited for a new primary: it ends here, no login. */
  void quitWhileOrphaned() {
    closing = true;
    unregister();
    client.close();
  }

  /** The backend whose loss cost the session its transaction (for the client's error). */
  String lostBackend() {
    return lostBackend;
  }

  /** Waiting for a new primary after the loss of the backend (or moving there). */
  boolean orphaned() {
    return afterLoss();
  }

  /**
   * Whether the client's next statement must get ERR 1213: its transaction was lost with its
   * backend. Taken once (by the relay, which answers it).
   */
  boolean takeTransactionLost() {
    boolean lost = transactionLost;
    transactionLost = false;
    return lost;
  }

  /** Whether a move lost the session's transaction and the client has not been told yet. */
  boolean transactionLost() {
    return transactionLost;
  }

  @Override
  protected void endForBackendLoss(String why) {
    Err words = lastWords;
    lastWords = null;
    if (words != null) {
      terminate(words); // what a direct client would have read
    } else {
      // MariaDB closes an idle killed connection without a word (a direct Connector/J client
      // reports a communications link failure); Halo says what happened, with the code MariaDB
      // gives a killed connection that is told (as the split relay does)
      terminate(
          new Err(
              MySqlError.BACKEND_LOST.code(),
              MySqlError.BACKEND_LOST.sqlState(),
              "backend " + node.name() + " closed the connection: " + why + "; reconnect"));
    }
  }

  /** Takes the relay off the current backend connection and ends that connection (COM_QUIT). */
  private void detachBackend() {
    Channel old = backend;
    if (old.pipeline().get(MySqlRelayHandler.class) != null) {
      old.pipeline().remove(MySqlRelayHandler.class);
    }
    if (old.isActive()) {
      old.writeAndFlush(
              MySqlPackets.frame(
                  old.alloc(), 0, old.alloc().buffer(1).writeByte(MySqlPackets.COM_QUIT)))
          .addListener(ChannelFutureListener.CLOSE);
    }
  }

  @Override
  protected void endForSwitchover(String message) {
    terminate(message);
  }

  @Override
  protected void releaseFinished() {
    snapshot = null;
  }

  /** Lets held commands go on the current backend (or be held again while the cluster holds). */
  @Override
  protected void resume() {
    if (!backend.isActive()) {
      terminate("backend " + node.name() + " closed the connection; reconnect");
      return;
    }
    held = false;
    moving = false;
    List<ByteBuf> bufs = takeHeld();
    for (ByteBuf b : bufs) {
      // through the relay's own path, so that a held KILL or COM_CHANGE_USER is still Halo's to
      // answer; while the cluster still holds (a moved session, phase 1) this holds them again
      toBackend.resumed(b);
    }
    backend.flush();
    publish();
    if (!closing && !held) {
      client.config().setAutoRead(true);
    }
  }

  /**
   * Switches the session to an authenticated connection (a move or COM_CHANGE_USER), with the
   * tracker started over at {@code status}; held commands then go on. Event loop.
   */
  @Override
  public void rebind(MySqlBackendConnection next, int status) {
    if (closing || !client.isActive()) {
      next.channel().close();
      return;
    }
    detachBackend();
    if (afterLoss()) {
      lostBackend = node.name();
      transactionLost = transactionAtLoss;
      transactionAtLoss = false;
      lastWords = null; // the session goes on: the client never sees its old backend's ERR
      lossHandled();
    }
    state.rebound();
    listener.router().sessionEnded(node.name());
    gate.abandon(); // a permit (or a place in the queue) of the old backend; asked again on resume
    bind(next);
    listener.router().sessionStarted(node.name());
    tracker.reset(status);
    toClient = new MySqlRelayHandler(this, false, client);
    toBackend.peer(backend);
    backend.pipeline().addLast("relay", toClient);
    backend.config().setAutoRead(true);
    resume();
  }

  /** After COM_CHANGE_USER: the new user's credentials for later moves. */
  @Override
  public void changedUser(MySqlCredentials.Entry entry, HandshakeResponse next) {
    this.credentials = entry;
    this.user = next.user();
    this.loginChanged = true;
    state.restart(next.database());
  }

  @Override
  public void onTopology(io.halo.health.state.Topology t, String cluster) {
    if (topologyWhileOrphaned() || moving || closing) {
      return; // waiting for a new primary, or a switchover is moving it
    }
    String why =
        io.halo.proxy.session.SessionVerdicts.endReason(
            t, cluster, node.name(), route == Route.PRIMARY);
    if (why != null) {
      if (survivable()) {
        // idle on a fenced or demoted backend: leave it and follow the new primary
        detachBackend();
        if (outlive(null)) {
          return;
        }
      }
      log.info("[{}] ending session {}: {}", cluster, this, why);
      terminate(why);
    }
  }

  // ---------------------------------------------------------------- pooling

  /** The pool key of a login to {@code node} as {@code backendUser} for this client handshake. */
  static MySqlPool.Key poolKey(BackendNode node, String backendUser, HandshakeResponse hello) {
    return new MySqlPool.Key(
        node.name(),
        backendUser,
        hello.database() == null ? "" : hello.database(),
        hello.charset(),
        hello.capabilities() & io.halo.proxy.mysql.packet.MySqlCapabilities.RELAYED,
        hello.mariaDbCapabilities() & io.halo.proxy.mysql.packet.MySqlCapabilities.MARIADB_RELAYED);
  }

  /** Whether the backend connection went back to the pool. */
  boolean pooledAway() {
    return pooledAway;
  }

  /** The client changed what its login fixed (COM_CHANGE_USER, COM_SET_OPTION): never pooled. */
  void loginChanged() {
    loginChanged = true;
  }

  /**
   * The client left (COM_QUIT or close) on a pooled listener: when the session was between
   * transactions with nothing in flight, its backend connection goes back to the pool instead of
   * closing. True when it did: the caller must not close the connection. Event loop.
   */
  boolean giveBack() {
    var pool = listener.pool();
    if (!pool.enabled()
        || closing
        || moving
        || busy
        || held
        || loginChanged
        || afterLoss()
        || doomed != null
        || !heldBuffers.isEmpty()
        || gate.open()
        || !backend.isActive()
        || !tracker.quiescent()
        || toBackend == null
        || !toBackend.quiet()) {
      return false;
    }
    String loginDb = hello.database() == null ? "" : hello.database();
    if (loginDb.isEmpty() && (state.unknown() != null || state.database() != null)) {
      return false; // it may have chosen a database; nothing makes a connection choose none again
    }
    closing = true;
    pooledAway = true;
    client.config().setAutoRead(false); // nothing more of the client reaches the pooled connection
    unregister();
    if (backend.pipeline().get(MySqlRelayHandler.class) != null) {
      backend.pipeline().remove(MySqlRelayHandler.class);
    }
    pool.giveBack(backend, poolKey(node, credentials.user().backendUser(), hello));
    return true;
  }

  // ---------------------------------------------------------------- end

  /** Whether the next client command must be answered with an ERR (then close). */
  boolean doomed() {
    return doomed != null;
  }

  /** Answers a command of an ended session. Takes ownership of {@code buf}. */
  void answerDoomed(ByteBuf buf) {
    int seq = buf.readableBytes() >= 4 ? buf.getUnsignedByte(buf.readerIndex() + 3) : 0;
    buf.release();
    Err e = doomed;
    doomed = null;
    client.config().setAutoRead(false);
    client.writeAndFlush(err(seq + 1, e)).addListener(ChannelFutureListener.CLOSE);
  }

  /**
   * Ends the session from Halo's side (switchover that cannot move it, fence, failover) with ERR
   * 1053 when the client can take it (see the class memo), then closes. Event loop only.
   */
  void terminate(String message) {
    terminate(
        new Err(MySqlError.SESSION_ENDED.code(), MySqlError.SESSION_ENDED.sqlState(), message));
  }

  @Override
  public void endForShutdown() {
    terminate(io.halo.proxy.session.ShutdownDrain.MESSAGE);
  }

  /** As {@link #terminate(String)} with the given error (the server's own, after a loss). */
  void terminate(Err error) {
    if (closing) {
      return;
    }
    closing = true;
    // the first held command is answered (read before unregister() releases the held buffers)
    int heldSeq = -1;
    if (!heldBuffers.isEmpty()) {
      ByteBuf first = heldBuffers.get(0);
      heldSeq = first.readableBytes() >= 4 ? first.getUnsignedByte(first.readerIndex() + 3) : 0;
    }
    unregister();
    if (backend.pipeline().get(MySqlRelayHandler.class) != null) {
      backend.pipeline().remove(MySqlRelayHandler.class);
    }
    backend.close();
    if (!client.isActive()) {
      return;
    }
    if (heldSeq >= 0) {
      client.writeAndFlush(err(heldSeq + 1, error)).addListener(ChannelFutureListener.CLOSE);
    } else if (tracker.idle()) {
      doomed = error;
      held = false;
      client.config().setAutoRead(true);
      long ms = listener.holdTimeout().toMillis();
      client
          .eventLoop()
          .schedule(
              () -> {
                client.close();
              },
              ms,
              TimeUnit.MILLISECONDS);
    } else {
      client.close();
    }
  }

  private ByteBuf err(int seq, Err e) {
    return MySqlPackets.frame(
        client.alloc(),
        seq & 0xff,
        MySqlPackets.err(client.alloc(), e.code(), e.sqlState(), e.message()));
  }

  private void unregister() {
    ended(); // a session that ends has nothing in flight
    gate.abandon();
    if (registered) {
      registered = false;
      listener.sessions().remove(this);
      listener.router().sessionEnded(node.name());
    }
    releaseHeld();
  }

  @Override
  public String toString() {
    return user + " via " + node.name();
  }
}

package io.halo.proxy.session.split;

import io.halo.conf.model.ListenerConfig;
import io.halo.conf.model.ServerConfig;
import io.halo.health.state.BackendNode;
import io.halo.proxy.session.BackendText;
import io.halo.proxy.session.HiddenQueries;
import io.halo.proxy.session.SplitChannels;
import io.halo.proxy.session.SplitContext;
import io.halo.proxy.session.TransactionGate;
import io.halo.routing.RouteRequest;
import io.halo.routing.RouteResult;
import io.halo.routing.Router;
import io.halo.routing.rules.SessionRules;
import io.halo.routing.split.StatementKind;
import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.Future;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The split engine: one client, a connection to the primary and, once the session reads, one to a
 * replica; each request (a PostgreSQL Query or extended batch, a MySQL command) is routed on its
 * own. This class is the protocol-neutral part, written once for both engines; a subclass is the
 * protocol adapter (framing, classification, what a backend needs replayed before a request, how
 * replies end, error encoding). Size: the routing flow and the leg lifecycle are one state machine,
 * kept together on purpose.
 *
 * <ul>
 *   <li><b>Decision</b> ({@link #decide}): inside a transaction, where the transaction runs;
 *       pinned, a write, a setting, or a read that must see the session's writes and cannot yet:
 *       the primary; otherwise a replica. Settings run on the primary and are replayed by the
 *       adapter on other connections; pinning statements pin the session for good.
 *   <li><b>Order</b>: replies reach the client in request order, so a request for the other leg
 *       waits until the previous leg has answered everything; requests for the same leg pipeline.
 *   <li><b>Hidden requests</b>: Halo's own (replays, position probes) are owed like the client's,
 *       in each leg's FIFO, and bounded ({@link HiddenQueries}); a hung replica is dropped and the
 *       read goes to the primary, a hung primary ends the session.
 *   <li><b>Read-your-writes</b>: {@link ReadYourWrites} with the engine's {@link PositionProbe}.
 * </ul>
 *
 * <p>Everything runs on the client's event loop; nothing blocks. The client is not read while a
 * request waits (parked), nor while a backend's outbound buffer is full.
 *
 * @param <M> a client message
 * @param <L> the engine's leg
 * @param <C> a logged-in backend connection, as the engine's connector gives it
 */
public abstract class SplitRelay<M, L extends Leg, C> {

  private static final Logger log = LoggerFactory.getLogger(SplitRelay.class);
  private static final long REPLICA_RETRY_NANOS = TimeUnit.SECONDS.toNanos(1);
  private static final long RECHECK_MS = 2;
  private static final long CHECKOUT_RETRY_MS = 20;

  /** Why Halo ends a session; each engine says it with its own code. */
  public enum End {
    /** A backend could not be reached (PostgreSQL 08001). */
    CANNOT_CONNECT,
    /** A backend closed the connection (PostgreSQL 08006, MySQL 2013). */
    BACKEND_LOST,
    /** A backend did not answer Halo's own query in time (08006, MySQL 1053). */
    BACKEND_HUNG,
    /** A switchover could not move the session (57P01, MySQL 1053). */
    SWITCHOVER,
    /** A backend broke its protocol (08P01). */
    PROTOCOL,
    /** Halo is stopping (57P01, MySQL 1053). */
    SHUTDOWN,
    /**
     * Idle inside a transaction beyond {@code pool.idle_transaction_timeout} (25P03, MySQL 4031).
     */
    IDLE_TRANSACTION,
    /** A client's {@code KILL CONNECTION} of the session (MySQL 1927; PostgreSQL 57P01). */
    KILLED
  }

  /** What every split session is built from. */
  public record Setup(
      String listener,
      ListenerConfig config,
      ServerConfig server,
      Router router,
      SplitContext stats,
      TransactionGate gate,
      Channel client,
      RouteRequest request,
      byte[] goodbye) {}

  protected final Channel client;
  protected final SplitContext stats;
  protected final String listenerName;
  protected final Router router;
  protected SessionRules rules;
  protected TransactionGate gate;
  private final ServerConfig server;
  private final ListenerConfig config;
  private RouteRequest request;
  private final byte[] goodbye;
  private final PositionProbe<?> probe;
  private ReadYourWrites<?> ryw;

  /** The session is ending: its connections go back as they are (no read follows). */
  private boolean leaving;

  protected L primary;
  protected L replica;

  /** The leg of the last client request (data that follows a request goes there). */
  protected L last;

  /** Multiplexed: the connections given back last, per role ({@link #previousConnection}). */
  private Channel lastPrimaryConnection;

  private Channel lastReplicaConnection;

  /** Multiplexed, per role: where the session's pool key's connections wait (the pool's memo). */
  private final io.halo.proxy.session.TransactionPool.Place primaryPlace =
      new io.halo.proxy.session.TransactionPool.Place();

  private final io.halo.proxy.session.TransactionPool.Place replicaPlace =
      new io.halo.proxy.session.TransactionPool.Place();

  protected final ArrayDeque<M> inbox = new ArrayDeque<>();

  /** The kind of the waiting request once classified (kept while it waits). */
  protected StatementKind kind;

  protected boolean parked;
  protected boolean pinned;
  protected boolean closed;

  /**
   * The session is ending (the client said goodbye, or Halo ends it): backends closing is expected.
   */
  protected boolean ending;

  /** The waiting read goes to the primary this once (read-your-writes could not wait). */
  private boolean primaryOnce;

  /** A read waits on a timer before asking the replica again. */
  private boolean rechecking;

  private long replicaRetryAt;

  /**
   * {@code pool_mode: transaction}: the session holds backend connections only while it has work in
   * flight; between transactions they go back to the listener's pool.
   */
  protected final boolean multiplexed;

  /** Reads may go to a replica ({@code route: split}); otherwise every request to the primary. */
  private final boolean replicaReads;

  /** Multiplexed: until when a checkout waits for a primary (failover hold); 0 = not waiting. */
  private long checkoutUntil;

  /**
   * Not multiplexed: the primary whose connection this session lost with nothing of it lost (see
   * {@link #backendClosed}); until the router names another primary, or the health checker finds
   * this one up and still the primary (then only the session's connection died, and the session
   * ends as a direct one would), its next request waits. Null otherwise.
   */
  private String lostPrimary;

  /** Ends the wait for another primary {@code hold_timeout} after the loss (null: no wait). */
  private io.netty.util.concurrent.ScheduledFuture<?> lostDeadline;

  /**
   * While a look at idleness is due ({@link #idleCheck}): when the client last sent something or a
   * reply last ended, whichever came later ({@link System#nanoTime}).
   */
  private long activeAt;

  /** The next look at whether the session sits idle in a transaction; null when none is due. */
  private io.netty.util.concurrent.ScheduledFuture<?> idleCheck;

  protected SplitRelay(Setup s, PositionProbe<?> probe) {
    this.client = s.client();
    this.stats = s.stats();
    this.listenerName = s.listener();
    this.router = s.router();
    this.gate = s.gate();
    this.server = s.server();
    this.config = s.config();
    this.request = s.request();
    this.goodbye = s.goodbye();
    this.probe = probe;
    this.multiplexed = s.config().pool().multiplexed();
    this.replicaReads = s.config().route() == io.halo.conf.model.Route.SPLIT;
    this.rules = router.sessionRules(request);
    this.ryw =
        config.readYourWrites() ? ReadYourWrites.of(probe, config.readYourWritesWait()) : null;
  }

  // ------------------------------------------------------------------ the adapter

  /** A leg to {@code node} (null: not chosen yet). */
  protected abstract L newLeg(boolean primary, BackendNode node);

  /** One client message, in order; a complete request calls {@link #dispatch}. */
  protected abstract void handle(M message);

  /** A request waits to be dispatched (resumed after a park). */
  protected abstract boolean hasPending();

  /** A switchover holds the session now (the adapter notes it); the request stays unsent. */
  protected abstract boolean holdNow();

  /** The leg running the session's open transaction, or null outside one. */
  protected abstract L transactionLeg();

  /** The kind of the waiting request, every statement in it combined. */
  protected abstract StatementKind classify();

  /** A setting inside a transaction is undone by a rollback (PostgreSQL), so it cannot be kept. */
  protected abstract boolean settingsAreTransactional();

  /** Notes the waiting request's setting, to replay on other connections once it ran. */
  protected abstract void keepSetting();

  /** A leg the waiting request must run on (a statement prepared there), or null. */
  protected L stickyLeg() {
    return null;
  }

  /** Whether a read must go to the primary after all; null while the adapter finds out. */
  protected Boolean readMustUsePrimary() {
    return false;
  }

  /** Whether the waiting request starts new work that transaction admission counts. */
  protected abstract boolean startsWork();

  /** The server says a transaction is open on the session. */
  protected abstract boolean inTransaction();

  /** Answers the waiting request as refused by admission ({@code message}); the session goes on. */
  protected abstract void refuse(String message);

  /**
   * Answers the waiting request as the server answers a cancelled one (it never ran); the session
   * goes on. See {@link #cancelWaiting}.
   */
  protected abstract void cancelled();

  /** Sends the waiting request to {@code target}, with what {@code target} lacks before it. */
  protected abstract void send(L target);

  /** Halo's own one-value query, encoded for {@code leg}. */
  protected abstract ByteBuf encodeQuery(L leg, byte[] sql);

  /** Opens and logs in a connection for {@code leg}. */
  protected abstract Future<C> open(L leg);

  /** The channel of an opened connection. */
  protected abstract Channel channelOf(C connection);

  /** Installs the engine's decoder and {@link #backendHandler} on an opened connection. */
  protected abstract void attach(L leg, C connection);

  /** Frees what a newly opened connection holds that the session does not need. */
  protected void discard(C connection) {}

  /** The primary leg has a new connection (the session's cancel target, replays). */
  protected void primaryAttached(L leg, C connection) {}

  /** Ends the session from Halo's side with the engine's error. */
  protected abstract void endSession(End why, String message);

  /**
   * Multiplexed: the connection this session gave back last in {@code leg}'s role (primary or
   * replica), or null. Its next checkout takes that one when it still waits idle in the pool: its
   * server process is warm for this session, and it carries this session's settings and prepared
   * statements already, so nothing needs replaying.
   */
  protected final Channel previousConnection(L leg) {
    return leg.isPrimary() ? lastPrimaryConnection : lastReplicaConnection;
  }

  /**
   * Multiplexed: the session's memo of where the pool keeps the connections of {@code leg}'s role
   * ({@link io.halo.proxy.session.TransactionPool.Place}), given to each checkout of that role.
   */
  protected final io.halo.proxy.session.TransactionPool.Place poolPlace(L leg) {
    return leg.isPrimary() ? primaryPlace : replicaPlace;
  }

  /**
   * Multiplexed: gives {@code leg}'s connection (idle, between transactions, its session handler
   * removed) back to the listener's pool with what the engine keeps per connection.
   */
  protected void giveBack(L leg, Channel channel) {
    checkin(channel);
  }

  /**
   * Multiplexed: the session keeps its connections between transactions for now, without being
   * pinned for good (MySQL with autocommit off: its next statement opens a transaction).
   */
  protected boolean keepsConnections() {
    return false;
  }

  /** Multiplexed: the session gave its connections back (no cancel target, nothing bound). */
  protected void released() {}

  /**
   * Multiplexed: the primary connection died with nothing in flight while the client was inside a
   * transaction (a crash or kill -9 of the primary; no FATAL reached the client). True when the
   * session goes on: the engine then starts the next request's connection with a failed transaction
   * of its own, so that the server answers as it would (errors until ROLLBACK) and the session is
   * usable after it. False ends the session as before. {@code fresh}, unbound, becomes the primary
   * leg when the session goes on.
   */
  protected boolean transactionLost(L fresh) {
    return false;
  }

  /**
   * Multiplexed: the primary connection {@code dead} died while it owed the client replies to whole
   * requests (no FATAL reached the client). True when the engine answered each of them as failed
   * with an unknown outcome (as the server's own replies, through the normal reply path) and the
   * session goes on; false ends the session as before.
   */
  protected boolean requestsLost(L dead) {
    return false;
  }

  /** What a {@code what} that died with {@code dead}'s connection is told (either engine). */
  protected static String outcomeUnknown(Leg dead, String what) {
    return "Halo: the connection to "
        + dead.node().name()
        + " was lost while this "
        + what
        + " ran; whether it took effect is unknown";
  }

  /** The session lost its primary and now runs on a new one: what the loss left is dropped. */
  protected void lossBehind() {}

  /** The session's next request runs on {@code node}, the primary now (a failover moved it). */
  protected void primaryMoved(BackendNode node) {}

  /**
   * Multiplexed: the message of a refusal when a connection could not be had for a reason that
   * leaves the session usable (a full pool's wait timed out), else null.
   */
  protected String refusalOf(Throwable cause) {
    return null;
  }

  /**
   * How long a request waits for a failover to give the cluster a primary ({@code hold_timeout}).
   */
  protected abstract java.time.Duration holdTimeout();

  /** The relaying sessions of the session's cluster (suspicions, what became of lost ones). */
  protected abstract io.halo.proxy.session.ClusterSessions sessions();

  /**
   * The primary refused a connect or dropped a connection: the health checker probes it now.
   *
   * @return whether it answered a probe since (true), went down (false), or unknown (null)
   */
  protected final java.util.concurrent.CompletionStage<Boolean> suspect(BackendNode node) {
    return sessions().suspect(node.name());
  }

  /**
   * A connection opened but not taken (the session closed meanwhile): the engine frees it, and it
   * goes back to the pool (multiplexed) or closes.
   */
  protected final void unused(C connection) {
    discard(connection);
    if (multiplexed) {
      checkin(channelOf(connection));
    } else {
      channelOf(connection).close();
    }
  }

  /** Multiplexed: a connection goes back to the listener's pool as it is. */
  protected void checkin(Channel channel) {
    quit(channel);
  }

  /** Whether a leg is in the middle of a request the client has not finished sending. */
  protected boolean midRequest(L leg) {
    return false;
  }

  /** Whether a switchover holds the session now (its fence may close the primary connection). */
  protected boolean holding() {
    return false;
  }

  /** A client message as the decoder hands it; decoding errors end the session. */
  protected abstract void clientRead(Object msg);

  /** A backend message as the decoder hands it (the session is open). */
  protected abstract void backendRead(L leg, Object msg);

  /** The client connection failed with {@code cause}; true when the adapter answered it. */
  protected boolean clientFailed(ChannelHandlerContext ctx, Throwable cause) {
    return false;
  }

  /** The client connection is gone. */
  protected void clientGone() {}

  /** Releases what the adapter buffers (the session is closed). */
  protected abstract void releaseBuffered();

  /**
   * Sends what was written to the client. An adapter that holds back backend bytes to write them in
   * one piece writes them first.
   */
  protected void flushClient() {
    client.flush();
  }

  /** The session, for log lines. */
  protected abstract Object who();

  // ------------------------------------------------------------------ client side

  /** Handles what the client sent, in order, until a request has to wait. */
  protected final void drain() {
    draining++;
    try {
      while (!parked && !closed) {
        M m = inbox.poll();
        if (m == null) {
          break;
        }
        handle(m);
      }
    } finally {
      draining--;
    }
    if (!closed && draining == 0) {
      SplitChannels.autoRead(client, !parked && inbox.isEmpty() && mayReadClient());
    }
  }

  /**
   * How deep {@link #drain} runs now: a request parked and resumed within it (a pooled connection
   * at hand, a permit free) leaves the client's reading alone, set once at the end; turning it off
   * and on again would cost two epoll_ctl calls per transaction.
   */
  private int draining;

  /** Routes and sends the waiting request, or parks it while an asynchronous step runs. */
  protected final void dispatch() {
    if (holdNow()) {
      park(); // a switchover holds the session between transactions; the release resumes it
      return;
    }
    if (primary.channel() == null) {
      park(); // moved by a switchover, or multiplexed: the primary's connection opens first
      if (multiplexed || lostPrimary != null) {
        checkOut();
      } else {
        connect(primary);
      }
      return;
    }
    L target = decide();
    if (target == null) {
      park();
      return;
    }
    if (last != null && last != target && !last.idle()) {
      park(); // replies stay in order: resumed when the previous leg has answered
      return;
    }
    if (target.channel() == null) {
      park(); // before the connect, whose completion resumes the request
      connect(target);
      return;
    }
    if (!target.idle() && waitsForAnswers(target)) {
      park(); // resumed when the target has answered everything
      return;
    }
    if (startsWork() && !admitted(target)) {
      return;
    }
    parked = false;
    if (target.isPrimary()) {
      if (replicaReads && kind == StatementKind.READ && !primaryOnce) {
        stats.readOnPrimary(); // (read-your-writes counted it when it chose the primary)
      }
    } else {
      stats.readOnReplica();
    }
    send(target);
    forgetRoute();
  }

  /**
   * Whether the next request must wait until {@code target} has answered what it owes, instead of
   * going behind it: what an owed reply does to the session's state when it comes would apply to
   * the next request's too (PostgreSQL's {@code DISCARD ALL}).
   */
  protected boolean waitsForAnswers(L target) {
    return false;
  }

  /**
   * Transaction admission ({@code throttle.max_transactions}, the user's rate limit): a request
   * that starts new work takes a permit of its backend; false when it waits (parked) or was refused
   * (answered like a failed statement, the session goes on).
   */
  private boolean admitted(L target) {
    if (gate.open() || inTransaction() || (last != null && !last.idle())) {
      return true;
    }
    return gate.admitOrPark(
        target.node().name(), client.eventLoop(), parkStep, refuseStep, resumeStep, closedNow);
  }

  // admitted()'s steps, made once per session instead of at every transaction
  private final Runnable parkStep = this::park;
  private final Runnable resumeStep = this::resume;
  private final java.util.function.BooleanSupplier closedNow = () -> closed;
  private final java.util.function.Consumer<String> refuseStep =
      message -> {
        refuse(message);
        forgetRoute();
        parked = false;
      };

  /**
   * A client's cancel (PostgreSQL's CancelRequest, MySQL's {@code KILL QUERY}), on the session's
   * event loop: when nothing of the session runs on a server and its request waits in Halo (for a
   * pooled connection, an admission permit, the end of a failover or a switchover), the request is
   * answered as cancelled and never runs, as a server cancels the statement it runs; its waits are
   * given up. False when there is no such request: the cancel goes to the server running the
   * session's work, if any (a request parked behind another one's answers goes on with it).
   */
  public final boolean cancelWaiting() {
    if (closed
        || !parked
        || !hasPending()
        || (primary != null && (!primary.idle() || midRequest(primary)))
        || (replica != null && (!replica.idle() || midRequest(replica)))) {
      return false;
    }
    if (gate.waiting()) {
      gate.abandon(); // its outcome never runs
    }
    checkoutUntil = 0;
    if (retry != null) {
      retry.cancel(false); // the failover hold's next try: nothing waits for it now
      retry = null;
    }
    cancelledOpening =
        (primary != null && primary.connecting()) || (replica != null && replica.connecting());
    parked = false;
    forgetRoute();
    cancelled();
    drain();
    releaseIfIdle(); // a connection it held while it waited (for a permit, a replica) goes back
    return true;
  }

  /**
   * The request a connection is opening for was cancelled ({@link #cancelWaiting}): nobody waits
   * for the outcome; a connection that comes goes back at once.
   */
  private boolean cancelledOpening;

  /** The waiting request's routing is over (sent, refused or cancelled): the next one's starts. */
  private void forgetRoute() {
    kind = null;
    primaryOnce = false;
  }

  protected final void park() {
    parked = true;
    if (draining == 0) {
      SplitChannels.autoRead(client, false); // (inside drain, its end sets it)
    }
  }

  /** An asynchronous step finished: try the waiting request again, then go on reading. */
  protected final void resume() {
    if (closed) {
      return;
    }
    boolean wasParked = parked;
    parked = false;
    if (wasParked && hasPending()) {
      dispatch();
    }
    drain();
  }

  /** The leg for the waiting request, or null when a step must run first (it resumes). */
  private L decide() {
    L tx = transactionLeg();
    if (kind == null) {
      kind = classify();
      switch (kind) {
        case PIN -> pin();
        case SESSION -> {
          if (tx != null && settingsAreTransactional()) {
            pin(); // a rollback may undo it: it cannot be replayed safely
          } else {
            keepSetting();
          }
        }
        case WRITE, TRANSACTION -> {
          if (ryw != null) {
            ryw.wrote();
          }
        }
        default -> {}
      }
    }
    if (tx != null) {
      return tx;
    }
    L sticky = stickyLeg();
    if (sticky != null) {
      return sticky;
    }
    if (pinned || !kind.replicaSafe() || primaryOnce || !replicaReads) {
      return primary;
    }
    return readTarget();
  }

  /**
   * Whether the statement in {@code text[from, to)} needs no classifying: the session's statements
   * all run on the primary and, by its bytes, this one is plain ({@link PlainStatements}): no pin,
   * no setting, no transaction control. The adapter then takes it as {@link StatementKind#WRITE} (a
   * statement for the primary) without decoding its text.
   */
  protected final boolean plainOnPrimary(ByteBuf text, int from, int to) {
    return !replicaReads && PlainStatements.plain(text, from, to);
  }

  /** Pins the session to the primary for good. */
  protected final void pin() {
    if (!pinned) {
      pinned = true;
      stats.pinned();
      log.debug("[{}] session {} pinned to the primary", listenerName, who());
      onPinned();
    }
  }

  /** The session was just pinned (an engine may drop a replica connection it cannot use). */
  protected void onPinned() {}

  /** Closes the replica connection if it owes nothing (the session will not read there). */
  protected final void dropIdleReplica() {
    if (replica != null && replica.channel() != null && replica.idle() && !midRequest(replica)) {
      quit(replica.channel());
      if (last == replica) {
        last = null;
      }
      replica = null;
    }
  }

  /** A replica for a read, honouring read-your-writes; the primary when none fits; null = wait. */
  private L readTarget() {
    if (last != null && last != replica && !last.idle()) {
      return null; // the transaction state is known once the previous request is answered
    }
    if (replica != null
        && replica.idle()
        && replica.channel() != null
        && !router.inRotation(replica.node().name())) {
      log.debug("[{}] {}: replica {} left rotation", listenerName, who(), replica);
      quit(replica.channel());
      replica = null;
      // routed again after a while, not at once: a router that still offered it would make each
      // request reconnect to it
      replicaRetryAt = System.nanoTime() + REPLICA_RETRY_NANOS;
    }
    if (replica == null) {
      if (System.nanoTime() - replicaRetryAt < 0) {
        return primary;
      }
      RouteResult r = router.routeReplica(request);
      if (!(r instanceof RouteResult.Routed routed)) {
        return primary;
      }
      replica = newLeg(false, routed.backend());
    }
    Boolean usePrimary = readMustUsePrimary();
    if (usePrimary == null) {
      return null;
    }
    if (usePrimary) {
      kind = StatementKind.WRITE;
      if (ryw != null) {
        ryw.wrote();
      }
      return primary;
    }
    if (replica.channel() == null || ryw == null) {
      return replica; // dispatch connects it
    }
    switch (ryw.next(replica, replica.idle())) {
      case REPLICA -> {
        return replica;
      }
      case ASK_PRIMARY ->
          hiddenQuery(
              primary,
              ryw.primaryQuery(),
              o -> {
                if (!ryw.primaryAnswered(o.value(), o.error())) {
                  readOnPrimaryOnce();
                }
                resume();
              });
      case ASK_REPLICA -> {
        L checked = replica;
        hiddenQuery(
            checked,
            ryw.replicaQuery(),
            o -> {
              switch (ryw.replicaAnswered(checked, o.value(), o.error(), System.nanoTime())) {
                case REACHED -> resume();
                case RECHECK -> {
                  rechecking = true;
                  client
                      .eventLoop()
                      .schedule(
                          () -> {
                            rechecking = false;
                            resume();
                          },
                          RECHECK_MS,
                          TimeUnit.MILLISECONDS);
                }
                case PRIMARY -> {
                  readOnPrimaryOnce();
                  resume();
                }
              }
            });
      }
      case WAIT -> {}
    }
    return null;
  }

  private void readOnPrimaryOnce() {
    primaryOnce = true;
    stats.readYourWritesOnPrimary();
  }

  // ------------------------------------------------------------------ hidden requests

  /** Sends Halo's own query to {@code b}; its answer is consumed and handed to {@code done}. */
  protected final void hiddenQuery(L b, String sql, Consumer<Owed> done) {
    hiddenRequest(b, encodeQuery(b, sql.getBytes(StandardCharsets.UTF_8)), sql, done);
  }

  /**
   * The text of a client's setting as it is kept: the bytes the client sent, one character per
   * byte. A setting is replayed as those bytes ({@link #replaySetting}) whatever the session's
   * encoding: decoded as UTF-8, a LATIN1 or Shift JIS session's {@code SET application_name =
   * 'café'} would be replayed as other bytes (U+FFFD's), another value.
   */
  protected static String keptText(ByteBuf text, int from, int length) {
    return text.toString(from, length, StandardCharsets.ISO_8859_1);
  }

  /**
   * {@link #keptText} of a text Halo holds decoded as UTF-8 (exact when it was UTF-8: see {@link
   * #wasUtf8}).
   */
  protected static String keptText(String decoded) {
    return new String(decoded.getBytes(StandardCharsets.UTF_8), StandardCharsets.ISO_8859_1);
  }

  /** Whether a text decoded as UTF-8 was UTF-8 (no byte was replaced). */
  protected static boolean wasUtf8(String decoded) {
    return decoded.indexOf('\uFFFD') < 0;
  }

  /** A kept setting as text for a log line (UTF-8, as most sessions' are). */
  protected static String shown(String kept) {
    return new String(kept.getBytes(StandardCharsets.ISO_8859_1), StandardCharsets.UTF_8);
  }

  /** Replays a kept setting ({@link #keptText}) on {@code b}, as the bytes the client sent. */
  protected final void replaySetting(L b, String kept, Consumer<Owed> done) {
    hiddenRequest(b, encodeQuery(b, kept.getBytes(StandardCharsets.ISO_8859_1)), shown(kept), done);
  }

  /**
   * Sends Halo's own request, already encoded for {@code b} ({@code what} names it in logs); its
   * answer is consumed and handed to {@code done}. Returns what {@code b} now owes, for the engine
   * to tag before the answer comes.
   */
  protected final Owed hiddenRequest(L b, ByteBuf encoded, String what, Consumer<Owed> done) {
    Owed o = Owed.hidden(done);
    b.owe(o);
    // Bounded like every internal request (a position wait may take read_your_writes_wait)
    long ms = HiddenQueries.boundMillis(server, config.readYourWritesWait());
    o.timer =
        client
            .eventLoop()
            .schedule(() -> hiddenTimedOut(b, o, what, ms), ms, TimeUnit.MILLISECONDS);
    b.channel().writeAndFlush(encoded);
    return o;
  }

  /**
   * Halo's own query got no reply in time (a hung backend). On a replica that owes nothing else,
   * the replica is dropped and the waiting read goes to the primary; otherwise the session ends,
   * since what it owes cannot be answered any more.
   */
  private void hiddenTimedOut(L b, Owed o, String sql, long ms) {
    if (closed || !b.owes(o)) {
      return;
    }
    if (b == replica && b.owesOnlyHidden()) {
      HiddenQueries.replicaDropped(log, listenerName, who(), b.node().name(), sql, ms);
      dropReplica();
      rechecking = false;
      if (ryw != null) {
        ryw.replicaDropped();
      }
      readOnPrimaryOnce();
      resume();
      return;
    }
    endSession(
        End.BACKEND_HUNG,
        HiddenQueries.sessionEnds(log, listenerName, who(), b.node().name(), sql, ms));
  }

  private void dropReplica() {
    L b = replica;
    replica = null;
    replicaRetryAt = System.nanoTime() + REPLICA_RETRY_NANOS;
    b.forget();
    if (b.channel() != null) {
      b.channel().close();
    }
    if (last == b) {
      last = null;
    }
  }

  // ------------------------------------------------------------------ backend side

  /**
   * The reply at the head of {@code b}'s FIFO is complete: a hidden one goes to its callback.
   * Returns it (the adapter then updates the transaction state of a client's reply) .
   */
  protected final Owed answered(L b) {
    return b.answered();
  }

  /** After a complete reply: a request parked behind {@code b} goes on. */
  protected final void replied(L b) {
    if (parked && b.idle() && !rechecking) {
      flushClient();
      resume();
    }
    if (stoppedForOwed && owedCount(primary) + owedCount(replica) < MAX_OWED) {
      stoppedForOwed = false;
      readClientIfIdle();
    }
    releaseIfIdle();
    if (idleCheck != null) {
      activeAt = System.nanoTime();
    } else if (multiplexed && !closed && holdsIdleTransaction()) {
      // (outside a transaction, the common case, nothing more is read or timed)
      long timeout = idleTransactionNanos();
      if (timeout > 0) {
        activeAt = System.nanoTime();
        idleCheck = scheduleIdleCheck(timeout);
      }
    }
  }

  /**
   * Multiplexed: the listener's {@code pool.idle_transaction_timeout} now (a reload changes it) in
   * nanoseconds; 0: sessions idle in a transaction stay.
   */
  protected long idleTransactionNanos() {
    return 0;
  }

  // ------------------------------------------------------------------ idle in a transaction

  /**
   * Whether the session holds its connection for a transaction that an idle client keeps open (see
   * {@code pool.idle_transaction_timeout}); a session pinned for other reasons, or keeping its
   * connection between transactions, is not in one.
   */
  protected boolean holdsIdleTransaction() {
    return inTransaction();
  }

  private io.netty.util.concurrent.ScheduledFuture<?> scheduleIdleCheck(long nanos) {
    return client.eventLoop().schedule(this::idleCheck, nanos, TimeUnit.NANOSECONDS);
  }

  /**
   * One look per {@code idle_transaction_timeout} at most (not a timer per statement): a session
   * still in its transaction, with nothing in flight and nothing from the client for the whole
   * timeout, ends; its connections close, which rolls the transaction back on the server.
   */
  private void idleCheck() {
    idleCheck = null;
    if (closed || ending || !holdsIdleTransaction()) {
      return; // the next reply inside a transaction looks again
    }
    long limit = idleTransactionNanos();
    if (limit <= 0) {
      return; // switched off by a reload
    }
    long idle = System.nanoTime() - activeAt;
    if (!backendsIdle() || hasPending() || parked) {
      idle = 0; // a statement runs: not idle
    }
    if (idle < limit) {
      idleCheck = scheduleIdleCheck(limit - idle);
      return;
    }
    String timeout = TimeUnit.NANOSECONDS.toMillis(limit) + " ms";
    log.info(
        "[{}] session {} idle in a transaction for {}: ended (pool.idle_transaction_timeout)",
        listenerName,
        who(),
        timeout);
    ending = true; // its backend connections' close is Halo's own, not a backend lost
    stats.idleTransactionEnded();
    endSession(
        End.IDLE_TRANSACTION,
        "idle in a transaction for longer than pool.idle_transaction_timeout ("
            + timeout
            + "): the transaction is rolled back and the session ends");
  }

  // ------------------------------------------------------------------ multiplexing

  /**
   * Multiplexed: between transactions with nothing owed, buffered or half sent, and not pinned, the
   * session's connections go back to the pool; its next request checks one out again.
   */
  protected final void releaseIfIdle() {
    if (!multiplexed
        || pinned
        || closed
        || ending
        || parked
        || hasPending()
        || inTransaction()
        || keepsConnections()
        || !backendsIdle()
        || primary == null
        || primary.connecting()
        || midRequest(primary)
        || (replica != null && (replica.connecting() || midRequest(replica)))) {
      return;
    }
    if (primary.channel() == null && replica == null) {
      return;
    }
    if (replicaReads
        && !leaving
        && ryw != null
        && ryw.unasked()
        && writePositionIsConnections()
        && primary.channel() != null) {
      // the write's position is the connection's (MariaDB's @@last_gtid): asked on it before it
      // goes, as the next read would ask another connection; the answer's reply releases it
      ReadYourWrites<?> asking = ryw;
      hiddenQuery(
          primary,
          asking.primaryQuery(),
          o -> {
            if (!asking.primaryAnswered(o.value(), o.error())) {
              readOnPrimaryOnce();
            }
          });
      return;
    }
    // the reply is complete: it leaves now (the backend handler that flushes at the end of a read
    // is about to go with the connection)
    flushClient();
    L oldPrimary = primary;
    L oldReplica = replica;
    primary = newLeg(true, oldPrimary.node());
    replica = null;
    last = null;
    giveBackLeg(oldPrimary);
    if (oldReplica != null) {
      giveBackLeg(oldReplica);
    }
    released();
  }

  private void giveBackLeg(L leg) {
    Channel ch = leg.channel();
    if (ch == null) {
      return;
    }
    if (leg.isPrimary()) {
      lastPrimaryConnection = ch;
    } else {
      lastReplicaConnection = ch;
    }
    Hop hop = leg.hop; // (set when the leg adopted the connection: no attribute lookup)
    if (hop != null) {
      hop.target = Hop.PASS; // kept for the next owner: no pipeline change per transaction
    }
    SplitChannels.autoRead(ch, true); // (a client that did not read stopped it) the pool reads it
    giveBack(leg, ch);
  }

  /**
   * Whether the session holds no backend connection now and its next request checks out the
   * router's primary (multiplexed, or after losing its primary): a topology change cannot end it.
   */
  public final boolean unbound() {
    return (multiplexed || lostPrimary != null)
        && primary != null
        && primary.channel() == null
        && !primary.connecting()
        && replica == null;
  }

  /**
   * Multiplexed: the waiting request needs a primary connection: on the router's primary now (a
   * failover may have changed it), waiting within {@code hold_timeout} while a failover runs.
   */
  private void checkOut() {
    if (primary.connecting()) {
      return;
    }
    io.halo.routing.RouteResult r = router.routeTo(io.halo.conf.model.RuleTarget.PRIMARY);
    if (r instanceof RouteResult.Routed routed) {
      if (lostPrimary != null && routed.backend().name().equals(lostPrimary)) {
        if (!waitForPrimary()) {
          lostGivenUp(noPrimaryInTime());
        }
        return; // a failover, or the health checker's verdict on the lost primary, decides
      }
      if (lostPrimary != null) {
        lossOver(io.halo.proxy.session.ClusterSessions.Loss.MOVED);
        lossBehind();
      }
      // the wait's deadline stays until a connection is had: a routed primary that keeps refusing
      // connects is retried within hold_timeout, not for ever
      if (!routed.backend().name().equals(primary.node().name())) {
        primary = newLeg(true, routed.backend());
        primaryMoved(routed.backend());
      }
      connect(primary);
      return;
    }
    if ((r instanceof io.halo.routing.RouteResult.Wait || lostPrimary != null)
        && waitForPrimary()) {
      return; // a failover runs (or, the primary lost, may start): within hold_timeout
    }
    checkoutUntil = 0;
    if (lostPrimary != null) {
      lossOver(io.halo.proxy.session.ClusterSessions.Loss.ENDED);
    }
    String why =
        r instanceof io.halo.routing.RouteResult.Unavailable u
            ? u.reason()
            : ((io.halo.routing.RouteResult.Wait) r).reason()
                + "; still not finished after hold_timeout "
                + holdTimeout().toMillis()
                + " ms";
    endSession(End.CANNOT_CONNECT, why);
  }

  /** Tries the checkout again shortly, within hold_timeout; false once that has passed. */
  private boolean waitForPrimary() {
    long now = System.nanoTime();
    if (checkoutUntil == 0) {
      checkoutUntil = now + holdTimeout().toNanos();
    }
    if (now - checkoutUntil >= 0) {
      return false;
    }
    if (retry == null || retry.isDone()) {
      retry =
          client
              .eventLoop()
              .schedule(
                  () -> {
                    retry = null; // (a try that waits again schedules the next)
                    resume();
                  },
                  CHECKOUT_RETRY_MS,
                  TimeUnit.MILLISECONDS);
    }
    return true;
  }

  /** The pending retry of {@link #waitForPrimary} (one at a time; a cancel stops it). */
  private io.netty.util.concurrent.ScheduledFuture<?> retry;

  /** Opens {@code b}'s connection; the waiting request resumes when it is open (or failed). */
  protected final void connect(L b) {
    if (b.channel() != null || b.node() == null || b.connecting()) {
      return;
    }
    b.connecting(true);
    Future<C> f = open(b);
    if (f.isSuccess()) {
      opened(b, f); // an idle pooled connection: no listener to allocate
    } else { // (a failure through Netty's listener, whose depth limit bounds a chain of refusals)
      f.addListener(done -> opened(b, f));
    }
  }

  /** {@code b}'s connection is open, or failed to open ({@code done}). */
  private void opened(L b, Future<C> done) {
    b.connecting(false);
    if (done.isSuccess() && (closed || (b != primary && b != replica))) {
      unused(done.getNow()); // closed, or replaced while it connected (switchover)
      return;
    }
    if (closed) {
      return;
    }
    if (!done.isSuccess() && b.isPrimary() && hasPending()) {
      cancelledOpening = false; // a request that came since gets the failure as its own
    }
    if (done.isSuccess()) {
      C c = done.getNow();
      discard(c);
      adopt(b, c);
      if (b.isPrimary()) {
        checkoutUntil = 0;
        primaryAttached(b, c);
      }
    } else if (b.isPrimary() && cancelledOpening && !hasPending()) {
      // the request it was opened for was cancelled meanwhile and none came since: nobody to
      // tell; the next request checks out again (a dead primary shows there)
      cancelledOpening = false;
      resume();
      return;
    } else if (b.isPrimary() && multiplexed && refusalOf(done.cause()) != null) {
      refuse(refusalOf(done.cause())); // the pool stayed full: this request fails, not the session
      forgetRoute();
    } else if (b.isPrimary()
        && io.halo.proxy.session.Establisher.unreachable(done.cause())
        && waitForPrimary()) {
      if (!multiplexed && lostPrimary == null) {
        lostPrimary = b.node().name(); // the retry asks the router, which may name another
      }
      suspect(b.node()); // a dead primary: the failover it starts gives the next try a new one
      return;
    } else if (b.isPrimary()) {
      log.warn(
          "[{}] {}: the primary {} is unreachable: {}",
          listenerName,
          who(),
          b.node().name(),
          done.cause().getMessage());
      endSession(End.CANNOT_CONNECT, done.cause().getMessage());
      return;
    } else {
      log.warn(
          "[{}] {}: replica {} unavailable for reads, using the primary: {}",
          listenerName,
          who(),
          b.node().name(),
          done.cause().getMessage());
      replica = null;
      replicaRetryAt = System.nanoTime() + REPLICA_RETRY_NANOS;
    }
    boolean cancelled = cancelledOpening;
    if (cancelled) {
      cancelledOpening = false;
    }
    resume();
    if (cancelled) {
      releaseIfIdle(); // unless a request that came since took it
    }
  }

  /** Adopts a connection already logged in (the primary's, at session start). */
  protected final void adopt(L b, C connection) {
    b.attached(channelOf(connection));
    attach(b, connection);
    Channel ch = channelOf(connection);
    Hop hop = ch.attr(HOP).get();
    if (hop == null) {
      hop = new Hop();
      ch.attr(HOP).set(hop);
      ch.pipeline().addLast("split", hop);
    }
    hop.target = new BackendHandler(b);
    b.hop = hop;
    SplitChannels.autoRead(ch, client.isWritable()); // (the client's writability turns it on)
  }

  private void backendClosed(L b) {
    if (closed || ending || (b != primary && b != replica)) {
      return; // expected, or a connection already replaced (switchover, replica left rotation)
    }
    if (!b.isPrimary() && b.idle() && !midRequest(b)) {
      log.info(
          "[{}] replica {} closed the read connection of {}; reads go elsewhere",
          listenerName,
          b,
          who());
      replica = null;
      return;
    }
    if (b.isPrimary() && b.idle() && holding() && !inTransaction()) {
      // a switchover's fence ends the old primary's connections while the session is held: a
      // fresh one (settings replayed) opens before its next request, on whichever primary
      primary = newLeg(true, b.node());
      lossBehind();
      if (last == b) {
        last = null;
      }
      return;
    }
    java.util.concurrent.CompletionStage<Boolean> verdict =
        b.isPrimary()
            ? suspect(b.node()) // the health checker probes it now instead of at its next interval
            : null;
    if (b.isPrimary() && !pinned && !midRequest(b)) {
      boolean running = !b.idle();
      String lost =
          running
              ? multiplexed && !inTransaction() && b.owesOnlyHidden()
                  ? hiddenLost(b)
                  : requestsLost(b) ? "while a request ran; it was answered as failed" : null
              : !inTransaction()
                  // kept between transactions (MySQL autocommit off): nothing is lost, the next
                  // request checks out a connection with the session's state replayed
                  ? "between transactions"
                  : transactionLost(newLeg(true, b.node()))
                      ? "inside its transaction; the transaction is lost"
                      : null;
      if (lost != null) {
        log.debug( // one line per session would flood the log in a failover: see the metrics
            "[{}] backend {} closed the connection of {} {}; the session stays",
            listenerName,
            BackendText.forLog(b.node()),
            who(),
            lost);
        if (primary == b) {
          primary = newLeg(true, b.node());
        }
        if (last == b) {
          last = null;
        }
        if (!multiplexed) {
          awaitVerdict(b.node(), verdict);
        }
        if (running) {
          resume(); // requests the client sent meanwhile (a lost transaction may wait: parked)
        }
        return;
      }
    }
    log.warn(
        "[{}] backend {} closed the connection of {}{}",
        listenerName,
        BackendText.forLog(b.node()),
        who(),
        pinned ? " (pinned to it: its state cannot move)" : "");
    endSession(
        End.BACKEND_LOST, "backend " + b.node().name() + " closed the connection unexpectedly");
  }

  /**
   * Multiplexed, between transactions: {@code dead} died while it owed only Halo's own requests
   * (the write position asked before the connection goes back, a setting replayed): the client is
   * owed nothing, so each gets the loss as its error and the session goes on, as if the connection
   * had died idle in the pool.
   */
  private String hiddenLost(L dead) {
    while (!dead.idle()) {
      dead.next().error("the connection was lost");
      dead.answered();
    }
    return "while only Halo's own query ran";
  }

  /**
   * Not multiplexed: the session lost its primary's connection and goes on, as a plain session does
   * ({@code HeldSession#outliveBackend}): its next request waits for the router to name another
   * primary and runs there, its settings and statements replayed; if the health checker finds the
   * lost primary up and still the primary, only this connection died (an operator's {@code
   * pg_terminate_backend} or {@code KILL}) and the session ends with the server's own last words.
   */
  private void awaitVerdict(
      BackendNode lost, java.util.concurrent.CompletionStage<Boolean> verdict) {
    lostPrimary = lost.name();
    sessions().countLoss(io.halo.proxy.session.ClusterSessions.Loss.WAITED);
    dropIdleReplica(); // opened again on demand, once there is a primary to follow
    // as a plain session: no primary other than the lost one within hold_timeout of the loss ends
    // it, even idle (once there is one, an idle session may stay as long as its client likes); a
    // request's wait for it ends then too
    checkoutUntil = System.nanoTime() + holdTimeout().toNanos();
    cancelLostDeadline();
    lostDeadline =
        client
            .eventLoop()
            .schedule(
                () -> {
                  lostDeadline = null;
                  if (closed || ending || lostPrimary == null) {
                    return;
                  }
                  RouteResult r = router.routeTo(io.halo.conf.model.RuleTarget.PRIMARY);
                  if (!(r instanceof RouteResult.Routed routed)
                      || routed.backend().name().equals(lostPrimary)) {
                    lostGivenUp(noPrimaryInTime());
                  }
                },
                holdTimeout().toMillis(),
                TimeUnit.MILLISECONDS);
    if (verdict == null) {
      return;
    }
    verdict.whenComplete(
        (answered, e) -> {
          if (Boolean.TRUE.equals(answered)) {
            client.eventLoop().execute(() -> lostPrimaryAnswered(lost.name()));
          }
        });
  }

  /**
   * A failover fenced or demoted the session's primary (its connection may still be open: a hung
   * server, a partition, a forced failover). Not multiplexed: a session idle between transactions
   * and not pinned leaves it, as a plain session does, and follows the router's next primary on its
   * next request; nothing more reaches the old one. Multiplexed, see {@link #leaveBoundPrimary}.
   * Event loop.
   *
   * @return false when the session cannot leave (the caller ends it as before)
   */
  public final boolean leavePrimary() {
    if (closed || ending || pinned || primary == null) {
      return false;
    }
    if (multiplexed) {
      return leaveBoundPrimary();
    }
    boolean readsThere = replica != null && replica.node().name().equals(primary.node().name());
    if (lostPrimary != null && primary.channel() == null && !primary.connecting() && !readsThere) {
      // it left (or lost) that primary already and waits for the router to name the next one:
      // a read running on the replica goes on, the next request asks the router
      return true;
    }
    if (parked
        || hasPending()
        || inTransaction()
        || readsThere
        || primary.channel() == null
        || primary.connecting()
        || !primary.idle() // (a read running on the replica goes on: it needs no primary)
        || midRequest(primary)) {
      return false;
    }
    L old = primary;
    primary = newLeg(true, old.node());
    if (last == old) {
      last = null;
    }
    quit(old.channel());
    lossBehind();
    log.debug( // one line per session would flood the log in a failover: see the metrics
        "[{}] {} leaves {}, fenced or no longer the primary; it follows the next primary",
        listenerName,
        who(),
        old.node().name());
    awaitVerdict(old.node(), null);
    return true;
  }

  /**
   * Multiplexed, and holding its primary connection while idle (MySQL autocommit off between
   * transactions, or idle inside a transaction) when a failover fences or demotes that primary: the
   * session goes on as when the primary dies under it ({@link #backendClosed}), the same whether
   * the old server is down or still up. Halo closes the connection (a transaction open on it rolls
   * back there, nothing of it was committed); the next request checks out a connection to the new
   * primary with the session's state replayed, and a transaction that was open is answered as lost
   * there ({@link #transactionLost}). A session with a request in flight, or whose engine cannot
   * answer a lost transaction, cannot leave.
   */
  private boolean leaveBoundPrimary() {
    L old = primary;
    if (parked
        || hasPending()
        || old.channel() == null
        || old.connecting()
        || !old.idle()
        || midRequest(old)
        || (replica != null && (replica.connecting() || midRequest(replica)))) {
      return false;
    }
    L fresh = newLeg(true, old.node());
    if (inTransaction() && !transactionLost(fresh)) {
      return false;
    }
    primary = fresh; // first: the close below is then expected, not a loss
    if (last == old) {
      last = null;
    }
    quit(old.channel());
    log.debug( // one line per session would flood the log in a failover: see the metrics
        "[{}] {} leaves {}, fenced or no longer the primary; its next request runs on the next",
        listenerName,
        who(),
        old.node().name());
    releaseIfIdle(); // a replica connection it held goes back (unless the session keeps it)
    return true;
  }

  /** The lost primary answered a probe since: if it is still the primary, only this link died. */
  private void lostPrimaryAnswered(String lost) {
    if (closed || ending || !lost.equals(lostPrimary)) {
      return;
    }
    RouteResult r = router.routeTo(io.halo.conf.model.RuleTarget.PRIMARY);
    if (r instanceof RouteResult.Routed routed && routed.backend().name().equals(lost)) {
      lostGivenUp(lost + " is up and still the primary: only this session's connection was closed");
    }
  }

  private String noPrimaryInTime() {
    return "no new primary within hold_timeout "
        + holdTimeout().toMillis()
        + " ms after "
        + lostPrimary
        + " was lost";
  }

  /** The wait for another primary is over ({@code outcome}): its deadline goes. */
  private void lossOver(io.halo.proxy.session.ClusterSessions.Loss outcome) {
    lostPrimary = null;
    cancelLostDeadline();
    sessions().countLoss(outcome);
  }

  private void cancelLostDeadline() {
    if (lostDeadline != null) {
      lostDeadline.cancel(false);
      lostDeadline = null;
    }
  }

  private void lostGivenUp(String why) {
    String lost = lostPrimary;
    lossOver(io.halo.proxy.session.ClusterSessions.Loss.ENDED);
    checkoutUntil = 0;
    log.info("[{}] ending {}: {}", listenerName, who(), why);
    endSession(End.BACKEND_LOST, "backend " + lost + " closed the connection unexpectedly; " + why);
  }

  // ------------------------------------------------------------------ switchover and end

  /**
   * Why the session cannot move to a new primary (a switchover), or null when it can: pinned to the
   * old one, or not between transactions.
   */
  protected final String unmovable(String pinnedState) {
    if (pinned) {
      return "it holds state on " + primary.node().name() + " (" + pinnedState + ")";
    }
    if (!backendsIdle() || inTransaction()) {
      return "it still had work in flight when the hold ended";
    }
    return null;
  }

  /**
   * Moves the session to {@code next} (a switchover, the session held between transactions): the
   * old primary connection is closed, the new one opens before the next request, with what the
   * session needs replayed there.
   */
  protected final void movePrimary(BackendNode next) {
    Channel old = primary.channel();
    primary = newLeg(true, next);
    lossBehind(); // what the old connection said last was not meant for the client
    if (last != null && last.isPrimary()) {
      last = null;
    }
    if (replica != null && replica.node().name().equals(next.name())) {
      if (replica.channel() != null) {
        replica.channel().close();
      }
      replica = null; // a connect still running finds it replaced and closes what it opened
    }
    if (old != null) {
      quit(old);
    }
  }

  /**
   * The session starts over as another user on {@code connection}, its new primary connection
   * (MySQL COM_CHANGE_USER): both old connections go, and with them what the old session held
   * (pinning, read-your-writes, the admission gate, the rules matched).
   */
  protected final void restart(
      L nextPrimary, C connection, TransactionGate nextGate, RouteRequest nextRequest) {
    closeBackends();
    replica = null;
    last = null;
    kind = null;
    pinned = false;
    primaryOnce = false;
    gate.abandon();
    gate = nextGate;
    request = nextRequest;
    rules = router.sessionRules(nextRequest);
    ryw = ryw == null ? null : ReadYourWrites.of(probe, config.readYourWritesWait());
    primary = nextPrimary;
    adopt(nextPrimary, connection);
  }

  /** Neither leg owes a reply, Halo's hidden queries included. */
  public final boolean backendsIdle() {
    return (primary == null || primary.idle()) && (replica == null || replica.idle());
  }

  /**
   * Whether the primary's answer to the read-your-writes position query is its connection's own
   * (MariaDB's {@code @@last_gtid}), not the server's (PostgreSQL's WAL position): transaction
   * pooling then asks it before the connection goes back.
   */
  protected boolean writePositionIsConnections() {
    return false;
  }

  /**
   * The session ends: what {@link #keepsConnections} kept for the session's next statement need not
   * be kept; called before its idle connections go back to the pool.
   */
  protected void sessionEnding() {}

  /** Releases everything (the client connection is gone or Halo ends the session). */
  protected final void closed() {
    if (closed) {
      return;
    }
    sessionEnding();
    leaving = true; // no read follows: no write position to ask before the connection goes
    releaseIfIdle(); // multiplexed: idle connections go back to the pool, not closed
    closed = true;
    cancelLostDeadline();
    if (idleCheck != null) {
      idleCheck.cancel(false);
      idleCheck = null;
    }
    gate.abandon();
    stats.sessionEnded(pinned);
    closeBackends();
    inbox.forEach(ReferenceCountUtil::release);
    inbox.clear();
    releaseBuffered();
  }

  /** The client said goodbye: so do both backends, then the client connection closes. */
  protected final void end() {
    if (closed) {
      return;
    }
    sessionEnding();
    leaving = true; // no read follows: no write position to ask before the connection goes
    releaseIfIdle(); // multiplexed: idle connections go back to the pool, not closed
    ending = true;
    closeBackends();
    client.close();
  }

  /** Halo ends the session itself (a protocol violation): the backends go first, quietly. */
  protected final void abort() {
    ending = true;
    closeBackends();
  }

  /** Says goodbye to both backends and closes their connections now. */
  public final void closeBackends() {
    SplitChannels.quit(backendChannels(), goodbye);
  }

  protected final void quit(Channel c) {
    SplitChannels.quit(List.of(c), goodbye);
  }

  private List<Channel> backendChannels() {
    return SplitChannels.of(
        primary == null ? null : primary.channel(), replica == null ? null : replica.channel());
  }

  /**
   * Whether the client may be read: its backends take more, and the client itself reads what it is
   * sent. A client that sends without reading its replies is not read further (in transaction mode
   * each reply ends with the connection back in the pool, so no backend's backpressure would stop
   * it; requests answered by Halo itself reach no backend at all).
   */
  private boolean mayReadClient() {
    if (owedCount(primary) + owedCount(replica) >= MAX_OWED) {
      stoppedForOwed = true; // resumed in replied() as they are answered
      return false;
    }
    return writable(primary) && writable(replica) && client.isWritable();
  }

  /**
   * Replies owed to the client at most before it is no longer read: each is an entry Halo keeps (a
   * Sync or a ping of five bytes, sent while the backend is busy, costs some fifty), so the
   * sockets' buffers alone would let a client pile up millions.
   */
  public static final int MAX_OWED = 65_536;

  /** Reading the client stopped at {@link #MAX_OWED}. */
  private boolean stoppedForOwed;

  /**
   * Sets the client's reading by {@link #mayReadClient} where nothing else governs it: no request
   * parked (its resume sets it), none waiting in the inbox, not inside {@link #drain} (its end sets
   * it). No allocation: asked on writability changes and replies.
   */
  private void readClientIfIdle() {
    if (!parked && inbox.isEmpty() && !closed && draining == 0) {
      SplitChannels.autoRead(client, mayReadClient());
    }
  }

  private static int owedCount(Leg leg) {
    return leg == null ? 0 : leg.owedCount();
  }

  private static boolean writable(Leg leg) {
    return leg == null || leg.channel() == null || leg.channel().isWritable();
  }

  // ------------------------------------------------------------------ handlers

  /** The handler to install on the client once the session starts. */
  protected final ChannelInboundHandlerAdapter clientHandler() {
    return new ClientHandler();
  }

  private final class ClientHandler extends ChannelInboundHandlerAdapter {
    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
      if (idleCheck != null) {
        activeAt = System.nanoTime();
      }
      clientRead(msg);
    }

    @Override
    public void channelReadComplete(ChannelHandlerContext ctx) {
      if (primary != null && primary.channel() != null) {
        primary.channel().flush();
      }
      if (replica != null && replica.channel() != null) {
        replica.channel().flush();
      }
    }

    @Override
    public void channelWritabilityChanged(ChannelHandlerContext ctx) {
      boolean writable = ctx.channel().isWritable();
      SplitChannels.autoRead(backendChannels(), writable);
      if (!writable) {
        SplitChannels.autoRead(client, false);
      } else {
        readClientIfIdle();
      }
      ctx.fireChannelWritabilityChanged();
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
      clientGone();
      closed();
      ctx.fireChannelInactive();
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
      if (clientFailed(ctx, cause)) {
        return;
      }
      if (cause instanceof IOException) {
        log.debug("[{}] client connection of {} failed: {}", listenerName, who(), cause.toString());
      } else {
        log.warn("[{}] client connection of {} failed", listenerName, who(), cause);
      }
      ctx.close();
    }
  }

  private static final io.netty.util.AttributeKey<Hop> HOP =
      io.netty.util.AttributeKey.valueOf(SplitRelay.class, "hop");

  /**
   * The session's place on a backend connection. A pooled connection keeps it across transactions,
   * each owner setting {@link #target} (no pipeline change per transaction); between owners it
   * passes everything on (to the pool's handler, or a reset's).
   */
  static final class Hop extends ChannelInboundHandlerAdapter {
    /** Between owners: an adapter's defaults, which pass every event on. */
    private static final ChannelInboundHandlerAdapter PASS = new ChannelInboundHandlerAdapter();

    private ChannelInboundHandlerAdapter target = PASS;

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) throws Exception {
      target.channelRead(ctx, msg);
    }

    @Override
    public void channelReadComplete(ChannelHandlerContext ctx) throws Exception {
      target.channelReadComplete(ctx);
    }

    @Override
    public void channelWritabilityChanged(ChannelHandlerContext ctx) throws Exception {
      target.channelWritabilityChanged(ctx);
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) throws Exception {
      target.channelInactive(ctx);
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) throws Exception {
      target.exceptionCaught(ctx, cause);
    }
  }

  private final class BackendHandler extends ChannelInboundHandlerAdapter {
    private final L leg;

    BackendHandler(L leg) {
      this.leg = leg;
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
      if (closed) {
        ReferenceCountUtil.release(msg);
        return;
      }
      backendRead(leg, msg);
    }

    @Override
    public void channelReadComplete(ChannelHandlerContext ctx) {
      flushClient();
      if (!client.isWritable()) {
        SplitChannels.autoRead(ctx.channel(), false);
      }
    }

    @Override
    public void channelWritabilityChanged(ChannelHandlerContext ctx) {
      if (!ctx.channel().isWritable()) {
        SplitChannels.autoRead(client, false);
      } else {
        readClientIfIdle();
      }
      ctx.fireChannelWritabilityChanged();
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
      if (leg.channel() == ctx.channel()) {
        backendClosed(leg);
      }
      ctx.fireChannelInactive();
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
      log.debug(
          "[{}] backend {} connection of {} failed: {}",
          listenerName,
          leg,
          who(),
          cause.toString());
      ctx.close();
    }
  }
}

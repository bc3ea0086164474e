package io.halo.proxy.mysql;

import io.halo.health.state.BackendNode;
import io.halo.proxy.mysql.packet.HandshakeResponse;
import io.halo.proxy.mysql.packet.MySqlPacket;
import io.halo.proxy.mysql.packet.MySqlPacketDecoder;
import io.halo.proxy.mysql.packet.MySqlPackets;
import io.halo.proxy.mysql.packet.MySqlResponseTracker;
import io.halo.proxy.session.SplitChannels;
import io.halo.proxy.session.SplitContext;
import io.halo.proxy.session.split.Leg;
import io.halo.proxy.session.split.Owed;
import io.halo.proxy.session.split.PositionProbe;
import io.halo.proxy.session.split.SplitRelay;
import io.halo.routing.RouteRequest;
import io.halo.routing.split.StatementKind;
import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.DecoderException;
import io.netty.util.concurrent.Future;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;
import java.util.function.BiConsumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The MySQL adapter of the split engine ({@link SplitRelay}): one command is one request.
 *
 * <ul>
 *   <li><b>Classification.</b> A COM_QUERY is classified by its text; COM_INIT_DB is a setting;
 *       every other command (the prepared statement commands COM_STMT_* included, through {@link
 *       MySqlStatements}: Halo's own statement ids, each statement prepared on the primary
 *       connection that runs it) goes to the primary. A session is in a transaction when the
 *       primary's last status says IN_TRANS or autocommit is off. Settings ({@code SET NAMES},
 *       {@code SET SESSION}, {@code USE}, COM_INIT_DB) that the primary ran without an error are
 *       replayed on other connections (MySQL settings survive a rollback); user variables, table
 *       locks, temporary tables and named locks pin the session to the primary.
 *   <li><b>Replies.</b> Each leg's {@link MySqlResponseTracker}, fed each packet, says where a
 *       reply ends and what its status flags are. Replies pass through with their sequence ids,
 *       which the backend numbered from the client's own command; Halo's hidden commands are
 *       consumed.
 *   <li><b>Read-your-writes (MariaDB).</b> The primary's {@code @@last_gtid} for the session, and
 *       {@code MASTER_GTID_WAIT(gtid, wait)} on the replica: 0 sends the read there, -1 (not
 *       replayed within {@code read_your_writes_wait}) to the primary. MySQL 8 would use {@code
 *       WAIT_FOR_EXECUTED_GTID_SET}; not tested here (no MySQL 8 server).
 * </ul>
 *
 * <p>Switchover: the relay answers the gate's quiescence question on its loop and, while the
 * cluster holds, keeps a command that would start new work unsent. At release its primary leg is
 * replaced by one to the new primary, opened before the next command, with the session's settings
 * replayed (and autocommit off when it was off), its prepared statements prepared again there on
 * first use. A session pinned to the old primary (long data or a cursor included) or inside a
 * transaction cannot move: its next command gets ERR 1053 naming the reason.
 *
 * <p>COM_CHANGE_USER is Halo's ({@link MySqlChangeUser}): the new user is authenticated at Halo and
 * the session starts over on a fresh primary connection as that user's backend user; a refused
 * change (1045) keeps the session as it was.
 *
 * <p>Size: the adapter keeps MySQL's own parts of a split session (command framing, settings and
 * their replay, KILL and COM_CHANGE_USER routing, switchover and failover endings with ERR 1053);
 * the routing flow itself is the engine's.
 */
final class MySqlSplitRelay
    extends SplitRelay<MySqlPacket, MySqlSplitRelay.Backend, MySqlBackendConnection>
    implements io.halo.proxy.session.RelayedSession, MySqlChangeUser.Target {

  private static final Logger log = LoggerFactory.getLogger(MySqlSplitRelay.class);
  private static final int MAX_SETTINGS_BYTES = 64 * 1024;

  /**
   * Settings kept at most (the session pins itself beyond): each checkout of a connection another
   * session changed replays all of them, so their number bounds the work, not only their bytes.
   */
  static final int MAX_SETTINGS = 256;

  /** MariaDB GTIDs: the session's {@code @@last_gtid}, waited for on the replica. */
  static final PositionProbe<String> GTID =
      new PositionProbe<>() {
        @Override
        public String primaryQuery() {
          return "SELECT @@last_gtid";
        }

        @Override
        public String required(String value) {
          return value == null || value.isEmpty() ? null : value;
        }

        @Override
        public String replicaQuery(String required, Duration wait) {
          return "SELECT MASTER_GTID_WAIT('"
              + required.replace("'", "")
              + "', "
              + wait.toMillis() / 1000.0
              + ")";
        }

        @Override
        public String reached(String value, String required) {
          return "0".equals(value) ? required : null;
        }

        @Override
        public boolean covers(String reached, String required) {
          return required.equals(reached);
        }

        @Override
        public boolean waitsOnServer() {
          return true;
        }
      };

  private final MySqlListenerContext listener;
  private HandshakeResponse hello;

  /**
   * Transaction mode, per role (0 the primary, 1 a replica): the pool key of the role's last
   * checkout, and the login it was made from.
   */
  private final MySqlPool.Key[] poolKeys = new MySqlPool.Key[2];

  private final HandshakeResponse[] poolKeyHellos = new HandshakeResponse[2];

  /**
   * The entry the client logged in with (or changed user to): its backend credentials open every
   * connection, whatever a reload or the auth_query cache holds by now.
   */
  private io.halo.proxy.mysql.auth.MySqlCredentials.Entry credentials;

  private final byte[] scramble;
  private final int capabilities;
  private final boolean deprecateEof;
  private final BiConsumer<BackendNode, Long> killTarget;

  private MySqlPacket waiting;
  private int primaryStatus = MySqlPackets.SERVER_STATUS_AUTOCOMMIT;

  /**
   * Transaction pooling: the last statement made an AUTO_INCREMENT value, or had warnings, so the
   * connection, whose {@code LAST_INSERT_ID()} and {@code SHOW WARNINGS} now hold them, stays with
   * the session for its next statement (as ProxySQL's {@code auto_increment_delay_multiplex} and
   * {@code handle_warnings}, for one statement).
   */
  private boolean keptForNextStatement;

  /** When the keep ends ({@link System#nanoTime}), if the session stays idle. */
  private long keptUntil;

  /** A timer that ends the keep is scheduled (one at most, whatever the number of INSERTs). */
  private boolean keepTimer;

  /**
   * How long a connection stays with an idle session for its {@code LAST_INSERT_ID()}: a client
   * asks for it right after its INSERT; one that does not must not hold a pooled connection.
   */
  static final long INSERT_ID_KEEP_MS = 1_000;

  /** The waiting statement is a one-shot {@code SET TRANSACTION} (see {@link #nextTransaction}). */
  private boolean waitingSetsNextTransaction;

  /**
   * Transaction pooling: a one-shot {@code SET TRANSACTION} ran, and the characteristics it set for
   * the session's next transaction are its connection's until that transaction ends; the connection
   * stays with the session until then (given back, it would hand them to another session's
   * transaction, and this one's would run without them).
   */
  private boolean nextTransaction;

  /** The tag of the reply owed for a one-shot {@code SET TRANSACTION}. */
  private static final Object SETS_NEXT_TRANSACTION = new Object();

  private void keepForNextStatement(boolean keep) {
    keptForNextStatement = keep;
    if (keep) {
      keptUntil = System.nanoTime() + INSERT_ID_KEEP_MS * 1_000_000L;
      if (!keepTimer) {
        keepTimer = true;
        endKeepAfter(INSERT_ID_KEEP_MS * 1_000_000L);
      }
    }
  }

  /** Ends the keep once {@link #keptUntil} has passed (a later INSERT moved it: wait again). */
  private void endKeepAfter(long nanos) {
    client
        .eventLoop()
        .schedule(
            () -> {
              long left = keptUntil - System.nanoTime();
              if (keptForNextStatement && !closed && left > 0) {
                endKeepAfter(left);
                return;
              }
              keepTimer = false;
              if (keptForNextStatement && !closed) {
                keptForNextStatement = false;
                releaseIfIdle();
              }
            },
            nanos,
            java.util.concurrent.TimeUnit.NANOSECONDS);
  }

  @Override
  protected boolean writePositionIsConnections() {
    return true; // @@last_gtid
  }

  @Override
  protected void sessionEnding() {
    keptForNextStatement = false; // the connection goes back to the pool as after any statement
  }

  /** Settings the primary ran without an error, in order, replayed on other connections. */
  private final List<String> settings = new ArrayList<>();

  private int settingsBytes;

  /** The waiting command's setting text, kept once the primary has run it without an error. */
  private String waitingSetting;

  /** A switchover waiting for this session to be quiescent. */
  private final io.halo.proxy.session.QuiescenceWait quietWait =
      new io.halo.proxy.session.QuiescenceWait();

  /** A switchover holds the session: the waiting command stays unsent until release. */
  private boolean held;

  /** Halo is stopping: new work between transactions is held ({@link #holdForShutdown}). */
  private boolean stopping;

  /** Set when a switchover ended the session while it was idle: its next command gets this ERR. */
  private String doomed;

  /** ... with this error (Halo ended it; or its backend was lost, ERR 1927). */
  private MySqlError doomedAs = MySqlError.SESSION_ENDED;

  /** The primary's name, for the admin view's session counts (read by other threads). */
  private volatile String primaryName;

  /**
   * The client's prepared statements, run on whichever connection the session has ({@link
   * MySqlStatements}): pooled connections in transaction mode, a new primary after a switchover.
   */
  private final MySqlStatements statements;

  /** The statement the waiting command names, or null. */
  private MySqlStatements.Statement waitingStatement;

  /** COM_STMT_BULK_EXECUTE (MariaDB): never offered by Halo's greeting. */
  private static final int COM_STMT_BULK_EXECUTE = 0xfa;

  /** A connection of the session, with what MySQL keeps per connection. */
  static final class Backend extends Leg implements MySqlPacketDecoder.Passthrough {
    long threadId;
    int settingsApplied;

    /** The tracker has seen the packet framed next already: {@link #passes} fed it. */
    boolean fedAhead;

    /** Where each reply ends and its status flags: fed packet by packet. */
    MySqlResponseTracker tracker;

    /** Set by the tracker when the reply at the head of the FIFO is complete. */
    boolean replyDone;

    /** Part of the client's reply at the head of the FIFO has been passed on. */
    boolean replyStarted;

    boolean replyError;
    int replyStatus = -1;

    /** The reply's OK said an AUTO_INCREMENT value was made: LAST_INSERT_ID() changed there. */
    boolean replyInsertId;

    /** The completed reply reported warnings. */
    boolean replyWarnings;

    /** The command the reply answered. */
    int replyCommand;

    Backend(boolean isPrimary, BackendNode node) {
      super(isPrimary, node);
    }

    /**
     * What {@link #backendRead} would only forward: a packet of a reply the client waits for that
     * does not end it (the tracker follows it here, once). Replies to Halo's own commands and to a
     * prepare (whose first packet Halo reads) are framed and looked at.
     */
    @Override
    public boolean passes(ByteBuf buf, int payloadIndex, int length) {
      Owed r = next();
      if (r == null || r.isHidden() || r.tag() instanceof Preparing || tracker == null) {
        return false;
      }
      replyDone = false;
      tracker.serverPacket(length, buf, payloadIndex, Math.min(length, MySqlResponseTracker.HEAD));
      if (replyDone) {
        fedAhead = true; // the end of the reply: framed, and backendRead must not feed it again
        return false;
      }
      replyStarted = true;
      return true;
    }
  }

  MySqlSplitRelay(
      MySqlListenerContext listener,
      Channel client,
      HandshakeResponse hello,
      io.halo.proxy.mysql.auth.MySqlCredentials.Entry credentials,
      byte[] scramble,
      int capabilities,
      SplitContext stats,
      BiConsumer<BackendNode, Long> killTarget) {
    super(
        new Setup(
            listener.name(),
            listener.listener(),
            listener.server(),
            listener.router(),
            stats,
            listener.admission().transactionGate(hello.user()),
            client,
            request(hello, client),
            SplitChannels.MYSQL_QUIT),
        GTID);
    this.listener = listener;
    this.hello = hello;
    this.credentials = credentials;
    this.scramble = scramble;
    this.capabilities = capabilities;
    this.deprecateEof =
        (hello.capabilities() & capabilities & MySqlPackets.CLIENT_DEPRECATE_EOF) != 0;
    this.killTarget = killTarget;
    this.statements = new MySqlStatements();
  }

  private static RouteRequest request(HandshakeResponse hello, Channel client) {
    return new RouteRequest(
        hello.user(),
        hello.database() == null ? "" : hello.database(),
        hello.attributes() == null ? null : hello.attributes().get("program_name"),
        client.remoteAddress());
  }

  /** Takes over the client (its packet decoder stays) and the logged-in primary connection. */
  void start(ChannelHandlerContext frontend, MySqlBackendConnection connection) {
    // The handshake decoder has a small limit; commands get the configured one.
    frontend
        .pipeline()
        .replace("frames", "frames", new MySqlPacketDecoder(listener.server().maxMessageSize()));
    primary = new Backend(true, connection.node());
    if (multiplexed && connection.channel() == null) {
      // transaction mode: logged in without a connection; the first command checks one out
      killTarget.accept(connection.node(), 0L);
    } else if (multiplexed && connection.channel().attr(APPLIED).get() != null) {
      // transaction mode: it carries another session's settings; back it goes at once (the first
      // command checks a connection out, reset for this session where it must be), and no KILL
      // may reach its thread through this session
      killTarget.accept(connection.node(), 0L);
      checkin(connection.channel());
    } else {
      adopt(primary, connection);
    }
    primaryStatus = connection.status();
    primaryName = connection.node().name();
    listener.router().sessionStarted(primaryName);
    client.closeFuture().addListener(f -> listener.router().sessionEnded(primaryName));
    frontend.pipeline().addLast("split", clientHandler());
    stats.sessionStarted();
    releaseIfIdle(); // transaction mode: the login's connection waits in the pool for work
  }

  // ------------------------------------------------------------------ client side

  @Override
  protected void clientRead(Object msg) {
    inbox.add((MySqlPacket) msg);
    drain();
  }

  @Override
  protected boolean clientFailed(ChannelHandlerContext ctx, Throwable cause) {
    if (!(cause instanceof DecoderException)) {
      return false;
    }
    log.info(
        "[{}] closing a split session of {}: {}",
        listener.name(),
        hello.user(),
        cause.getMessage());
    abort();
    ctx.writeAndFlush(
            MySqlError.PACKET_TOO_LARGE.frame(
                ctx.alloc(),
                1,
                "Got a packet bigger than max_message_size or a malformed one: "
                    + cause.getMessage()))
        .addListener(ChannelFutureListener.CLOSE);
    return true;
  }

  @Override
  protected void handle(MySqlPacket p) {
    ByteBuf payload = p.payload();
    // A LOCAL INFILE file's packets count their sequence ids on past 255 to 0 again (every 4 MB
    // of 16 KiB packets): what the client sends while the tracker says a file is being sent is
    // the file, whatever its sequence id.
    boolean file = last != null && last.tracker != null && last.tracker.sendingFile();
    if (!file && p.sequenceId() == 0 && !payload.isReadable()) {
      // An empty command: answered as the server answers it, like the plain relay does (found by
      // the protocol fuzzer).
      p.release();
      client.writeAndFlush(MySqlError.UNKNOWN_COMMAND.frame(client.alloc(), 1, "Unknown command"));
      return;
    }
    if (file || p.sequenceId() != 0 || !payload.isReadable()) {
      // Not a command: LOCAL INFILE data (or its empty terminator) for the command running now.
      if (last != null && last.channel() != null) {
        sent(last, p.payload());
        write(last.channel(), p);
      } else {
        p.release();
      }
      return;
    }
    int command = payload.getUnsignedByte(payload.readerIndex());
    if (command == MySqlPackets.COM_QUIT) {
      p.release();
      end();
      return;
    }
    if (doomed != null) {
      // ended while idle (a switchover, its backend lost): this command gets why, then it closes
      String message = doomed;
      waiting = p;
      finalError(doomedAs, message);
      return;
    }
    if (lostOn != null
        && command != MySqlPackets.COM_PING
        && command != MySqlPackets.COM_STMT_CLOSE
        && command != MySqlPackets.COM_STMT_SEND_LONG_DATA) {
      String lost = lostOn;
      lostOn = null;
      if (!isRollback(payload)) {
        // as the plain relay answers it: the client learns its transaction is gone, once
        waiting = p;
        refuse(
            MySqlError.TRANSACTION_LOST,
            "Halo: backend "
                + lost
                + " was lost, and this session's open transaction was rolled back with it:"
                + " restart it");
        return;
      }
    }
    if (command == MySqlPackets.COM_CHANGE_USER) {
      if (!backendsIdle() || primary.channel() == null) {
        inbox.addFirst(p); // after what the backends still owe (and the primary's login)
        park();
        if (primary.channel() == null) {
          connect(primary); // a full pool refuses it: refuse() answers it from the inbox
        }
        return;
      }
      if (multiplexed) {
        pin(); // the session's connection becomes the new user's: it is never shared again
      }
      MySqlChangeUser.start(this, client.pipeline(), "split", p);
      return;
    }
    if (command == MySqlPackets.COM_PING && multiplexed && !pinned && unbound()) {
      // holding no connection (between transactions): answered here, as ProxySQL answers it, so
      // a client pool's validation ping neither waits for nor takes a pooled connection
      p.release();
      client.writeAndFlush(
          MySqlPackets.frame(
              client.alloc(), 1, MySqlPackets.ok(client.alloc(), 0, 0, primaryStatus, 0)));
      return;
    }
    if (command == MySqlPackets.COM_RESET_CONNECTION && !backendsIdle()) {
      // after the replies still owed: a PREPARE answered after the reset would name a statement
      // the reset freed
      inbox.addFirst(p);
      park();
      return;
    }
    if (command == MySqlPackets.COM_QUERY && multiplexed && !pinned && unbound() && killedHere(p)) {
      return; // as COM_PING: neither waits for nor takes a pooled connection
    }
    if (!statementCommand(p, command)) {
      return;
    }
    waiting = p;
    kind = null;
    dispatch();
  }

  /**
   * A {@code KILL QUERY} that Halo answers without a backend connection ({@link
   * MySqlKill#answerHere}): Connector/J's {@code cancel()} and {@code setQueryTimeout} send it from
   * a new session, which must not wait behind the pool it may be cancelling a wait for.
   */
  private boolean killedHere(MySqlPacket p) {
    MySqlKill.Request k = killIn(p);
    if (k == null || !answeredHere(k, killTarget(k))) {
      return false;
    }
    p.release();
    return true;
  }

  /**
   * A client's {@code KILL CONNECTION} of this session while it held no backend connection ({@link
   * MySqlKill#answerHere}); on the session's event loop.
   */
  void killed() {
    endSession(End.KILLED, "Connection was killed");
  }

  /** The session a KILL names by its Halo id, or null. */
  private MySqlKill.Target killTarget(MySqlKill.Request k) {
    return listener.connectionIds().target(k.connectionId()).orElse(null);
  }

  /**
   * Whether Halo answers {@code k} of {@code target} itself ({@link MySqlKill#answerHere}): at
   * once, or once the target has ended (a KILL CONNECTION), the relay parked until then.
   */
  private boolean answeredHere(MySqlKill.Request k, MySqlKill.Target target) {
    final class Answer implements Runnable {
      boolean later;
      boolean done;

      @Override
      public void run() {
        done = true;
        if (later) {
          resume();
        }
      }
    }
    Answer a = new Answer();
    boolean answers = MySqlKill.answerHere(client, k, target, () -> primaryStatus, hello.user(), a);
    if (answers && !a.done) {
      a.later = true;
      park();
    }
    return answers;
  }

  /** The KILL in {@code p} (a COM_QUERY), or null; {@code p} stays the caller's. */
  private static MySqlKill.Request killIn(MySqlPacket p) {
    return MySqlKill.parseCommand(p.payload()).orElse(null);
  }

  /**
   * Looks up the statement a command names (Halo's id, never a backend's). Halo answers an unknown
   * id, a malformed packet and a full book itself, and COM_STMT_CLOSE ends here (the statement
   * stays prepared on the connections that have it, for other sessions). False when the command
   * needs nothing more now.
   */
  private boolean statementCommand(MySqlPacket p, int command) {
    ByteBuf payload = p.payload();
    waitingStatement = null;
    if (command == MySqlPackets.COM_STMT_PREPARE) {
      String why = statements.full(payload.readableBytes() - 1);
      return why == null
          || answerLocally(p, MySqlStatements.TOO_MANY_STATEMENTS, "42000", why, false);
    }
    if (command == COM_STMT_BULK_EXECUTE) {
      return answerLocally(
          p,
          MySqlError.UNKNOWN_COMMAND.code(),
          MySqlError.UNKNOWN_COMMAND.sqlState(),
          "Unknown command",
          false);
    }
    if (!MySqlStatements.namesStatement(command)) {
      return true;
    }
    long id = MySqlStatements.statementId(payload);
    if (id == MySqlStatements.LAST && !backendsIdle()) {
      inbox.addFirst(p); // "the statement prepared last" is known once the replies are in
      park();
      return false;
    }
    MySqlStatements.Statement s = id < 0 ? null : statements.find(id);
    if (command == MySqlPackets.COM_STMT_CLOSE) {
      statements.close(id);
      p.release();
      return false;
    }
    if (s == null) {
      // long data for an unknown statement is dropped, as the server drops it
      boolean silent = command == MySqlPackets.COM_STMT_SEND_LONG_DATA;
      return id < 0
          ? answerLocally(
              p, MySqlStatements.MALFORMED, "HY000", "Malformed communication packet.", silent)
          : answerLocally(
              p,
              MySqlStatements.UNKNOWN_STATEMENT,
              "HY000",
              "Unknown prepared statement handler (" + id + ") given to " + commandName(command),
              silent);
    }
    waitingStatement = s;
    return true;
  }

  private static String commandName(int command) {
    return switch (command) {
      case MySqlPackets.COM_STMT_EXECUTE -> "mysqld_stmt_execute";
      case MySqlPackets.COM_STMT_FETCH -> "mysqld_stmt_fetch";
      case MySqlPackets.COM_STMT_RESET -> "mysqld_stmt_reset";
      default -> "mysqld_stmt_send_long_data";
    };
  }

  /**
   * Answers {@code p} with an ERR without a backend (nothing when {@code silent}), after every
   * reply still owed to the client; false (the command needs nothing more).
   */
  private boolean answerLocally(
      MySqlPacket p, int code, String sqlState, String message, boolean silent) {
    if (!backendsIdle()) {
      inbox.addFirst(p); // answered in order, once the backends' replies are in
      park();
      return false;
    }
    int seq = (p.sequenceId() + p.wirePackets()) & 0xff;
    p.release();
    if (!silent) {
      client.writeAndFlush(
          MySqlPackets.frame(
              client.alloc(), seq, MySqlPackets.err(client.alloc(), code, sqlState, message)));
    }
    return false;
  }

  /** The waiting command gets {@code error} with {@code message}; the session closes. */
  private void finalError(MySqlError error, String message) {
    MySqlPacket p = waiting;
    waiting = null;
    waitingStatement = null;
    int seq = (p.sequenceId() + p.wirePackets()) & 0xff;
    p.release();
    closed();
    client
        .writeAndFlush(error.frame(client.alloc(), seq, message))
        .addListener(ChannelFutureListener.CLOSE);
  }

  @Override
  protected boolean hasPending() {
    return waiting != null;
  }

  @Override
  protected boolean holdNow() {
    if (held || ((stopping || listener.sessions().holding()) && betweenTransactions())) {
      held = true; // a switchover holds the cluster (or Halo stops): new work waits
      quietWait.check(true);
      return true;
    }
    return false;
  }

  @Override
  protected boolean holding() {
    return held || listener.sessions().holding();
  }

  @Override
  protected Backend transactionLeg() {
    boolean open =
        (primaryStatus & MySqlPackets.SERVER_STATUS_IN_TRANS) != 0
            || (primaryStatus & MySqlPackets.SERVER_STATUS_AUTOCOMMIT) == 0;
    return open ? primary : null;
  }

  /**
   * Admission counts transactions as the server does (IN_TRANS); autocommit off only steers
   * routing, so such a session takes and gives back a permit per transaction like any other.
   */
  @Override
  protected boolean inTransaction() {
    return (primaryStatus & MySqlPackets.SERVER_STATUS_IN_TRANS) != 0;
  }

  /** A pinned session never reads on the replica again: its connection goes. */
  @Override
  protected void onPinned() {
    dropIdleReplica();
  }

  @Override
  protected boolean settingsAreTransactional() {
    return false;
  }

  @Override
  protected StatementKind classify() {
    ByteBuf payload = waiting.payload();
    int command = payload.getUnsignedByte(payload.readerIndex());
    if (command == MySqlPackets.COM_QUERY) {
      int from = payload.readerIndex() + 1;
      if (plainOnPrimary(payload, from, payload.writerIndex())) {
        return StatementKind.WRITE; // by its bytes: no pin, no setting, no transaction control
      }
      StatementKind kind =
          stats.classify(
              commandText(payload),
              rules,
              (primaryStatus & MySqlPackets.SERVER_STATUS_NO_BACKSLASH_ESCAPES) != 0,
              ansiQuotes);
      waitingSetsNextTransaction =
          multiplexed
              && kind == StatementKind.WRITE
              && MySqlSessionState.setsNextTransaction(payload, from, payload.writerIndex() - from);
      return kind;
    }
    if (command == MySqlPackets.COM_INIT_DB) {
      return StatementKind.SESSION;
    }
    if (command == MySqlPackets.COM_SET_OPTION
        || command == MySqlPackets.COM_STMT_SEND_LONG_DATA
        || command == MySqlPackets.COM_STMT_FETCH
        || (command == MySqlPackets.COM_STMT_EXECUTE && MySqlStatements.opensCursor(payload))) {
      // an option changes the protocol (on the primary's connection only: a replica's, which
      // logged in with the client's first flags, would refuse the multi-statements it allows);
      // long data waits on the connection for its execute, and a cursor's rows stay on the
      // connection that opened it (a switchover cannot move either)
      return StatementKind.PIN;
    }
    return StatementKind.WRITE;
  }

  /**
   * Whether {@code lower} (a statement, stripped and lower case) only sets autocommit ({@code SET
   * [SESSION | LOCAL | @@session. | @@local. | @@]autocommit = value}), which the server status
   * follows; read without a regular expression (the event loop).
   */
  static boolean onlyAutocommit(String lower) {
    String t = lower;
    if (t.endsWith(";")) {
      t = t.substring(0, t.length() - 1).strip();
    }
    if (!t.startsWith("set") || t.length() < 4 || Character.isLetterOrDigit(t.charAt(3))) {
      return false;
    }
    t = t.substring(3).strip();
    for (String scope : new String[] {"session ", "local ", "@@session.", "@@local.", "@@"}) {
      if (t.startsWith(scope)) {
        t = t.substring(scope.length()).strip();
        break;
      }
    }
    if (!t.startsWith("autocommit")) {
      return false;
    }
    t = t.substring("autocommit".length()).strip();
    if (t.startsWith(":=")) {
      t = t.substring(2);
    } else if (t.startsWith("=")) {
      t = t.substring(1);
    } else {
      return false;
    }
    t = t.strip();
    return !t.isEmpty()
        && t.chars().allMatch(c -> Character.isLetterOrDigit(c) || c == '\'' || c == '_');
  }

  private static boolean isAscii(String kept) {
    for (int i = 0; i < kept.length(); i++) {
      if (kept.charAt(i) >= 0x80) {
        return false;
      }
    }
    return true;
  }

  private static String commandText(ByteBuf payload) {
    return payload.toString(
        payload.readerIndex() + 1, payload.readableBytes() - 1, StandardCharsets.UTF_8);
  }

  @Override
  protected void keepSetting() {
    ByteBuf payload = waiting.payload();
    int command = payload.getUnsignedByte(payload.readerIndex());
    String kept = keptText(payload, payload.readerIndex() + 1, payload.readableBytes() - 1);
    if (command == MySqlPackets.COM_INIT_DB && kept.indexOf('`') >= 0 && !isAscii(kept)) {
      pin(); // a backtick may be half of a character (Shift JIS, GBK, Big5): not to be doubled
      return;
    }
    String text =
        command == MySqlPackets.COM_INIT_DB ? "USE `" + kept.replace("`", "``") + "`" : kept;
    if (command != MySqlPackets.COM_INIT_DB) {
      String lower = text.strip().toLowerCase(Locale.ROOT);
      if (onlyAutocommit(lower)) {
        return; // followed through the server status instead: reads never replay it
      }
      if (lower.startsWith("set") && lower.contains("autocommit")) {
        pin(); // autocommit beside other settings: neither kept whole nor replayable apart
        return;
      }
    }
    if (settingsBytes + text.length() > MAX_SETTINGS_BYTES || settings.size() >= MAX_SETTINGS) {
      pin();
      return;
    }
    waitingSetting = text;
  }

  /** COM_STMT_CLOSE and COM_STMT_SEND_LONG_DATA get no reply and start nothing. */
  @Override
  protected boolean startsWork() {
    ByteBuf payload = waiting.payload();
    int command = payload.getUnsignedByte(payload.readerIndex());
    return command != MySqlPackets.COM_STMT_CLOSE
        && command != MySqlPackets.COM_STMT_SEND_LONG_DATA;
  }

  @Override
  protected void refuse(String message) {
    refuse(MySqlError.TOO_MANY_CONNECTIONS, message);
  }

  @Override
  protected void cancelled() {
    refuse(MySqlError.QUERY_INTERRUPTED, "Query execution was interrupted");
  }

  /** Answers the waiting command with {@code e} without running it; the session goes on. */
  private void refuse(MySqlError e, String message) {
    MySqlPacket p = waiting;
    if (p == null) {
      // a COM_CHANGE_USER parked at the head of the inbox for its checkout, which failed
      MySqlPacket head = inbox.peekFirst();
      if (head == null
          || head.sequenceId() != 0
          || !head.payload().isReadable()
          || head.payload().getUnsignedByte(head.payload().readerIndex())
              != MySqlPackets.COM_CHANGE_USER) {
        return;
      }
      p = inbox.pollFirst();
    }
    waiting = null;
    waitingStatement = null;
    waitingSetting = null; // it never ran
    waitingSetsNextTransaction = false;
    int seq = (p.sequenceId() + p.wirePackets()) & 0xff;
    p.release();
    client.writeAndFlush(e.frame(client.alloc(), seq, message));
  }

  private static boolean isRollback(ByteBuf payload) {
    int n = payload.readableBytes() - 1;
    return payload.getUnsignedByte(payload.readerIndex()) == MySqlPackets.COM_QUERY
        && n <= MySqlSessionState.MAX_SCAN
        && "ROLLBACK"
            .equals(MySqlSessionState.classify(payload, payload.readerIndex() + 1, n).keyword());
  }

  /**
   * Transaction mode: the backend running the session's open transaction was lost (its connection
   * died with nothing in flight: a crash, kill -9). Its next command, unless it is ROLLBACK, gets
   * ERR 1213 (40001) saying so, as the plain relay answers it; the session goes on, its next
   * connection checked out on the primary then.
   */
  @Override
  protected boolean transactionLost(Backend fresh) {
    lostOn = fresh.node().name();
    primaryStatus &= ~MySqlPackets.SERVER_STATUS_IN_TRANS;
    if (backendsIdle()) {
      gate.dropped(); // the transaction ended with its connection: its permit goes back now
    }
    return true;
  }

  /** Transaction mode: where the session's transaction was lost, until its client is told. */
  private String lostOn;

  /**
   * Transaction mode: the primary connection died while commands ran on it, before any of their
   * replies began (a kill -9 of the primary during a query). Each gets ERR 1927 saying its outcome
   * is unknown, as PostgreSQL's transaction mode answers 08007; a transaction open then is lost
   * (the next command gets 1213 once, as {@link #transactionLost} says). The session goes on, on
   * the primary its next command checks out. A reply already under way, or Halo's own request among
   * them, ends the session as before.
   */
  @Override
  protected boolean requestsLost(Backend dead) {
    if (dead.replyStarted || !dead.owesOnlyClient() || dead.owedCount() > 64) {
      return false;
    }
    boolean wasInTx = inTransaction();
    String message =
        outcomeUnknown(dead, "command")
            + (wasInTx ? ", and the open transaction was rolled back" : "");
    while (!dead.idle()) {
      Owed o = answered(dead);
      if (o.tag() instanceof Preparing what) {
        statements.answered(what.text().length());
        statements.prepareFailed();
      }
      client.write(MySqlError.BACKEND_LOST.frame(client.alloc(), 1, message));
    }
    client.flush();
    if (wasInTx) {
      transactionLost(dead);
    }
    if (gate.open() && !inTransaction()) {
      gate.end();
    }
    quietWait.check(quiescent()); // a switchover may be waiting for this session to be idle
    return true;
  }

  @Override
  protected void send(Backend b) {
    MySqlPacket p = waiting;
    waiting = null;
    while (b.settingsApplied < settings.size()) {
      String s = settings.get(b.settingsApplied++);
      replaySetting(
          b,
          s,
          r -> {
            if (r.error() != null) {
              log.info(
                  "[{}] replaying \"{}\" on {} failed: {}",
                  listener.name(),
                  shown(s),
                  b,
                  r.error());
            }
          });
    }
    if (waitingStatement != null) {
      p = statementOn(b, p);
      if (p == null) {
        return; // prepared there first: sent once that is done
      }
    }
    ByteBuf payload = p.payload();
    int command = payload.getUnsignedByte(payload.readerIndex());
    if (command == MySqlPackets.COM_QUERY && kill(p)) {
      return;
    }
    if (command != MySqlPackets.COM_STMT_SEND_LONG_DATA && command != MySqlPackets.COM_STMT_CLOSE) {
      Owed o = Owed.client();
      if (command == MySqlPackets.COM_STMT_PREPARE) {
        Preparing what =
            new Preparing(MySqlStatements.text(payload), appliedSettings(settings.size()));
        statements.preparing(what.text().length());
        o.tag(what);
      }
      if (waitingSetsNextTransaction) {
        o.tag(SETS_NEXT_TRANSACTION);
      }
      if (waitingSetting != null) {
        if (b.isPrimary()) {
          o.setting(waitingSetting);
        } else {
          pin(); // not a plain setting on the primary after all
        }
      }
      b.owe(o);
    }
    waitingSetting = null;
    waitingSetsNextTransaction = false;
    if (command == MySqlPackets.COM_RESET_CONNECTION) {
      ansiQuotes = false;
      nextTransaction = false; // the server forgets the next transaction's characteristics too
      settings.clear();
      settingsBytes = 0;
      settingsSnapshot = null;
      primary.settingsApplied = 0;
      dropIdleReplica();
      statements.clear(); // the server deallocates the connection's statements
      b.channel().attr(MySqlStatements.ON_CONNECTION).set(null);
    }
    last = b;
    killTarget.accept(b.node(), b.threadId);
    sent(b, p.payload());
    write(b.channel(), p);
    b.channel().flush();
  }

  /**
   * A KILL naming a Halo connection id, sent to the backend that runs that session, if it is ours.
   */
  private boolean kill(MySqlPacket p) {
    MySqlKill.Request request = killIn(p);
    if (request == null) {
      return false;
    }
    p.release();
    var target = killTarget(request);
    if (answeredHere(request, target)) {
      return true;
    }
    String on = target == null ? null : target.backendName();
    Backend leg =
        on == null
            ? null
            : on.equals(primary.node().name())
                ? primary
                : replica != null && on.equals(replica.node().name()) ? replica : null;
    if (leg == null || leg.channel() == null) {
      client.writeAndFlush(
          MySqlKill.unknownThread(
              client.alloc(),
              request.connectionId(),
              target == null ? "" : " (it runs on a backend this session has no connection to)"));
      return true;
    }
    MySqlKill.interruptAlso(request, target);
    leg.owe(Owed.client());
    last = leg;
    ByteBuf rewritten = MySqlKill.rewrite(client.alloc(), request, target.backendThreadId());
    sent(leg, rewritten.slice(rewritten.readerIndex() + 4, rewritten.readableBytes() - 4));
    leg.channel().writeAndFlush(rewritten);
    return true;
  }

  /** A client's PREPARE in flight: its text and the settings it is prepared under. */
  private record Preparing(String text, List<String> settings) {}

  /** Halo's own PREPARE of a statement on a connection that lacks it: what the server answered. */
  private static final class Reprepare {
    long id = -1;
    byte[] error;

    void first(ByteBuf payload) {
      if (MySqlStatements.preparedParams(payload) >= 0) {
        id = payload.getUnsignedIntLE(payload.readerIndex() + 1);
      } else if (payload.isReadable() && payload.getUnsignedByte(payload.readerIndex()) == 0xff) {
        error = io.netty.buffer.ByteBufUtil.getBytes(payload);
      }
    }
  }

  /**
   * The waiting command, naming {@link #waitingStatement}, for {@code b}: the statement's id there
   * (and the session's parameter types where the server would use another's); null when {@code b}
   * lacks the statement: it is prepared there first, and the command waits for that.
   */
  private MySqlPacket statementOn(Backend b, MySqlPacket p) {
    MySqlStatements.Statement s = waitingStatement;
    MySqlStatements.Key key = s.key(appliedSettings(settings.size()));
    MySqlStatements.OnConnection here = b.channel().attr(MySqlStatements.ON_CONNECTION).get();
    // as prepared first (a USE since then does not change it, as on one server connection), else
    // as it would be prepared now
    MySqlStatements.OnBackend on = here == null ? null : here.get(s.origin);
    if (on == null && here != null) {
      on = here.get(key);
    }
    if (on == null) {
      waiting = p;
      park();
      reprepare(b, key);
      return null;
    }
    waitingStatement = null;
    ByteBuf payload = p.payload();
    if (payload.getUnsignedByte(payload.readerIndex()) == MySqlPackets.COM_STMT_EXECUTE
        && s.params > 0) {
      int flagAt = MySqlStatements.boundFlagAt(payload, s.params);
      int flag = flagAt < 0 ? -1 : payload.getUnsignedByte(payload.readerIndex() + flagAt);
      byte[] bound = flag == 1 ? MySqlStatements.boundTypes(payload, flagAt, s.params) : null;
      if (bound != null) {
        s.types = MySqlStatements.sameTypes(s.types, bound) ? s.types : bound;
        on.boundTypes = s.types;
      } else if (flag != 0) {
        // truncated, or a flag other than 0 and 1 (MariaDB 11.4 answers 1835; a server that read
        // types after it would keep them): what the server keeps is unknown, so the next execute
        // sends types
        on.boundTypes = null;
      } else if (s.types != null
          && !MySqlStatements.sameTypes(on.boundTypes, s.types)
          && (payload.readableBytes() + s.types.length) / MySqlPacket.MAX_WIRE_PAYLOAD
              == payload.readableBytes() / MySqlPacket.MAX_WIRE_PAYLOAD) {
        // (not when the types would add a wire packet: the reply's sequence ids would shift; the
        // server then reads this session's own values with the types it has)
        // the server would take the types another execute of this statement bound there
        ByteBuf typed = MySqlStatements.withTypes(client.alloc(), payload, flagAt, s.types);
        MySqlStatements.statementId(typed, on.id);
        on.boundTypes = s.types;
        MySqlPacket q = new MySqlPacket(p.sequenceId(), typed, p.wirePackets());
        p.release();
        return q;
      }
    }
    MySqlStatements.statementId(payload, on.id);
    return p;
  }

  /** Prepares {@link #waitingStatement} on {@code b}, hidden; the waiting command resumes after. */
  private void reprepare(Backend b, MySqlStatements.Key key) {
    ByteBuf wire = MySqlStatements.prepare(client.alloc(), key.text());
    sent(b, wire.slice(wire.readerIndex() + 4, wire.readableBytes() - 4));
    Reprepare r = new Reprepare();
    hiddenRequest(b, wire, "COM_STMT_PREPARE", done -> reprepared(b, key, r)).tag(r);
  }

  private void reprepared(Backend b, MySqlStatements.Key key, Reprepare r) {
    if (closed || b.channel() == null) {
      return;
    }
    if (r.id >= 0) {
      remember(b, key, r.id); // the answer's end resumes the waiting command
      return;
    }
    // it cannot be prepared there (its table is gone, ...): the waiting command gets the error
    MySqlPacket w = waiting;
    waiting = null;
    waitingStatement = null;
    if (w == null) {
      return;
    }
    ByteBuf payload = w.payload();
    boolean silent =
        payload.getUnsignedByte(payload.readerIndex()) == MySqlPackets.COM_STMT_SEND_LONG_DATA;
    int seq = (w.sequenceId() + w.wirePackets()) & 0xff;
    w.release();
    if (!silent) {
      client.writeAndFlush(
          MySqlPackets.frame(
              client.alloc(),
              seq,
              r.error != null
                  ? io.netty.buffer.Unpooled.wrappedBuffer(r.error)
                  : MySqlPackets.err(
                      client.alloc(),
                      MySqlStatements.UNKNOWN_STATEMENT,
                      "HY000",
                      "Halo: the statement could not be prepared again on " + b.node().name())));
    }
    if (gate.open() && backendsIdle() && !inTransaction()) {
      gate.end();
    }
  }

  /**
   * Notes {@code id} prepared on {@code b} as {@code key}; what it replaces or evicts is closed.
   */
  private void remember(Backend b, MySqlStatements.Key key, long id) {
    MySqlStatements.OnConnection here = b.channel().attr(MySqlStatements.ON_CONNECTION).get();
    if (here == null) {
      here = new MySqlStatements.OnConnection();
      b.channel().attr(MySqlStatements.ON_CONNECTION).set(here);
    }
    for (long old : here.put(key, id, listener.listener().pool().maxPreparedStatements())) {
      ByteBuf close = MySqlStatements.close(client.alloc(), old);
      sent(b, close.slice(close.readerIndex() + 4, close.readableBytes() - 4));
      b.channel().writeAndFlush(close, b.channel().voidPromise());
    }
  }

  /** A client's PREPARE answered: Halo's id for it replaces the backend's in the OK. */
  private void prepared(Backend b, Preparing what, ByteBuf ok) {
    statements.answered(what.text().length());
    int params = MySqlStatements.preparedParams(ok);
    if (params < 0) {
      statements.prepareFailed();
      return;
    }
    long backendId = ok.getUnsignedIntLE(ok.readerIndex() + 1);
    MySqlStatements.Statement s = new MySqlStatements.Statement(what.text(), params);
    long id = statements.add(s);
    s.origin = s.key(what.settings());
    remember(b, s.origin, backendId);
    MySqlStatements.statementId(ok, id);
  }

  @Override
  protected ByteBuf encodeQuery(Backend b, byte[] text) {
    ByteBuf q = client.alloc().buffer(5 + text.length);
    q.writeMediumLE(1 + text.length)
        .writeByte(0)
        .writeByte(MySqlPackets.COM_QUERY)
        .writeBytes(text);
    sent(b, q.slice(q.readerIndex() + 4, q.readableBytes() - 4));
    return q;
  }

  // ------------------------------------------------------------------ connections

  @Override
  protected Backend newLeg(boolean isPrimary, BackendNode node) {
    return new Backend(isPrimary, node);
  }

  @Override
  @SuppressWarnings("ReferenceEquality") // the login the key was made from, not an equal one
  protected Future<MySqlBackendConnection> open(Backend b) {
    var u = credentials.user();
    java.util.function.Supplier<Future<MySqlBackendConnection>> login =
        () ->
            MySqlBackendConnector.connect(
                client.eventLoop(),
                listener.transports(),
                b.node(),
                u.backendUser(),
                u.backendPassword(),
                hello,
                capabilities,
                listener.server().backendConnectTimeout(),
                listener.server().maxMessageSize());
    if (!multiplexed) {
      return login.get();
    }
    int role = b.isPrimary() ? 0 : 1;
    MySqlPool.Key known = poolKeys[role];
    if (known == null
        || poolKeyHellos[role] != hello
        || !known.backend().equals(b.node().name())
        || !known.user().equals(u.backendUser())) {
      known = MySqlSession.poolKey(b.node(), u.backendUser(), hello);
      poolKeys[role] = known;
      poolKeyHellos[role] = hello;
    }
    MySqlPool.Key key = known;
    io.netty.util.concurrent.Promise<MySqlBackendConnection> p = client.eventLoop().newPromise();
    listener
        .pool()
        .checkout(client.eventLoop(), key, login, previousConnection(b), poolPlace(b))
        .addListener(
            (Future<MySqlBackendConnection> f) -> {
              if (!f.isSuccess()) {
                p.tryFailure(f.cause());
                return;
              }
              MySqlBackendConnection c = f.getNow();
              List<String> applied = c.channel().attr(APPLIED).get();
              if (applied == null || startsWith(settings, applied)) {
                p.trySuccess(c); // attach() counts what is applied; the rest is replayed
                return;
              }
              // another session's settings: back to the login's state before this one's
              listener
                  .pool()
                  .reset(
                      c,
                      key,
                      reset -> {
                        if (reset == null) {
                          c.channel().close();
                          p.tryFailure(
                              new java.io.IOException(
                                  "a pooled connection to "
                                      + b.node().name()
                                      + " failed its reset"));
                        } else {
                          c.channel().attr(APPLIED).set(null);
                          p.trySuccess(reset);
                        }
                      });
            });
    return p;
  }

  /**
   * Transaction mode: the settings a session left on a pooled connection, in order (null: none).
   * The next session whose own settings begin with them takes the connection as it is; any other
   * gets it reset first. So sessions whose drivers run the same settings at login (Connector/J's
   * {@code SET character_set_results}, ...) share connections without a reset or a replay per
   * transaction.
   */
  private static final io.netty.util.AttributeKey<List<String>> APPLIED =
      io.netty.util.AttributeKey.valueOf("halo.mysql.pool.applied");

  /**
   * The first {@code n} settings as an immutable list (null for none), shared by every connection
   * given back with the same ones: copied once per change of the settings, not per transaction.
   */
  private List<String> appliedSettings(int n) {
    if (n == 0) {
      return null;
    }
    if (settingsSnapshot == null || settingsSnapshot.size() != n) {
      settingsSnapshot = List.copyOf(settings.subList(0, n));
    }
    return settingsSnapshot;
  }

  /**
   * The session's settings may have turned on {@code ANSI_QUOTES}, which no reply reports: its
   * statements are then read that way too where it matters ({@code StatementClassifier}).
   */
  private boolean ansiQuotes;

  /**
   * Whether a setting may turn on {@code ANSI_QUOTES}: it names a mode that includes it ({@code
   * ANSI}, {@code ANSI_QUOTES}, and MariaDB's {@code ORACLE}, {@code MSSQL}, {@code DB2}, {@code
   * POSTGRESQL}, {@code MAXDB}), or sets {@code sql_mode} from anything but string literals ({@code
   * = DEFAULT}, {@code @@GLOBAL.sql_mode}, {@code CONCAT(...)}), whose modes Halo does not know.
   */
  static boolean mayTurnOnAnsiQuotes(String setting) {
    if (io.halo.routing.split.StatementClassifier.namesAnsiMode(setting)) {
      return true;
    }
    String lower = setting.toLowerCase(Locale.ROOT);
    return lower.contains("sql_mode")
        && (lower.contains("@@") || lower.contains("default") || lower.contains("("));
  }

  /**
   * A setting run again drops its earlier place (Spring toggles {@code SET SESSION TRANSACTION READ
   * ONLY} and {@code READ WRITE} around every read-only transaction: kept each time, they would
   * reach {@link #MAX_SETTINGS} and pin the session). Exact when the setting names no variable
   * ({@code @}: it may read what it sets) and the settings after its earlier place are ASCII (a
   * {@code SET NAMES} moved past one would read its literal in another character set). A connection
   * that had applied past that place replays from there.
   */
  private void dropEarlier(String setting) {
    if (setting.indexOf('@') >= 0) {
      return;
    }
    int i = settings.lastIndexOf(setting);
    if (i < 0) {
      return;
    }
    for (int k = i + 1; k < settings.size(); k++) {
      if (!isAscii(settings.get(k))) {
        return;
      }
    }
    settings.remove(i);
    settingsBytes -= setting.length();
    for (Backend leg : new Backend[] {primary, replica}) {
      if (leg != null && leg.settingsApplied > i) {
        leg.settingsApplied = i;
      }
    }
  }

  /** The last {@link #appliedSettings} copy; dropped whenever {@link #settings} changes. */
  private List<String> settingsSnapshot;

  private static boolean startsWith(List<String> all, List<String> head) {
    return head.size() <= all.size() && all.subList(0, head.size()).equals(head);
  }

  @Override
  protected void checkin(Channel channel) {
    if (channel.pipeline().get(FRAMES) instanceof MySqlPacketDecoder frames) {
      frames.passthrough(null); // the next owner (or the pool's own check) frames every packet
    }
    listener.pool().checkin(channel);
  }

  /**
   * Transaction mode: the connection goes back to the pool with its decoder (between transactions
   * it holds no partial packet: no pipeline change per transaction; the pool's own exchanges read
   * packets) and with the settings the session left on it.
   */
  @Override
  protected void giveBack(Backend b, Channel channel) {
    List<String> applied = appliedSettings(b.settingsApplied);
    if (applied != null
        && (hello.database() == null || hello.database().isEmpty())
        && applied.stream().anyMatch(t -> "USE".equals(MySqlSessionState.classify(t).keyword()))) {
      quit(channel); // it chose a database: no reset returns a connection to none
      return;
    }
    channel.attr(APPLIED).set(applied);
    checkin(channel);
  }

  @Override
  protected long idleTransactionNanos() {
    return listener.pool().idleTransactionNanos();
  }

  /** In a transaction, or holding the connection for a one-shot {@code SET TRANSACTION}'s. */
  @Override
  protected boolean holdsIdleTransaction() {
    return inTransaction() || nextTransaction;
  }

  /**
   * Autocommit off: every statement opens a transaction, so the connection stays until it is on.
   * After a statement that made an AUTO_INCREMENT value: until the next statement has run.
   */
  @Override
  protected boolean keepsConnections() {
    return (primaryStatus & MySqlPackets.SERVER_STATUS_AUTOCOMMIT) == 0
        || keptForNextStatement
        || nextTransaction;
  }

  @Override
  protected void released() {
    killTarget.accept(primary.node(), 0L); // no backend thread runs for the session now
  }

  @Override
  protected String refusalOf(Throwable cause) {
    return cause instanceof io.halo.proxy.session.TransactionPool.WaitTimeout
        ? cause.getMessage()
        : null;
  }

  @Override
  protected Duration holdTimeout() {
    return listener.holdTimeout();
  }

  private static final String FRAMES = "frames";

  @Override
  protected Channel channelOf(MySqlBackendConnection c) {
    return c.channel();
  }

  @Override
  protected void attach(Backend b, MySqlBackendConnection c) {
    b.tracker =
        new MySqlResponseTracker(deprecateEof, c.status(), listener.server().maxMessageSize());
    b.tracker.listener(
        new MySqlResponseTracker.Listener() {
          @Override
          public void responseComplete(int command, boolean error, int status) {
            b.replyDone = true;
            b.replyError = error;
            b.replyStatus = status;
            b.replyInsertId = b.tracker.insertId();
            b.replyWarnings = b.tracker.warnings();
            b.replyCommand = command;
          }
        });
    b.threadId = c.threadId();
    List<String> applied = c.channel().attr(APPLIED).get();
    // open() made them a prefix of the session's own (start() takes no other)
    b.settingsApplied = applied != null && startsWith(settings, applied) ? applied.size() : 0;
    io.netty.channel.ChannelPipeline pipeline = c.channel().pipeline();
    // a pooled connection kept its decoder from an earlier transaction
    MySqlPacketDecoder frames = (MySqlPacketDecoder) pipeline.get(FRAMES);
    if (frames == null) {
      frames = new MySqlPacketDecoder(listener.server().maxMessageSize());
      if (pipeline.get("split") != null) {
        pipeline.addBefore(
            "split", FRAMES, frames); // a pooled connection keeps the session's place
      } else {
        pipeline.addLast(FRAMES, frames);
      }
    }
    frames.passthrough(b);
  }

  @Override
  protected void primaryAttached(Backend b, MySqlBackendConnection c) {
    if ((primaryStatus & MySqlPackets.SERVER_STATUS_AUTOCOMMIT) == 0) {
      // the status flags followed it, not the settings
      hiddenQuery(b, "SET autocommit=0", r -> {});
    }
  }

  // ------------------------------------------------------------------ backend side

  @Override
  protected void backendRead(Backend b, Object msg) {
    MySqlPacket p = (MySqlPacket) msg;
    if (p.isRun()) {
      write(client, p); // packets that Backend.passes: followed there, only forwarded here
      return;
    }
    Owed r = b.next();
    if (r == null) {
      p.release(); // nothing is owed: a stray packet (servers send none unprompted)
      return;
    }
    ByteBuf payload = p.payload();
    if (b.fedAhead) {
      b.fedAhead = false;
    } else {
      b.replyDone = false;
      b.tracker.serverPacket(
          Math.min(payload.readableBytes(), MySqlPacket.MAX_WIRE_PAYLOAD),
          payload,
          payload.readerIndex(),
          Math.min(payload.readableBytes(), MySqlResponseTracker.HEAD));
    }
    if (r.isHidden()) {
      if (r.tag() instanceof Reprepare rp) {
        if (r.nextPacket() == 0) {
          rp.first(payload);
        }
      } else {
        observe(r, payload);
      }
      p.release();
    } else {
      if (r.tag() instanceof Preparing what && r.nextPacket() == 0) {
        prepared(b, what, payload);
      }
      write(client, p);
      b.replyStarted = !b.replyDone;
    }
    if (!b.replyDone) {
      return;
    }
    answered(b);
    if (!r.isHidden()) {
      if (b.isPrimary() && b.replyStatus >= 0) {
        primaryStatus = b.replyStatus;
      }
      if (multiplexed
          && (b.replyCommand == MySqlPackets.COM_QUERY
              || b.replyCommand == MySqlPackets.COM_STMT_EXECUTE)) {
        // LAST_INSERT_ID() is the connection's: after a statement that made an AUTO_INCREMENT
        // value, the connection stays for the next statement, wherever that one runs (INSERT,
        // then SELECT LAST_INSERT_ID()); a PREPARE or a ping in between changes nothing. So are
        // the statement's warnings (Connector/J's getWarnings() sends SHOW WARNINGS next).
        keepForNextStatement(b.isPrimary() && (b.replyInsertId || b.replyWarnings));
        if (r.tag() == SETS_NEXT_TRANSACTION) {
          nextTransaction = b.isPrimary() && !b.replyError;
        } else if (b.isPrimary() && !inTransaction()) {
          nextTransaction = false; // the transaction it was for has ended (or was one statement)
        }
      }
      if (r.setting() != null && !b.replyError) {
        ansiQuotes |= mayTurnOnAnsiQuotes(r.setting());
        dropEarlier(r.setting());
        settings.add(r.setting());
        settingsSnapshot = null;
        settingsBytes += r.setting().length();
        b.settingsApplied = settings.size();
      }
      if (gate.open() && backendsIdle() && !inTransaction()) {
        gate.end();
      }
    }
    replied(b);
    quietWait.check(quiescent());
  }

  /**
   * What Halo's own one-column queries answered: the first row's value (the row is the third packet
   * with CLIENT_DEPRECATE_EOF, the fourth without), or the error.
   */
  private void observe(Owed r, ByteBuf p) {
    int first = p.isReadable() ? p.getUnsignedByte(p.readerIndex()) : -1;
    int index = r.nextPacket();
    if (first == 0xff) {
      int skip = p.readableBytes() > 9 && p.getByte(p.readerIndex() + 3) == '#' ? 9 : 3;
      r.error(
          p.toString(
              p.readerIndex() + skip,
              Math.max(0, p.readableBytes() - skip),
              StandardCharsets.UTF_8));
    } else if (index == (deprecateEof ? 2 : 3)
        && r.value() == null
        && !(first == 0xfe && p.readableBytes() < 9)) {
      if (first == 0xfb) {
        r.value("");
      } else {
        ByteBuf copy = p.duplicate();
        long len = MySqlPackets.readLenenc(copy);
        r.value(copy.toString(copy.readerIndex(), (int) len, StandardCharsets.UTF_8));
      }
    }
  }

  /** Tells {@code b}'s tracker about a packet sent to it. */
  private static void sent(Backend b, ByteBuf payload) {
    b.tracker.clientPacket(
        Math.min(payload.readableBytes(), MySqlPacket.MAX_WIRE_PAYLOAD),
        payload,
        payload.readerIndex(),
        Math.min(payload.readableBytes(), MySqlResponseTracker.HEAD));
  }

  /** Nothing in flight on either backend and no transaction open on the primary. */
  private boolean betweenTransactions() {
    return backendsIdle() && !inTransaction();
  }

  private boolean quiescent() {
    return closed || ending || held || betweenTransactions();
  }

  // ------------------------------------------------------------------ COM_CHANGE_USER

  @Override
  public HandshakeResponse hello() {
    return hello;
  }

  @Override
  public MySqlListenerContext listener() {
    return listener;
  }

  @Override
  public byte[] scramble() {
    return scramble;
  }

  @Override
  public BackendNode node() {
    return primary.node();
  }

  @Override
  public void busy(boolean on) {
    parked = on; // the relay reads nothing itself while Halo talks to the client
    if (!on) {
      drain();
    }
  }

  @Override
  public void changedUser(
      io.halo.proxy.mysql.auth.MySqlCredentials.Entry entry, HandshakeResponse next) {
    this.hello = next;
    this.credentials = entry;
    userChanged.accept(next.user());
  }

  /** Told the session's user after a COM_CHANGE_USER (a KILL's owner check asks it). */
  private java.util.function.Consumer<String> userChanged = u -> {};

  void onUserChange(java.util.function.Consumer<String> listener) {
    userChanged = listener;
  }

  /**
   * The client is another user now, on {@code conn} (a fresh server session on the primary): the
   * old connections go, and with them every setting, pin and prepared statement, as on the server.
   */
  @Override
  public void rebind(MySqlBackendConnection conn, int status) {
    if (closed || !client.isActive()) {
      conn.channel().close();
      return;
    }
    settings.clear();
    settingsBytes = 0;
    settingsSnapshot = null;
    waitingSetting = null;
    statements.clear();
    restart(
        new Backend(true, conn.node()),
        conn,
        listener.admission().transactionGate(hello.user()),
        request(hello, client));
    primaryStatus = status;
    killTarget.accept(conn.node(), primary.threadId);
    drain();
  }

  // ------------------------------------------------------------------ switchover (Holdable)

  /** The primary's name (any thread: the admin view counts sessions per backend). */
  @Override
  public String backendName() {
    return primaryName;
  }

  @Override
  public io.netty.channel.EventLoop eventLoop() {
    return client.eventLoop();
  }

  @Override
  public void awaitQuiescence(Runnable quiescent) {
    quietWait.await(quiescent(), quiescent);
  }

  @Override
  public void holdForShutdown() {
    stopping = true;
  }

  @Override
  public void awaitIdle(Runnable idle) {
    quietWait.awaitIdle(quiescent(), idle); // (which already counts reads in flight)
  }

  @Override
  public boolean idle() {
    return quiescent();
  }

  @Override
  public void endForShutdown() {
    if (closed || ending) {
      return; // ended, or doomed: its client hears of it on its next command or is closed
    }
    endSession(End.SHUTDOWN, io.halo.proxy.session.ShutdownDrain.MESSAGE);
  }

  @Override
  public void prepareRelease(BackendNode next) {
    quietWait.cancel();
    if (closed || next == null || next.name().equals(primary.node().name())) {
      return;
    }
    String why = unmovable("user variables, locks, temporary tables");
    if (why != null) {
      listener.rejections().count("switchover_unmovable");
      log.info(
          "[{}] switchover to {}: ending a split session of {} ({})",
          listener.name(),
          next.name(),
          hello.user(),
          why);
      endSession(
          End.SWITCHOVER,
          "switchover to "
              + next.name()
              + ": this session cannot be moved: "
              + why
              + "; reconnect");
      return;
    }
    listener.router().sessionEnded(primaryName);
    movePrimary(next); // connected before the next command, every setting replayed
    primaryName = next.name();
    listener.router().sessionStarted(primaryName);
  }

  @Override
  public void finishRelease() {
    quietWait.cancel();
    if (held && !closed) {
      held = false;
      resume();
    }
  }

  /**
   * A failover (not a switchover) replaced or fenced the primary: an idle session leaves it and
   * follows the next primary, any other closes. Event loop.
   */
  @Override
  public void onTopology(io.halo.health.state.Topology t, String cluster) {
    if (closed || unbound()) {
      return; // transaction pooling, between transactions: the next one checks out the primary
    }
    String why =
        io.halo.proxy.session.SessionVerdicts.endReason(t, cluster, primary.node().name(), true);
    if (why == null && replica != null && replica.channel() != null) {
      boolean fenced =
          t.backend(replica.node().name())
              .map(b -> b.state() == io.halo.health.state.NodeState.FENCED)
              .orElse(false);
      if (fenced && replica.idle()) {
        quit(replica.channel());
        replica = null;
      }
    }
    if (why != null && keptForNextStatement) {
      keptForNextStatement = false; // the value stays with the old primary's connection
      releaseIfIdle();
      if (unbound()) {
        return;
      }
    }
    if (why != null && leavePrimary()) {
      return; // idle: it follows the next primary on its next command
    }
    if (why != null) {
      log.info("[{}] ending a split session of {}: {}", cluster, hello.user(), why);
      endSession(End.SWITCHOVER, why);
    }
  }

  /**
   * Ends the session from Halo's side: a waiting command gets ERR 1053 now; an idle session's next
   * command gets it (a client not reading would not see an unsolicited packet); a session in the
   * middle of a reply is closed. A backend that closed the connection is ERR 1927 instead: for the
   * waiting command, for an idle session's next command, or sent at once in the middle of a reply.
   */
  @Override
  protected void primaryMoved(io.halo.health.state.BackendNode node) {
    listener.router().sessionEnded(primaryName);
    primaryName = node.name();
    listener.router().sessionStarted(primaryName);
  }

  @Override
  protected io.halo.proxy.session.ClusterSessions sessions() {
    return listener.sessions();
  }

  @Override
  protected void endSession(End why, String message) {
    if (closed) {
      return;
    }
    if (why == End.KILLED) {
      // as the server ends a killed connection: a command in flight gets ERR 1927, then it closes
      if (waiting != null) {
        finalError(MySqlError.BACKEND_LOST, message);
      } else {
        end();
      }
      return;
    }
    if (why == End.BACKEND_LOST && waiting != null) {
      finalError(MySqlError.BACKEND_LOST, message); // a command waiting for the verdict gets it
      return;
    }
    if (why == End.BACKEND_LOST && backendsIdle()) {
      // an idle client would not read an unsolicited packet: its next command gets the ERR
      doomedAs = MySqlError.BACKEND_LOST;
      doom(message);
      return;
    }
    if (why == End.BACKEND_LOST) {
      closed();
      if (client.isActive()) {
        client
            .writeAndFlush(MySqlError.BACKEND_LOST.frame(client.alloc(), 1, message))
            .addListener(ChannelFutureListener.CLOSE);
      }
      return;
    }
    if (why == End.IDLE_TRANSACTION) {
      doomedAs = MySqlError.IDLE_TRANSACTION_TIMEOUT;
    }
    if (waiting != null) {
      finalError(MySqlError.SESSION_ENDED, message);
    } else if (backendsIdle()) {
      doom(message);
    } else {
      end();
    }
  }

  /** An idle session ends: its next command gets {@code message}, or it closes after a while. */
  private void doom(String message) {
    closeBackends();
    gate.abandon(); // it holds no backend now: its transaction permit goes back at once
    ending = true;
    doomed = message;
    held = false;
    parked = false;
    quietWait.check(true); // it sends nothing more to a backend
    client.config().setAutoRead(true);
    client
        .eventLoop()
        .schedule(() -> client.close(), listener.holdTimeout().toMillis(), TimeUnit.MILLISECONDS);
  }

  @Override
  protected void releaseBuffered() {
    waitingStatement = null;
    if (waiting != null) {
      waiting.release();
      waiting = null;
    }
    quietWait.check(true); // the session is over: a switchover or a stopping Halo need not wait
  }

  @Override
  protected Object who() {
    return hello.user();
  }

  /** Writes a logical packet as wire packets (split at 16 MB, trailing empty one when needed). */
  private static void write(Channel to, MySqlPacket p) {
    ByteBuf payload = p.payload();
    int seq = p.sequenceId();
    ByteBuf wire = p.takeWire();
    if (wire != null) {
      to.write(wire, to.voidPromise());
      return;
    }
    int offset = payload.readerIndex();
    int end = payload.writerIndex();
    while (true) {
      int n = Math.min(MySqlPacket.MAX_WIRE_PAYLOAD, end - offset);
      ByteBuf header = to.alloc().buffer(4);
      header.writeMediumLE(n).writeByte(seq);
      to.write(header, to.voidPromise());
      to.write(payload.retainedSlice(offset, n), to.voidPromise());
      offset += n;
      seq = (seq + 1) & 0xff;
      if (n < MySqlPacket.MAX_WIRE_PAYLOAD) {
        break;
      }
    }
    p.release();
  }
}

package io.halo.proxy.mysql;

import io.halo.health.state.BackendNode;
import io.halo.proxy.mysql.packet.HandshakeResponse;
import io.halo.proxy.mysql.packet.MySqlPacket;
import io.halo.proxy.mysql.packet.MySqlPacketDecoder;
import io.halo.proxy.mysql.packet.MySqlPackets;
import io.halo.proxy.mysql.packet.MySqlResponseTracker;
import io.halo.proxy.session.SplitChannels;
import io.halo.proxy.session.SplitContext;
import io.halo.routing.RouteRequest;
import io.halo.routing.RouteResult;
import io.halo.routing.split.StatementKind;
import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.DecoderException;
import io.netty.util.concurrent.Future;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;
import java.util.function.BiConsumer;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The relay of a MySQL {@code route: split} session: one client, its primary connection and, once
 * it reads, one replica connection; each command is routed on its own.
 *
 * <p>Design memo (the PostgreSQL split relay's, adapted).
 *
 * <ul>
 *   <li><b>Routing.</b> A MySqlPackets.COM_QUERY that the classifier calls a read goes to the
 *       replica when the session is outside a transaction (server status of the primary's last
 *       reply: not IN_TRANS, autocommit on). Everything else goes to the primary, including every
 *       prepared statement command (COM_STMT_*), so a statement always executes where it was
 *       prepared. Session settings ({@code SET NAMES}, {@code SET SESSION}, {@code USE},
 *       MySqlPackets.COM_INIT_DB) run on the primary and are replayed on the replica; user
 *       variables, table locks, temporary tables and named locks pin the session to the primary.
 *   <li><b>Replies.</b> Each backend keeps a FIFO of the commands it owes a reply (the client's, or
 *       Halo's own), and the session relay's {@link MySqlResponseTracker}, fed each packet, says
 *       where a reply ends and what the final status flags are. Replies pass through with their
 *       sequence ids, which the backend numbered from the client's own command; Halo's hidden
 *       commands are consumed.
 *   <li><b>Order.</b> A command for the other backend waits until the previous one has replied.
 *   <li><b>Read-your-writes (MariaDB).</b> After a write, the next read asks the primary for the
 *       session's {@code @@last_gtid} and runs {@code MASTER_GTID_WAIT(gtid, wait)} on the replica:
 *       0 sends the read there, -1 (not replayed within {@code read_your_writes_wait}) sends it to
 *       the primary. MySQL 8 would use {@code WAIT_FOR_EXECUTED_GTID_SET} with
 *       {@code @@global.gtid_executed}; not tested here (no MySQL 8 server).
 * </ul>
 *
 * <p>Switchover: like a plain session, the relay answers the gate's quiescence question on its loop
 * and, while the cluster holds, keeps a command that would start new work unsent. At release its
 * primary connection is replaced by one to the new primary, opened before the next command, with
 * the session's settings replayed (and autocommit off when it was off). A session pinned to the old
 * primary, inside a transaction or with prepared statements open there cannot move: its next
 * command gets ERR 1053 naming the reason.
 *
 * <p>MySqlPackets.COM_CHANGE_USER is refused with ER_NOT_SUPPORTED_YET on split listeners
 * (reconnect instead). Everything runs on the client's event loop; the client is not read while a
 * command waits.
 */
final class MySqlSplitRelay implements io.halo.proxy.session.RelayedSession {

  private static final Logger log = LoggerFactory.getLogger(MySqlSplitRelay.class);
  private static final int MAX_SETTINGS_BYTES = 64 * 1024;
  private static final long REPLICA_RETRY_NANOS = TimeUnit.SECONDS.toNanos(1);

  private final MySqlListenerContext listener;
  private final Channel client;
  private final HandshakeResponse hello;
  private final int capabilities;
  private final boolean deprecateEof;
  private final SplitContext stats;
  private final BiConsumer<io.halo.health.state.BackendNode, Long> killTarget;
  private final boolean readYourWrites;
  private final double waitSeconds;

  /** The listener's routing rules that apply to this session (per statement). */
  private final io.halo.routing.rules.SessionRules rules;

  /** Transaction admission ({@code throttle.max_transactions}, the user's transaction rate). */
  private final io.halo.proxy.session.TransactionGate gate;

  private Backend primary;
  private Backend replica;
  private long replicaRetryAt;
  private final ArrayDeque<MySqlPacket> inbox = new ArrayDeque<>();
  private MySqlPacket waiting;
  private StatementKind waitingKind;
  private Backend last;
  private boolean parked;
  private boolean pinned;
  private boolean dirty;
  private String needGtid;
  private boolean primaryOnce;
  private int primaryStatus = MySqlPackets.SERVER_STATUS_AUTOCOMMIT;
  private final List<String> settings = new ArrayList<>();
  private int settingsBytes;
  private boolean closed;

  /** A switchover waiting for this session to be quiescent. */
  private final io.halo.proxy.session.QuiescenceWait quietWait =
      new io.halo.proxy.session.QuiescenceWait();

  /** A switchover holds the session: the waiting command stays unsent until release. */
  private boolean held;

  /** Set when a switchover ended the session while it was idle: its next command gets this ERR. */
  private String doomed;

  /** The primary's name, for the admin view's session counts (read by other threads). */
  private volatile String primaryName;

  /** One command a backend owes a reply to: the client's (forwarded) or Halo's own (consumed). */
  private static final class Reply {
    final Consumer<Reply> hidden;

    /** Packets of the reply seen so far. */
    int packets;

    String firstValue;
    String error;

    /** A hidden query's bound: it fires when the backend has not answered in time. */
    io.netty.util.concurrent.ScheduledFuture<?> timer;

    Reply(Consumer<Reply> hidden) {
      this.hidden = hidden;
    }
  }

  private final class Backend {
    final boolean isPrimary;
    BackendNode node;
    Channel channel;
    long threadId;
    boolean connecting;

    /** The session's last write this replica was seen to have applied. */
    String confirmedGtid;

    int settingsApplied;
    final ArrayDeque<Reply> replies = new ArrayDeque<>();

    /** Where each reply ends and its status flags: the relay's tracker, fed packet by packet. */
    MySqlResponseTracker tracker;

    /** Set by the tracker when the reply at the head of {@link #replies} is complete. */
    boolean replyDone;

    int replyStatus = -1;

    Backend(boolean isPrimary) {
      this.isPrimary = isPrimary;
    }

    boolean idle() {
      return replies.isEmpty();
    }

    @Override
    public String toString() {
      return node.name();
    }
  }

  MySqlSplitRelay(
      MySqlListenerContext listener,
      Channel client,
      HandshakeResponse hello,
      int capabilities,
      SplitContext stats,
      BiConsumer<io.halo.health.state.BackendNode, Long> killTarget) {
    this.listener = listener;
    this.client = client;
    this.hello = hello;
    this.capabilities = capabilities;
    this.deprecateEof =
        (hello.capabilities() & capabilities & MySqlPackets.CLIENT_DEPRECATE_EOF) != 0;
    this.stats = stats;
    this.killTarget = killTarget;
    this.readYourWrites = listener.listener().readYourWrites();
    this.waitSeconds = listener.listener().readYourWritesWait().toMillis() / 1000.0;
    this.rules = listener.router().sessionRules(request());
    this.gate = listener.admission().transactionGate(hello.user());
  }

  /** Takes over the client (its packet decoder stays) and the logged-in primary connection. */
  void start(ChannelHandlerContext frontend, MySqlBackendConnection connection) {
    // The handshake decoder has a small limit; commands get the configured one.
    frontend
        .pipeline()
        .replace("frames", "frames", new MySqlPacketDecoder(listener.server().maxMessageSize()));
    primary = new Backend(true);
    attach(primary, connection);
    primaryStatus = connection.status();
    primaryName = connection.node().name();
    listener.router().sessionStarted(primaryName);
    client.closeFuture().addListener(f -> listener.router().sessionEnded(primaryName));
    frontend.pipeline().addLast("split", new ClientHandler());
    stats.sessionStarted();
  }

  private void attach(Backend b, MySqlBackendConnection c) {
    b.tracker =
        new MySqlResponseTracker(deprecateEof, c.status(), listener.server().maxMessageSize());
    b.tracker.listener(
        new MySqlResponseTracker.Listener() {
          @Override
          public void responseComplete(int command, boolean error, int status) {
            b.replyDone = true;
            b.replyStatus = status;
          }
        });
    b.node = c.node();
    b.channel = c.channel();
    b.threadId = c.threadId();
    b.channel
        .pipeline()
        .addLast("frames", new MySqlPacketDecoder(listener.server().maxMessageSize()));
    b.channel.pipeline().addLast("split", new BackendHandler(b));
    b.channel.config().setAutoRead(true);
  }

  // ------------------------------------------------------------------ client side

  private void drain() {
    while (!parked && !closed && waiting == null) {
      MySqlPacket p = inbox.poll();
      if (p == null) {
        break;
      }
      handle(p);
    }
    if (!closed) {
      client
          .config()
          .setAutoRead(!parked && waiting == null && inbox.isEmpty() && backendsWritable());
    }
  }

  private void handle(MySqlPacket p) {
    ByteBuf payload = p.payload();
    if (p.sequenceId() == 0 && !payload.isReadable()) {
      // An empty command (LOCAL INFILE's empty terminator never has sequence id 0): answered as
      // the server answers it, like the plain relay does (found by the protocol fuzzer).
      p.release();
      reply(
          MySqlPackets.err(
              client.alloc(),
              MySqlError.UNKNOWN_COMMAND.code(),
              MySqlError.UNKNOWN_COMMAND.sqlState(),
              "Unknown command"));
      return;
    }
    if (p.sequenceId() != 0 || !payload.isReadable()) {
      // Not a command: LOCAL INFILE data (or an empty terminator) for the command running now.
      if (last != null && last.channel != null) {
        sent(last, p.payload());
        write(last.channel, p);
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
      // ended by a switchover while idle: this command gets the reason, then the connection closes
      int seq = (p.sequenceId() + p.wirePackets()) & 0xff;
      p.release();
      String message = doomed;
      closed();
      client
          .writeAndFlush(
              MySqlPackets.frame(
                  client.alloc(),
                  seq,
                  MySqlPackets.err(
                      client.alloc(),
                      MySqlError.SESSION_ENDED.code(),
                      MySqlError.SESSION_ENDED.sqlState(),
                      message)))
          .addListener(ChannelFutureListener.CLOSE);
      return;
    }
    if (command == MySqlPackets.COM_CHANGE_USER) {
      p.release();
      reply(
          MySqlPackets.err(
              client.alloc(),
              1235,
              "42000",
              "MySqlPackets.COM_CHANGE_USER is not supported on a route: split listener; open a new connection"));
      return;
    }
    waiting = p;
    waitingKind = null;
    dispatch();
  }

  private void reply(ByteBuf payload) {
    client.writeAndFlush(MySqlPackets.frame(client.alloc(), 1, payload));
  }

  private void dispatch() {
    if (held || (listener.sessions().holding() && betweenTransactions())) {
      // a switchover holds the cluster: new work waits for the release
      held = true;
      park();
      quietWait.check(true);
      return;
    }
    if (primary.channel == null) {
      connect(primary); // moved by a switchover: the new primary's connection opens first
      park();
      return;
    }
    Backend target = decide();
    if (target == null) {
      park();
      return;
    }
    if (last != null && last != target && !last.idle()) {
      park();
      return;
    }
    if (target.channel == null) {
      connect(target);
      park();
      return;
    }
    if (!admitted(target)) {
      return;
    }
    parked = false;
    MySqlPacket p = waiting;
    waiting = null;
    send(target, p);
  }

  /**
   * Transaction admission: a command that starts new work (outside a transaction, nothing pending)
   * takes a permit of the backend it goes to; it goes back when a reply leaves the session outside
   * a transaction with nothing pending. False when the command waits (parked) or was refused (ERR
   * 1040 naming the limit; the session goes on).
   */
  private boolean admitted(Backend target) {
    ByteBuf payload = waiting.payload();
    int command = payload.getUnsignedByte(payload.readerIndex());
    // Admission counts transactions as the server does (IN_TRANS); autocommit off only steers
    // routing, so such a session takes and gives back a permit per transaction like any other.
    boolean inTransaction = (primaryStatus & MySqlPackets.SERVER_STATUS_IN_TRANS) != 0;
    if (gate.open()
        || inTransaction
        || (last != null && !last.idle())
        || command == MySqlPackets.COM_STMT_CLOSE
        || command == MySqlPackets.COM_STMT_SEND_LONG_DATA) {
      return true;
    }
    return gate.admitOrPark(
        target.node.name(),
        client.eventLoop(),
        this::park,
        this::refuseWaiting,
        this::resume,
        () -> closed);
  }

  private void refuseWaiting(String message) {
    MySqlPacket p = waiting;
    waiting = null;
    if (waitingKind == StatementKind.SESSION && !settings.isEmpty()) {
      String dropped = settings.remove(settings.size() - 1); // it never ran
      settingsBytes -= dropped.length();
    }
    waitingKind = null;
    parked = false;
    int seq = (p.sequenceId() + p.wirePackets()) & 0xff;
    p.release();
    client.writeAndFlush(
        MySqlPackets.frame(
            client.alloc(),
            seq,
            MySqlPackets.err(
                client.alloc(),
                MySqlError.TOO_MANY_CONNECTIONS.code(),
                MySqlError.TOO_MANY_CONNECTIONS.sqlState(),
                message)));
  }

  private void park() {
    parked = true;
    client.config().setAutoRead(false);
  }

  private void resume() {
    if (closed) {
      return;
    }
    parked = false;
    if (waiting != null) {
      dispatch();
    }
    drain();
  }

  private Backend decide() {
    ByteBuf payload = waiting.payload();
    int command = payload.getUnsignedByte(payload.readerIndex());
    if (waitingKind == null) {
      waitingKind = kind(command, payload);
      switch (waitingKind) {
        case PIN -> pin();
        case SESSION -> keepSetting(command, payload);
        case WRITE, TRANSACTION -> dirty = true;
        default -> {}
      }
    }
    boolean inTransaction =
        (primaryStatus & MySqlPackets.SERVER_STATUS_IN_TRANS) != 0
            || (primaryStatus & MySqlPackets.SERVER_STATUS_AUTOCOMMIT) == 0;
    if (pinned || inTransaction || !waitingKind.replicaSafe() || primaryOnce) {
      if (waitingKind == StatementKind.READ) {
        stats.readOnPrimary();
      }
      return primary;
    }
    return readTarget();
  }

  private StatementKind kind(int command, ByteBuf payload) {
    if (command == MySqlPackets.COM_QUERY) {
      String sql =
          payload.toString(
              payload.readerIndex() + 1, payload.readableBytes() - 1, StandardCharsets.UTF_8);
      return stats.classify(sql, rules);
    }
    if (command == MySqlPackets.COM_INIT_DB) {
      return StatementKind.SESSION;
    }
    return StatementKind.WRITE;
  }

  private void pin() {
    if (!pinned) {
      pinned = true;
      stats.pinned();
      if (replica != null && replica.channel != null && replica.idle()) {
        SplitChannels.quit(java.util.List.of(replica.channel), SplitChannels.MYSQL_QUIT);
        replica = null;
      }
    }
  }

  private void keepSetting(int command, ByteBuf payload) {
    String text =
        command == MySqlPackets.COM_INIT_DB
            ? "USE `"
                + payload
                    .toString(
                        payload.readerIndex() + 1,
                        payload.readableBytes() - 1,
                        StandardCharsets.UTF_8)
                    .replace("`", "``")
                + "`"
            : payload.toString(
                payload.readerIndex() + 1, payload.readableBytes() - 1, StandardCharsets.UTF_8);
    if (text.toLowerCase(Locale.ROOT).contains("autocommit")) {
      return; // followed through the server status instead: reads never replay it
    }
    if (settingsBytes + text.length() > MAX_SETTINGS_BYTES) {
      pin();
      return;
    }
    settingsBytes += text.length();
    settings.add(text);
  }

  private RouteRequest request() {
    return new RouteRequest(
        hello.user(),
        hello.database() == null ? "" : hello.database(),
        hello.attributes() == null ? null : hello.attributes().get("program_name"),
        client.remoteAddress());
  }

  private Backend readTarget() {
    if (last != null && last != replica && !last.idle()) {
      return null;
    }
    if (replica != null
        && replica.idle()
        && replica.channel != null
        && !listener.router().inRotation(replica.node.name())) {
      SplitChannels.quit(java.util.List.of(replica.channel), SplitChannels.MYSQL_QUIT);
      replica = null;
    }
    if (replica == null) {
      if (System.nanoTime() - replicaRetryAt < 0) {
        stats.readOnPrimary();
        return primary;
      }
      RouteResult r = listener.router().routeReplica(request());
      if (!(r instanceof RouteResult.Routed routed)) {
        stats.readOnPrimary();
        return primary;
      }
      replica = new Backend(false);
      replica.node = routed.backend();
    }
    if (replica.channel == null || !readYourWrites) {
      return replica;
    }
    if (dirty) {
      dirty = false;
      hiddenQuery(
          primary,
          "SELECT @@last_gtid",
          r -> {
            if (r.error != null) {
              // no @@last_gtid (MySQL 8): the write's position is unknown, so this read goes to the
              // primary
              needGtid = null;
              primaryOnce = true;
              stats.readYourWritesOnPrimary();
            } else {
              needGtid = r.firstValue == null || r.firstValue.isEmpty() ? null : r.firstValue;
            }
            resume();
          });
      return null;
    }
    if (needGtid == null || needGtid.equals(replica.confirmedGtid)) {
      return replica;
    }
    if (!replica.idle()) {
      return null;
    }
    String gtid = needGtid;
    hiddenQuery(
        replica,
        "SELECT MASTER_GTID_WAIT('" + gtid.replace("'", "") + "', " + waitSeconds + ")",
        r -> {
          if ("0".equals(r.firstValue)) {
            replica.confirmedGtid = gtid; // kept: another replica must show it again
          } else {
            stats.readYourWritesOnPrimary();
            primaryOnce = true;
          }
          resume();
        });
    return null;
  }

  private void send(Backend b, MySqlPacket p) {
    while (b.settingsApplied < settings.size()) {
      String s = settings.get(b.settingsApplied++);
      if (b.isPrimary
          && b.settingsApplied == settings.size()
          && waitingKind == StatementKind.SESSION) {
        break; // this command is that setting
      }
      hiddenQuery(
          b,
          s,
          r -> {
            if (r.error != null) {
              log.info("[{}] replaying \"{}\" on {} failed: {}", listener.name(), s, b, r.error);
            }
          });
    }
    ByteBuf payload = p.payload();
    int command = payload.getUnsignedByte(payload.readerIndex());
    if (command == MySqlPackets.COM_QUERY && kill(p)) {
      return;
    }
    if (command != MySqlPackets.COM_STMT_SEND_LONG_DATA && command != MySqlPackets.COM_STMT_CLOSE) {
      b.replies.add(new Reply(null));
    }
    if (command == MySqlPackets.COM_RESET_CONNECTION) {
      settings.clear();
      settingsBytes = 0;
      primary.settingsApplied = 0;
      if (replica != null && replica.channel != null && replica.idle()) {
        SplitChannels.quit(java.util.List.of(replica.channel), SplitChannels.MYSQL_QUIT);
        replica = null;
      }
    }
    if (!b.isPrimary) {
      stats.readOnReplica();
    }
    waitingKind = null;
    primaryOnce = false;
    last = b;
    killTarget.accept(b.node, b.threadId);
    sent(b, p.payload());
    write(b.channel, p);
    b.channel.flush();
  }

  /**
   * A KILL naming a Halo connection id, sent to the backend that runs that session, if it is ours.
   */
  private boolean kill(MySqlPacket p) {
    ByteBuf wire = client.alloc().buffer(4 + p.payload().readableBytes());
    wire.writeMediumLE(p.payload().readableBytes())
        .writeByte(0)
        .writeBytes(p.payload(), p.payload().readerIndex(), p.payload().readableBytes());
    try {
      var request = MySqlKill.parse(wire);
      if (request.isEmpty()) {
        return false;
      }
      p.release();
      var target = listener.connectionIds().target(request.get().connectionId()).orElse(null);
      Backend on =
          target == null
              ? null
              : target.backendName() != null && target.backendName().equals(primary.node.name())
                  ? primary
                  : replica != null
                          && replica.channel != null
                          && target.backendName() != null
                          && target.backendName().equals(replica.node.name())
                      ? replica
                      : null;
      if (on == null || on.channel == null) {
        client.writeAndFlush(
            MySqlKill.unknownThread(
                client.alloc(),
                request.get().connectionId(),
                target == null ? "" : " (it runs on a backend this session has no connection to)"));
        return true;
      }
      on.replies.add(new Reply(null));
      last = on;
      ByteBuf rewritten =
          MySqlKill.rewrite(client.alloc(), request.get(), target.backendThreadId());
      sent(on, rewritten.slice(rewritten.readerIndex() + 4, rewritten.readableBytes() - 4));
      on.channel.writeAndFlush(rewritten);
      return true;
    } finally {
      wire.release();
    }
  }

  private void hiddenQuery(Backend b, String sql, Consumer<Reply> done) {
    byte[] text = sql.getBytes(StandardCharsets.UTF_8);
    ByteBuf q = client.alloc().buffer(5 + text.length);
    q.writeMediumLE(1 + text.length)
        .writeByte(0)
        .writeByte(MySqlPackets.COM_QUERY)
        .writeBytes(text);
    Reply r = new Reply(done);
    b.replies.add(r);
    // Bounded like every internal request: MASTER_GTID_WAIT may take read_your_writes_wait itself.
    long ms =
        io.halo.proxy.session.HiddenQueries.boundMillis(
            listener.server(), listener.listener().readYourWritesWait());
    r.timer =
        client.eventLoop().schedule(() -> hiddenTimedOut(b, r, sql, ms), ms, TimeUnit.MILLISECONDS);
    sent(b, q.slice(q.readerIndex() + 4, q.readableBytes() - 4));
    b.channel.writeAndFlush(q);
  }

  /**
   * Halo's own query got no reply in time (a hung backend). On a replica that owes nothing else,
   * the replica is dropped and the read waiting for it goes to the primary; otherwise the session
   * ends with ERR 1053 naming the backend, since what it owes cannot be answered any more.
   */
  private void hiddenTimedOut(Backend b, Reply r, String sql, long ms) {
    if (closed || !b.replies.contains(r)) {
      return;
    }
    boolean onlyHidden = b.replies.stream().allMatch(x -> x.hidden != null);
    if (!b.isPrimary && b == replica && onlyHidden) {
      io.halo.proxy.session.HiddenQueries.replicaDropped(
          log, listener.name(), hello.user(), b.node.name(), sql, ms);
      replica = null;
      replicaRetryAt = System.nanoTime() + REPLICA_RETRY_NANOS;
      b.replies.forEach(
          x -> {
            if (x.timer != null) {
              x.timer.cancel(false);
            }
          });
      b.replies.clear();
      if (b.channel != null) {
        b.channel.close();
      }
      if (last == b) {
        last = null;
      }
      primaryOnce = true;
      stats.readYourWritesOnPrimary();
      resume();
      return;
    }
    endSession(
        io.halo.proxy.session.HiddenQueries.sessionEnds(
            log, listener.name(), hello.user(), b.node.name(), sql, ms));
  }

  private void connect(Backend b) {
    if (b.connecting || b.channel != null) {
      return;
    }
    b.connecting = true;
    var u = listener.credentials().lookup(hello.user()).orElseThrow().user();
    Future<MySqlBackendConnection> f =
        MySqlBackendConnector.connect(
            client.eventLoop(),
            listener.transports(),
            b.node,
            u.backendUser(),
            u.backendPassword(),
            hello,
            capabilities,
            listener.server().backendConnectTimeout(),
            listener.server().maxMessageSize());
    f.addListener(
        done -> {
          b.connecting = false;
          if (closed) {
            if (done.isSuccess()) {
              f.getNow().channel().close();
            }
            return;
          }
          if (done.isSuccess()) {
            attach(b, f.getNow());
            if (b.isPrimary && (primaryStatus & MySqlPackets.SERVER_STATUS_AUTOCOMMIT) == 0) {
              hiddenQuery(
                  b, "SET autocommit=0", r -> {}); // the status flags followed it, not the settings
            }
          } else if (b.isPrimary) {
            log.warn(
                "[{}] {}: the new primary {} is unreachable: {}",
                listener.name(),
                hello.user(),
                b.node.name(),
                done.cause().getMessage());
            endSession("the new primary " + b.node.name() + " is unreachable; reconnect");
            return;
          } else {
            log.warn(
                "[{}] {}: replica {} unavailable for reads, using the primary: {}",
                listener.name(),
                hello.user(),
                b.node.name(),
                done.cause().getMessage());
            replica = null;
            replicaRetryAt = System.nanoTime() + REPLICA_RETRY_NANOS;
          }
          resume();
        });
  }

  // ------------------------------------------------------------------ backend side

  private void fromBackend(Backend b, MySqlPacket p) {
    Reply r = b.replies.peek();
    if (r == null) {
      p.release(); // nothing is owed: a stray packet (servers send none unprompted)
      return;
    }
    ByteBuf payload = p.payload();
    b.replyDone = false;
    b.tracker.serverPacket(
        firstWireLength(p),
        payload,
        payload.readerIndex(),
        Math.min(payload.readableBytes(), MySqlResponseTracker.HEAD));
    if (r.hidden != null) {
      observe(r, payload);
      p.release();
    } else {
      write(client, p);
    }
    if (b.replyDone) {
      b.replies.poll();
      if (r.timer != null) {
        r.timer.cancel(false);
      }
      if (r.hidden != null) {
        r.hidden.accept(r);
      } else if (b.isPrimary && b.replyStatus >= 0) {
        primaryStatus = b.replyStatus;
      }
      if (r.hidden == null
          && gate.open()
          && allIdle()
          && (primaryStatus & MySqlPackets.SERVER_STATUS_IN_TRANS) == 0) {
        gate.end();
      }
      if (parked && b.idle()) {
        client.flush();
        resume();
      }
      quietWait.check(quiescent());
    }
  }

  /**
   * What Halo's own one-column queries answered: the first row's value (the row is the third packet
   * with CLIENT_DEPRECATE_EOF, the fourth without), or the error.
   */
  private void observe(Reply r, ByteBuf p) {
    int first = p.isReadable() ? p.getUnsignedByte(p.readerIndex()) : -1;
    int index = r.packets++;
    if (first == 0xff) {
      r.error = errorMessage(p);
    } else if (index == (deprecateEof ? 2 : 3)
        && r.firstValue == null
        && !(first == 0xfe && p.readableBytes() < 9)) {
      if (first == 0xfb) {
        r.firstValue = "";
      } else {
        ByteBuf copy = p.duplicate();
        long len = MySqlPackets.readLenenc(copy);
        r.firstValue = copy.toString(copy.readerIndex(), (int) len, StandardCharsets.UTF_8);
      }
    }
  }

  /** The length of a logical packet's first wire packet (what the tracker looks at). */
  private static int firstWireLength(MySqlPacket p) {
    return Math.min(p.payload().readableBytes(), MySqlPacket.MAX_WIRE_PAYLOAD);
  }

  /** Tells {@code b}'s tracker about a packet sent to it. */
  private static void sent(Backend b, ByteBuf payload) {
    b.tracker.clientPacket(
        Math.min(payload.readableBytes(), MySqlPacket.MAX_WIRE_PAYLOAD),
        payload,
        payload.readerIndex(),
        Math.min(payload.readableBytes(), MySqlResponseTracker.HEAD));
  }

  private static String errorMessage(ByteBuf p) {
    int skip = p.readableBytes() > 9 && p.getByte(p.readerIndex() + 3) == '#' ? 9 : 3;
    return p.toString(
        p.readerIndex() + skip, Math.max(0, p.readableBytes() - skip), StandardCharsets.UTF_8);
  }

  private void backendClosed(Backend b) {
    if (closed || doomed != null || (b != primary && b != replica)) {
      return;
    }
    if (!b.isPrimary && b.idle()) {
      replica = null;
      return;
    }
    if ((held || listener.sessions().holding())
        && b.isPrimary
        && b.idle()
        && (primaryStatus & MySqlPackets.SERVER_STATUS_IN_TRANS) == 0) {
      // a switchover's fence ends the old primary's client connections while this session is held
      // (or idle between transactions):
      // a fresh one (settings replayed) is opened before its next command, on whichever primary
      primary = new Backend(true);
      primary.node = b.node;
      if (last == b) {
        last = null;
      }
      return;
    }
    log.warn("[{}] backend {} closed the connection of {}", listener.name(), b, hello.user());
    if (client.isActive()) {
      client
          .writeAndFlush(
              MySqlPackets.frame(
                  client.alloc(),
                  1,
                  MySqlPackets.err(
                      client.alloc(),
                      MySqlError.BACKEND_LOST.code(),
                      MySqlError.BACKEND_LOST.sqlState(),
                      "Lost connection to backend " + b.node.name())))
          .addListener(ChannelFutureListener.CLOSE);
    }
  }

  private void end() {
    closeBackends();
    client.close();
  }

  void closeBackends() {
    SplitChannels.quit(backendChannels(), SplitChannels.MYSQL_QUIT);
  }

  private boolean allIdle() {
    return primary.idle() && (replica == null || replica.idle());
  }

  /** Nothing in flight on either backend and no transaction open on the primary. */
  private boolean betweenTransactions() {
    return allIdle() && (primaryStatus & MySqlPackets.SERVER_STATUS_IN_TRANS) == 0;
  }

  private boolean quiescent() {
    return closed || held || betweenTransactions();
  }

  // ------------------------------------------------------------------ switchover (Holdable)

  Channel client() {
    return client;
  }

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
  public void prepareRelease(BackendNode next) {
    quietWait.cancel();
    if (closed || next == null || next.name().equals(primary.node.name())) {
      return;
    }
    String why = null;
    if (pinned) {
      why =
          "it holds state on " + primary.node.name() + " (user variables, locks, temporary tables)";
    } else if (!betweenTransactions()) {
      why = "it still had work in flight when the hold ended";
    } else if (primary.tracker != null && primary.tracker.openStatements() > 0) {
      why =
          primary.tracker.openStatements()
              + " prepared statement(s) are open on "
              + primary.node.name()
              + " and cannot be re-created under the same ids";
    }
    if (why != null) {
      listener.rejections().count("switchover_unmovable");
      log.info(
          "[{}] switchover to {}: ending a split session of {} ({})",
          listener.name(),
          next.name(),
          hello.user(),
          why);
      endSession(
          "switchover to "
              + next.name()
              + ": this session cannot be moved: "
              + why
              + "; reconnect");
      return;
    }
    Channel old = primary.channel;
    listener.router().sessionEnded(primary.node.name());
    primary = new Backend(true); // connected before the next command, every setting replayed
    primary.node = next;
    primaryName = next.name();
    listener.router().sessionStarted(primaryName);
    if (last != null && last.isPrimary) {
      last = null;
    }
    if (replica != null && replica.node.name().equals(next.name())) {
      if (replica.channel != null) {
        replica.channel.close();
      }
      replica = null; // a connect still running finds it replaced and closes what it opened
    }
    if (old != null) {
      SplitChannels.quit(java.util.List.of(old), SplitChannels.MYSQL_QUIT);
    }
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
   * A failover (not a switchover) replaced or fenced the primary: the session closes. Event loop.
   */
  @Override
  public void onTopology(io.halo.health.state.Topology t, String cluster) {
    if (closed) {
      return;
    }
    String why =
        io.halo.proxy.session.SessionVerdicts.endReason(t, cluster, primary.node.name(), true);
    if (why == null && replica != null && replica.channel != null) {
      boolean fenced =
          t.backend(replica.node.name())
              .map(b -> b.state() == io.halo.health.state.NodeState.FENCED)
              .orElse(false);
      if (fenced && replica.idle()) {
        SplitChannels.quit(java.util.List.of(replica.channel), SplitChannels.MYSQL_QUIT);
        replica = null;
      }
    }
    if (why != null) {
      log.info("[{}] ending a split session of {}: {}", cluster, hello.user(), why);
      endSession(why);
    }
  }

  /**
   * Ends the session from Halo's side with ERR 1053: a waiting command gets it now; an idle
   * session's next command gets it (a client not reading would not see an unsolicited packet); a
   * session in the middle of a reply is closed.
   */
  private void endSession(String message) {
    if (closed) {
      return;
    }
    if (waiting != null) {
      int seq = (waiting.sequenceId() + waiting.wirePackets()) & 0xff;
      closed();
      client
          .writeAndFlush(
              MySqlPackets.frame(
                  client.alloc(),
                  seq,
                  MySqlPackets.err(
                      client.alloc(),
                      MySqlError.SESSION_ENDED.code(),
                      MySqlError.SESSION_ENDED.sqlState(),
                      message)))
          .addListener(ChannelFutureListener.CLOSE);
    } else if (allIdle()) {
      closeBackends();
      doomed = message;
      held = false;
      parked = false;
      client.config().setAutoRead(true);
      client
          .eventLoop()
          .schedule(
              () -> {
                client.close();
              },
              listener.holdTimeout().toMillis(),
              TimeUnit.MILLISECONDS);
    } else {
      end();
    }
  }

  private void closed() {
    if (closed) {
      return;
    }
    closed = true;
    gate.abandon();
    stats.sessionEnded(pinned);
    closeBackends();
    inbox.forEach(MySqlPacket::release);
    inbox.clear();
    if (waiting != null) {
      waiting.release();
      waiting = null;
    }
  }

  /** The session's open backend connections (primary, replica). */
  private java.util.List<Channel> backendChannels() {
    return SplitChannels.of(
        primary == null ? null : primary.channel, replica == null ? null : replica.channel);
  }

  private boolean backendsWritable() {
    return SplitChannels.allWritable(backendChannels());
  }

  /** Writes a logical packet as wire packets (split at 16 MB, trailing empty one when needed). */
  private static void write(Channel to, MySqlPacket p) {
    ByteBuf payload = p.payload();
    int seq = p.sequenceId();
    ByteBuf wire = p.retainedWire();
    if (wire != null) {
      to.write(wire, to.voidPromise());
      p.release();
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

  // ------------------------------------------------------------------ handlers

  private final class ClientHandler extends ChannelInboundHandlerAdapter {
    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
      inbox.add((MySqlPacket) msg);
      drain();
    }

    @Override
    public void channelReadComplete(ChannelHandlerContext ctx) {
      SplitChannels.flush(backendChannels());
    }

    @Override
    public void channelWritabilityChanged(ChannelHandlerContext ctx) {
      SplitChannels.autoRead(backendChannels(), ctx.channel().isWritable());
      ctx.fireChannelWritabilityChanged();
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
      closed();
      ctx.fireChannelInactive();
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
      if (cause instanceof DecoderException) {
        log.info(
            "[{}] closing a split session of {}: {}",
            listener.name(),
            hello.user(),
            cause.getMessage());
        closeBackends();
        ctx.writeAndFlush(
                MySqlPackets.frame(
                    ctx.alloc(),
                    1,
                    MySqlPackets.err(
                        ctx.alloc(),
                        1153,
                        "08S01",
                        "Got a packet bigger than max_message_size or a malformed one: "
                            + cause.getMessage())))
            .addListener(ChannelFutureListener.CLOSE);
        return;
      }
      if (!(cause instanceof IOException)) {
        log.warn("[{}] client connection of {} failed", listener.name(), hello.user(), cause);
      }
      ctx.close();
    }
  }

  private final class BackendHandler extends ChannelInboundHandlerAdapter {
    private final Backend backend;

    BackendHandler(Backend backend) {
      this.backend = backend;
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
      if (closed) {
        ((MySqlPacket) msg).release();
        return;
      }
      fromBackend(backend, (MySqlPacket) msg);
    }

    @Override
    public void channelReadComplete(ChannelHandlerContext ctx) {
      client.flush();
      if (!client.isWritable()) {
        ctx.channel().config().setAutoRead(false);
      }
    }

    @Override
    public void channelWritabilityChanged(ChannelHandlerContext ctx) {
      if (!ctx.channel().isWritable()) {
        client.config().setAutoRead(false);
      } else if (!parked && waiting == null && inbox.isEmpty() && !closed) {
        client.config().setAutoRead(backendsWritable());
      }
      ctx.fireChannelWritabilityChanged();
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
      if (backend.channel == ctx.channel()) {
        backendClosed(backend);
      }
      ctx.fireChannelInactive();
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
      log.debug(
          "[{}] backend {} connection failed: {}", listener.name(), backend, cause.toString());
      ctx.close();
    }
  }
}

package io.halo.proxy.pg;

import io.halo.health.state.BackendNode;
import io.halo.proxy.pg.message.PgFrame;
import io.halo.proxy.pg.message.PgFrameDecoder;
import io.halo.proxy.pg.message.PgFrameError;
import io.halo.proxy.pg.message.PgMessages;
import io.halo.proxy.session.SessionState;
import io.halo.proxy.session.SplitChannels;
import io.halo.routing.RouteRequest;
import io.halo.routing.RouteResult;
import io.halo.routing.split.StatementKind;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.util.concurrent.Future;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The relay of a {@code route: split} session: one client, a connection to the primary and, once
 * the session reads, one to a replica. Each request is routed on its own.
 *
 * <p>Design memo.
 *
 * <ul>
 *   <li><b>Unit of routing.</b> A request is everything up to the message that ends it with a
 *       ReadyForQuery: a simple Query, a FunctionCall, or an extended-protocol batch up to its Sync
 *       (an implicit transaction, so never split). A batch is buffered until its Sync (at most
 *       {@link #MAX_UNIT_BYTES}); a Flush or a bigger batch sends it to the primary as it comes.
 *   <li><b>Decision.</b> Inside a transaction: where the transaction runs. Pinned: the primary.
 *       Otherwise the kind of every statement in the request (the text of a Query or Parse, and for
 *       a Bind of a named statement the kind recorded when it was parsed), combined: only a pure
 *       read goes to the replica, and only when no function it calls is volatile by the primary's
 *       catalogue (looked up once per name, {@link io.halo.proxy.session.FunctionCatalogue}).
 *       Session settings run on the primary; those it accepted outside a transaction are replayed
 *       on the replica connection before its next request ({@link PgSettings}); pinning statements
 *       pin the session for good.
 *   <li><b>Order.</b> Replies must reach the client in request order, so a request for another
 *       backend waits until the previous backend has answered everything; requests for the same
 *       backend are pipelined.
 *   <li><b>Prepared statements.</b> A named statement executes on a backend where it is prepared,
 *       or is prepared there first: Halo keeps each named Parse and sends it, hidden, ahead of the
 *       request. A client Close is applied to every backend that has the statement.
 *   <li><b>Hidden requests.</b> Halo's own requests (replayed settings and statements, position
 *       queries) each end with their own ReadyForQuery; their replies are consumed, never shown.
 *       Each backend keeps a FIFO of what its next ReadyForQuery belongs to.
 *   <li><b>Read-your-writes.</b> After the session writes, its next read asks the primary for its
 *       WAL position (which covers the commit) and the replica for its replay position; the read
 *       goes to the replica only when it has replayed that far (re-checked for up to {@code
 *       read_your_writes_wait}), otherwise to the primary.
 * </ul>
 *
 * <p>Everything runs on the client's event loop; nothing blocks. Memory is bounded: the client is
 * not read while a request waits, a request is at most {@link #MAX_UNIT_BYTES}, kept statements and
 * settings are capped (beyond them the session is pinned to the primary, which needs neither).
 */
final class PgSplitRelay {

  private static final Logger log = LoggerFactory.getLogger(PgSplitRelay.class);
  static final int MAX_UNIT_BYTES = 1 << 20;
  private static final int MAX_KEPT_BYTES = 1 << 20;
  private static final long RECHECK_MS = 2;
  private static final long REPLICA_RETRY_NANOS = TimeUnit.SECONDS.toNanos(1);

  /** How long a read waits for the primary's catalogue to say whether its functions write. */
  static final long FUNCTION_LOOKUP_TIMEOUT_MS = 2_000;

  private final PgSession session;
  private final PgListenerContext listener;
  private final Channel client;
  private final io.halo.proxy.session.SplitContext stats;
  private final boolean readYourWrites;
  private final long rywWaitNanos;

  /** The listener's routing rules that apply to this session (per statement). */
  private final io.halo.routing.rules.SessionRules rules;

  private Backend primary;
  private Backend replica;
  private long replicaRetryAt;

  private final ArrayDeque<PgFrame> inbox = new ArrayDeque<>();
  private final List<PgFrame> unit = new ArrayList<>();
  private int unitBytes;

  /** The kind of the buffered unit once computed (kept while it waits). */
  private StatementKind unitKind;

  /**
   * The backend receiving a unit whose end has not arrived (after a Flush or an oversized batch).
   */
  private Backend open;

  /** The backend of the last client request (COPY data follows it). */
  private Backend last;

  /** A complete unit waits for an asynchronous step; the client is not read meanwhile. */
  private boolean parked;

  private byte txStatus = 'I';
  private Backend txBackend;
  private boolean pinned;

  /** The session wrote since the primary's position was last taken. */
  private boolean dirty;

  /** The primary position the session's reads must see, or -1. */
  private long needLsn = -1;

  /** Started waiting for a replica to catch up (nanoTime), or 0. */
  private long rywSince;

  private boolean primaryOnce;

  /** A read waits on a timer before asking the replica again (read_your_writes_wait). */
  private boolean rechecking;

  /** The functions the buffered unit calls have been checked against the primary's catalogue. */
  private boolean functionsChecked;

  /** The primary's catalogue is being asked about the buffered unit's functions. */
  private boolean functionLookup;

  /** The settings the primary has accepted, replayed on the session's other connections. */
  private final PgSettings settings = new PgSettings();

  /** The text of the buffered SESSION unit, kept if the primary runs it without error. */
  private String unitSetting;

  private final Map<String, Statement> statements = new HashMap<>();
  private int keptBytes;
  private long generations;

  /** Where the unnamed statement was last parsed. */
  private Backend unnamedOn;

  private StatementKind unnamedKind = StatementKind.WRITE;
  private String unnamedText;
  private boolean closed;

  /** The client sent Terminate: backends closing now is expected. */
  private boolean ending;

  /** A named statement of the client: its Parse (whole message), its kind, its version. */
  private record Statement(ByteBuf parse, StatementKind kind, long generation) {}

  /** What a backend's next ReadyForQuery belongs to. */
  private static final class Expect {
    final Consumer<Expect> hidden;
    String value;
    String error;

    /**
     * A client's setting: kept if the primary answers it without an error, outside a transaction.
     */
    String setting;

    /** A hidden query's bound: it fires when the backend has not answered in time. */
    io.netty.util.concurrent.ScheduledFuture<?> timer;

    Expect(Consumer<Expect> hidden) {
      this.hidden = hidden;
    }
  }

  private final class Backend {
    final boolean isPrimary;
    BackendNode node;
    Channel channel;
    int processId;
    int secret;
    final ArrayDeque<Expect> expects = new ArrayDeque<>();
    final Map<String, Long> prepared = new HashMap<>();
    final List<String> closes = new ArrayList<>();

    /**
     * The settings this connection has (parameter to statement), as {@link PgSettings} keeps them.
     */
    final Map<String, String> applied = new java.util.LinkedHashMap<>();

    long replayed = -1;
    boolean connecting;

    /** The backend is in COPY FROM STDIN for the client. */
    boolean copyIn;

    Backend(boolean isPrimary) {
      this.isPrimary = isPrimary;
    }

    boolean idle() {
      return expects.isEmpty();
    }

    @Override
    public String toString() {
      return node.name();
    }
  }

  PgSplitRelay(PgSession session, io.halo.proxy.session.SplitContext stats) {
    this.session = session;
    this.listener = session.listener();
    this.client = session.client();
    this.stats = stats;
    this.readYourWrites = listener.listener().readYourWrites();
    this.rywWaitNanos = listener.listener().readYourWritesWait().toNanos();
    this.rules =
        listener
            .router()
            .sessionRules(
                new RouteRequest(
                    session.user(),
                    session.database(),
                    session.backendParameters().get("application_name"),
                    client.remoteAddress()));
  }

  /** Installs the relay on the client and the primary connection it logged in with. */
  void start(ChannelHandlerContext frontend, PgBackendConnection connection, List<ByteBuf> early) {
    primary = new Backend(true);
    attach(primary, connection);
    frontend.pipeline().addLast("split", new ClientHandler());
    for (ByteBuf b : early) {
      // Each early buffer holds exactly one message, as the frontend kept it.
      inbox.add(PgFrame.ofMessage(b));
    }
    stats.sessionStarted();
  }

  private void attach(Backend b, PgBackendConnection connection) {
    b.node = connection.node();
    b.channel = connection.channel();
    b.processId = connection.processId();
    b.secret = connection.secret();
    b.channel
        .pipeline()
        .addLast("frames", PgFrameDecoder.forBackend((int) listener.server().maxMessageSize()));
    b.channel.pipeline().addLast("split", new BackendHandler(b));
    b.channel.config().setAutoRead(true);
  }

  // ------------------------------------------------------------------ client side

  private void fromClient(PgFrame frame) {
    inbox.add(frame);
    drain();
  }

  /** Handles what the client sent, in order, until a unit has to wait. */
  private void drain() {
    while (!parked && !closed) {
      PgFrame f = inbox.poll();
      if (f == null) {
        break;
      }
      handle(f);
    }
    if (!closed) {
      client.config().setAutoRead(!parked && inbox.isEmpty() && backendsWritable());
    }
  }

  private void handle(PgFrame f) {
    byte t = f.type();
    if (t == 'X') {
      f.release();
      end();
      return;
    }
    Backend copying = open != null ? open : last;
    if (t == 'd'
        || t == 'c'
        || t == 'f'
        || ((t == 'S' || t == 'H') && copying != null && copying.copyIn)) {
      // COPY data goes where its COPY runs; a Sync or Flush during copy-in is ignored by the
      // server (no ReadyForQuery of its own), so it is passed on without expecting one.
      if (copying == null || copying.channel == null) {
        f.release();
      } else {
        if (t == 'c' || t == 'f') {
          copying.copyIn = false;
        }
        write(copying.channel, f);
      }
      return;
    }
    if (open != null) {
      Backend b = open;
      sendOne(b, f);
      if (t == 'S' || t == 'Q' || t == 'F') {
        open = null;
      }
      return;
    }
    unit.add(f);
    unitBytes += 5 + f.body().readableBytes();
    if (t == 'Q' || t == 'S' || t == 'F') {
      dispatch(true);
    } else if (t == 'H' || unitBytes > MAX_UNIT_BYTES) {
      dispatch(false);
    }
  }

  /**
   * Neither backend owes a reply, Halo's hidden queries (function lookups, position probes)
   * included: a switchover's quiescence waits for those too, so that a release never finds the
   * session with work in flight.
   */
  boolean backendsIdle() {
    return (primary == null || primary.idle()) && (replica == null || replica.idle());
  }

  /** Routes and sends the buffered unit, or parks it while an asynchronous step runs. */
  private void dispatch(boolean complete) {
    if (session.mustHold()) {
      // A switchover holds read-write sessions between transactions; release resumes us.
      session.holdSplit();
      park();
      return;
    }
    Backend target = decide(complete);
    if (target == null) {
      park();
      return;
    }
    if (last != null && last != target && !last.idle()) {
      park(); // replies must stay in order: resumed when the previous backend has answered
      return;
    }
    if (target.channel == null) {
      connect(target);
      park();
      return;
    }
    if (complete && !admitted(target)) {
      return;
    }
    parked = false;
    send(target, complete);
  }

  /**
   * Transaction admission ({@code throttle.max_transactions}, the user's rate limit): a unit that
   * starts new work takes a permit of its backend; the session gives it back at the ReadyForQuery
   * that leaves it idle ({@link PgSession#replyReceived}). False when the unit waits (parked) or
   * was refused (answered with ERROR 53300 and ReadyForQuery, like a failed statement). A unit sent
   * after a Flush (no Sync yet) is not gated.
   */
  private boolean admitted(Backend target) {
    io.halo.proxy.session.TransactionGate gate = session.gate();
    if (gate.open() || txStatus != 'I' || (last != null && !last.idle())) {
      return true;
    }
    return gate.admitOrPark(
        target.node.name(),
        client.eventLoop(),
        this::park,
        this::refuseUnit,
        this::resume,
        () -> closed);
  }

  /** Answers the buffered unit as a failed statement (53300) without sending it anywhere. */
  private void refuseUnit(String message) {
    unitSetting = null; // it never ran
    unit.forEach(PgFrame::release);
    unit.clear();
    unitBytes = 0;
    unitKind = null;
    functionsChecked = false;
    primaryOnce = false;
    parked = false;
    client.write(PgMessages.error(client.alloc(), SqlState.TOO_MANY_CONNECTIONS, message));
    client.writeAndFlush(PgMessages.readyForQuery(client.alloc(), (byte) 'I'));
  }

  private void park() {
    parked = true;
    client.config().setAutoRead(false);
  }

  /** An asynchronous step finished: try the waiting unit again, then go on reading. */
  private void resume() {
    if (closed) {
      return;
    }
    if (parked && !unit.isEmpty()) {
      parked = false;
      PgFrame lastFrame = unit.get(unit.size() - 1);
      byte t = lastFrame.type();
      dispatch(t == 'Q' || t == 'S' || t == 'F');
    } else {
      parked = false;
    }
    drain();
  }

  /** The backend for the buffered unit, or null when a step must run first (it resumes). */
  private Backend decide(boolean complete) {
    if (txStatus != 'I' && txBackend != null) {
      // A setting or a pinning statement inside a transaction cannot be replayed safely (the
      // transaction may roll back): the session stays on the primary from now on.
      if (unitKind == null) {
        unitKind = classify();
        if (unitKind == StatementKind.PIN || unitKind == StatementKind.SESSION) {
          pin();
        }
      }
      return txBackend;
    }
    if (unitKind == null) {
      unitKind = complete ? classify() : StatementKind.WRITE.and(classify());
      switch (unitKind) {
        case PIN -> pin();
        case SESSION -> keepSetting();
        case WRITE, TRANSACTION -> dirty = true;
        default -> {}
      }
    }
    if (unnamedOn != null && bindsUnnamedWithoutParse()) {
      // the unnamed statement runs where it was parsed
      return unnamedOn.channel != null && (unnamedOn == primary || unnamedOn == replica)
          ? unnamedOn
          : primary;
    }
    if (pinned || !unitKind.replicaSafe() || primaryOnce) {
      return primary;
    }
    return readTarget();
  }

  private StatementKind classify() {
    StatementKind kind = null;
    for (PgFrame f : unit) {
      StatementKind k =
          switch (f.type()) {
            case 'Q', 'P' -> queryKind(f);
            case 'B' -> boundKind(f);
            case 'D' -> describedKind(f);
            case 'E', 'S', 'H', 'C' -> null;
            default -> StatementKind.WRITE; // FunctionCall and anything unexpected
          };
      if (k != null) {
        kind = kind == null ? k : kind.and(k);
      }
    }
    if (kind != StatementKind.READ && changesFunctions()) {
      stats.functions().forget(session.database());
    }
    return kind == null ? StatementKind.WRITE : kind;
  }

  /** Whether the unit creates, changes or drops a function (what reads learned of it is stale). */
  private boolean changesFunctions() {
    for (PgFrame f : unit) {
      if (f.type() == 'Q' || f.type() == 'P') {
        String text = statementText(f);
        if (text != null && definesFunction(text)) {
          return true;
        }
      }
    }
    return false;
  }

  static boolean definesFunction(String text) {
    int i = 0;
    while (i < text.length() && Character.isWhitespace(text.charAt(i))) {
      i++;
    }
    boolean ddl =
        text.regionMatches(true, i, "create", 0, 6)
            || text.regionMatches(true, i, "alter", 0, 5)
            || text.regionMatches(true, i, "drop", 0, 4);
    if (!ddl) {
      return false;
    }
    String lower = text.toLowerCase(java.util.Locale.ROOT);
    return lower.contains("function") || lower.contains("procedure") || lower.contains("routine");
  }

  /**
   * Whether a function the buffered unit calls writes, by the primary's catalogue (volatile
   * functions go to the primary); null while the catalogue is asked (the unit resumes).
   */
  private Boolean callsWritingFunction() {
    java.util.Set<String> names = unitFunctions();
    if (names.isEmpty()) {
      return false;
    }
    io.halo.proxy.session.FunctionCatalogue catalogue = stats.functions();
    String database = session.database();
    List<String> unknown = null;
    for (String name : names) {
      Boolean writes = catalogue.writes(database, name);
      if (writes == null) {
        if (unknown == null) {
          unknown = new ArrayList<>();
        }
        unknown.add(name);
      } else if (writes) {
        return true;
      }
    }
    if (unknown == null) {
      return false;
    }
    lookUpFunctions(unknown);
    return null;
  }

  /** The names of the functions the statements of the buffered unit call. */
  private java.util.Set<String> unitFunctions() {
    java.util.Set<String> names = null;
    for (PgFrame f : unit) {
      String text =
          switch (f.type()) {
            case 'Q', 'P' -> statementText(f);
            case 'B', 'D' -> referencedText(f);
            default -> null;
          };
      if (text == null) {
        continue;
      }
      java.util.Set<String> called = stats.classifier().calledFunctions(text);
      if (!called.isEmpty()) {
        if (names == null) {
          names = new java.util.HashSet<>();
        }
        names.addAll(called);
      }
    }
    return names == null ? java.util.Set.of() : names;
  }

  /** The text of the statement a Bind or Describe refers to, when Halo knows it. */
  private String referencedText(PgFrame f) {
    String name = referencedStatement(f);
    if (name == null) {
      return null;
    }
    if (name.isEmpty()) {
      return unitParsesUnnamed() ? null : unnamedText;
    }
    Statement s = statements.get(name);
    if (s == null) {
      return null;
    }
    ByteBuf parse = s.parse();
    return io.halo.proxy.pg.message.ClientMessages.parseText(
        parse.slice(parse.readerIndex() + 5, parse.readableBytes() - 5));
  }

  /**
   * Asks the primary (a hidden query, behind whatever it is answering) which of {@code names} are
   * volatile, and remembers the answer for the listener. When the primary errs or does not answer
   * within {@link #FUNCTION_LOOKUP_TIMEOUT_MS}, the unit goes on with the classifier's built-in
   * list of writing functions.
   */
  private void lookUpFunctions(List<String> names) {
    StringBuilder sql =
        new StringBuilder(
            "SELECT string_agg(DISTINCT proname::text, ',') FROM pg_catalog.pg_proc WHERE provolatile = 'v' AND proname IN (");
    for (int i = 0; i < names.size(); i++) {
      // E'' strings read backslashes the same whatever standard_conforming_strings says
      sql.append(i == 0 ? "E'" : ",E'")
          .append(names.get(i).replace("\\", "\\\\").replace("'", "''"))
          .append('\'');
    }
    sql.append(')');
    functionLookup = true;
    boolean[] finished = {false};
    String database = session.database();
    io.halo.proxy.session.FunctionCatalogue catalogue = stats.functions();
    io.netty.util.concurrent.ScheduledFuture<?> timer =
        client
            .eventLoop()
            .schedule(
                () -> {
                  if (!finished[0]) {
                    finished[0] = true;
                    functionLookup = false;
                    functionsChecked = true;
                    log.debug(
                        "[{}] {}: the primary did not say in time whether {} write; using the built-in list",
                        listener.name(),
                        session,
                        names);
                    resume();
                  }
                },
                FUNCTION_LOOKUP_TIMEOUT_MS,
                TimeUnit.MILLISECONDS);
    hiddenQuery(
        primary,
        sql.toString(),
        e -> {
          if (e.error == null) {
            java.util.Set<String> writing = new java.util.HashSet<>();
            if (e.value != null) {
              int from = 0;
              for (int comma = e.value.indexOf(','); ; comma = e.value.indexOf(',', from)) {
                writing.add(e.value.substring(from, comma < 0 ? e.value.length() : comma));
                if (comma < 0) {
                  break;
                }
                from = comma + 1;
              }
            }
            names.forEach(n -> catalogue.learned(database, n, writing.contains(n)));
          } else {
            log.debug(
                "[{}] {}: looking up {} on the primary failed ({}); using the built-in list",
                listener.name(),
                session,
                names,
                e.error);
          }
          if (!finished[0]) {
            finished[0] = true;
            timer.cancel(false);
            functionLookup = false;
            if (e.error != null) {
              functionsChecked = true;
            }
            resume();
          }
        });
  }

  private StatementKind queryKind(PgFrame f) {
    String text = statementText(f);
    return text == null ? StatementKind.WRITE : stats.classify(text, rules);
  }

  /** The SQL text of a Query or Parse message, or null when the message is malformed. */
  private static String statementText(PgFrame f) {
    return f.type() == 'P'
        ? io.halo.proxy.pg.message.ClientMessages.parseText(f.body())
        : io.halo.proxy.pg.message.ClientMessages.queryText(f.body());
  }

  private StatementKind boundKind(PgFrame f) {
    return statementKind(io.halo.proxy.pg.message.ClientMessages.bindStatement(f.body()));
  }

  private StatementKind describedKind(PgFrame f) {
    ByteBuf body = f.body();
    if (body.getByte(body.readerIndex()) != 'S') {
      return null; // a portal: its Bind decided
    }
    return statementKind(
        io.halo.proxy.pg.message.ClientMessages.cstring(body, body.readerIndex() + 1));
  }

  private StatementKind statementKind(String name) {
    if (name == null) {
      return StatementKind.WRITE;
    }
    if (name.isEmpty()) {
      return unitParsesUnnamed() ? null : unnamedKind;
    }
    Statement s = statements.get(name);
    return s == null ? StatementKind.WRITE : s.kind();
  }

  private boolean bindsUnnamedWithoutParse() {
    if (unitParsesUnnamed()) {
      return false;
    }
    for (PgFrame f : unit) {
      String name = f.type() == 'B' || f.type() == 'D' ? referencedStatement(f) : null;
      if (name != null && name.isEmpty()) {
        return true;
      }
    }
    return false;
  }

  private boolean unitParsesUnnamed() {
    for (PgFrame f : unit) {
      if (f.type() == 'P' && f.body().getByte(f.body().readerIndex()) == 0) {
        return true;
      }
    }
    return false;
  }

  private void pin() {
    if (!pinned) {
      pinned = true;
      stats.pinned();
      log.debug("[{}] session {} pinned to the primary", listener.name(), session);
    }
  }

  /**
   * Notes the unit's setting; it is kept once the primary has run it ({@link #settingAnswered}).
   */
  private void keepSetting() {
    String text = unitText();
    if (text == null || keptBytes + settings.bytes() + text.length() > MAX_KEPT_BYTES) {
      pin();
      return;
    }
    unitSetting = text;
  }

  /**
   * The primary answered a client's setting: kept (and known to be applied there) when it ran
   * without error and the session is outside a transaction; inside one (a pipelined BEGIN ahead of
   * it) it may still roll back, so the session stays on the primary instead, as for any setting
   * inside a transaction; a failed setting is forgotten.
   */
  private void settingAnswered(Backend b, Expect e, byte status) {
    if (e.error != null) {
      log.debug(
          "[{}] {}: \"{}\" failed on the primary; not replayed: {}",
          listener.name(),
          session,
          e.setting,
          e.error);
    } else if (status == 'I') {
      settings.succeeded(e.setting);
      PgSettings.apply(b.applied, e.setting);
    } else {
      pin();
    }
  }

  /** The single statement text of the unit (a Query, or one Parse), or null. */
  private String unitText() {
    String text = null;
    for (PgFrame f : unit) {
      if (f.type() == 'Q' || f.type() == 'P') {
        if (text != null) {
          return null;
        }
        text = statementText(f);
        if (text == null) {
          return null;
        }
      }
    }
    return text;
  }

  /** A replica for a read, honouring read-your-writes; the primary when none fits; null = wait. */
  private Backend readTarget() {
    if (last != null && last != replica && !last.idle()) {
      return null; // the transaction state is known once the previous request is answered
    }
    if (replica != null
        && replica.idle()
        && replica.channel != null
        && !listener.router().inRotation(replica.node.name())) {
      log.debug("[{}] {}: replica {} left rotation", listener.name(), session, replica);
      replica
          .channel
          .writeAndFlush(PgMessages.terminate(replica.channel.alloc()))
          .addListener(ChannelFutureListener.CLOSE);
      replica = null;
    }
    if (replica == null) {
      if (System.nanoTime() - replicaRetryAt < 0) {
        return primary;
      }
      RouteResult r =
          listener
              .router()
              .routeReplica(
                  new RouteRequest(
                      session.user(),
                      session.database(),
                      session.backendParameters().get("application_name"),
                      client.remoteAddress()));
      if (!(r instanceof RouteResult.Routed routed)) {
        return primary; // counted as a read on the primary when sent
      }
      replica = new Backend(false);
      replica.node = routed.backend();
    }
    if (!functionsChecked) {
      if (functionLookup) {
        return null;
      }
      if (primary.channel == null) {
        return primary; // reconnecting after a switchover: its catalogue cannot be asked yet
      }
      Boolean writes = callsWritingFunction();
      if (writes == null) {
        return null;
      }
      functionsChecked = true;
      if (writes) {
        unitKind = StatementKind.WRITE; // a volatile function may write: the primary
        dirty = true;
        return primary;
      }
    }
    if (replica.channel == null) {
      return replica; // dispatch connects it
    }
    if (!readYourWrites) {
      return replica;
    }
    if (dirty) {
      dirty = false;
      hiddenQuery(
          primary,
          "SELECT pg_current_wal_lsn()",
          e -> {
            needLsn = e.value == null ? Long.MAX_VALUE : parseLsn(e.value);
            resume();
          });
      return null;
    }
    if (needLsn < 0 || replica.replayed >= needLsn) {
      rywSince = 0;
      return replica;
    }
    if (!replica.idle()) {
      return null;
    }
    Backend checked = replica;
    hiddenQuery(
        checked,
        "SELECT pg_last_wal_replay_lsn()",
        e -> {
          checked.replayed = e.value == null ? -1 : parseLsn(e.value);
          if (checked.replayed >= needLsn) {
            // needLsn stays: a replica that replaces this one must show it has replayed it too
            resume();
            return;
          }
          long now = System.nanoTime();
          if (rywSince == 0) {
            rywSince = now;
          }
          if (now - rywSince < rywWaitNanos) {
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
          } else {
            rywSince = 0;
            stats.readYourWritesOnPrimary();
            primaryOnce = true;
            resume();
          }
        });
    return null;
  }

  /** Sends the unit to {@code b}: first what {@code b} lacks (closes, settings, statements). */
  private void send(Backend b, boolean complete) {
    prelude(b);
    for (PgFrame f : unit) {
      sendOne(b, f);
    }
    if (unitSetting != null) {
      if (complete && b.isPrimary && !b.expects.isEmpty()) {
        b.expects.peekLast().setting = unitSetting;
      } else {
        pin(); // not a plain setting on the primary after all
      }
      unitSetting = null;
    }
    if (b.isPrimary) {
      if (unitKind == StatementKind.READ && !primaryOnce) {
        stats.readOnPrimary(); // (read_your_writes counted it when it chose the primary)
      }
    } else {
      stats.readOnReplica();
    }
    unit.clear();
    unitBytes = 0;
    unitKind = null;
    functionsChecked = false;
    primaryOnce = false;
    if (!complete) {
      open = b;
    }
    b.channel.flush();
  }

  /** Writes one client message to {@code b}, keeping the statement books and the reply count. */
  private void sendOne(Backend b, PgFrame f) {
    byte t = f.type();
    if (t == 'P') {
      parsed(b, f);
    } else if (t == 'C' && f.body().getByte(f.body().readerIndex()) == 'S') {
      closedStatement(
          b, io.halo.proxy.pg.message.ClientMessages.cstring(f.body(), f.body().readerIndex() + 1));
    }
    if (t == 'Q' || t == 'S' || t == 'F') {
      b.expects.add(new Expect(null));
      if (t == 'S') {
        session.syncSent();
      } else {
        session.requestSent();
      }
    } else {
      session.extendedStarted();
    }
    last = b;
    session.cancelTarget(b.node, b.processId, b.secret);
    write(b.channel, f);
    if (open == b) {
      b.channel.flush();
    }
  }

  private void parsed(Backend b, PgFrame f) {
    ByteBuf body = f.body();
    String name = io.halo.proxy.pg.message.ClientMessages.cstring(body, body.readerIndex());
    StatementKind kind = queryKind(f);
    if (name == null) {
      return;
    }
    if (name.isEmpty()) {
      unnamedOn = b;
      unnamedKind = kind;
      unnamedText = statementText(f);
      return;
    }
    Statement old = statements.remove(name);
    if (old != null) {
      keptBytes -= old.parse().readableBytes();
      old.parse().release();
    }
    if (keptBytes + body.readableBytes() > MAX_KEPT_BYTES) {
      pin();
      return;
    }
    ByteBuf copy = client.alloc().buffer(5 + body.readableBytes());
    copy.writeByte('P')
        .writeInt(4 + body.readableBytes())
        .writeBytes(body, body.readerIndex(), body.readableBytes());
    keptBytes += copy.readableBytes();
    long generation = ++generations;
    statements.put(name, new Statement(copy, kind, generation));
    b.prepared.put(name, generation);
  }

  private void closedStatement(Backend b, String name) {
    if (name == null || name.isEmpty()) {
      return;
    }
    Statement s = statements.remove(name);
    if (s != null) {
      keptBytes -= s.parse().readableBytes();
      s.parse().release();
    }
    b.prepared.remove(name);
    for (Backend other : new Backend[] {primary, replica}) {
      if (other != null && other != b && other.prepared.remove(name) != null) {
        other.closes.add(name);
      }
    }
  }

  /**
   * Hidden requests {@code b} needs before the unit: stale closes, settings, missing statements.
   */
  private void prelude(Backend b) {
    ByteBuf out = null;
    List<String> replayed = new ArrayList<>();
    for (String name : b.closes) {
      out = append(out, closeStatement(name));
    }
    b.closes.clear();
    for (PgFrame f : unit) {
      String name = referencedStatement(f);
      if (name == null || name.isEmpty()) {
        continue;
      }
      Statement s = statements.get(name);
      Long have = b.prepared.get(name);
      if (s != null && (have == null || have != s.generation()) && !parsesInUnit(name)) {
        if (have != null) {
          out = append(out, closeStatement(name));
        }
        out = append(out, s.parse().retainedDuplicate());
        b.prepared.put(name, s.generation());
        replayed.add(name);
      }
    }
    if (out != null) {
      out.writeBytes(syncMessage());
      b.expects.add(
          new Expect(
              e -> {
                if (e.error != null) {
                  // Not prepared there after all: the client's Bind gets the server's error now,
                  // and the
                  // next use prepares it again.
                  log.debug(
                      "[{}] replaying statements on {} for {}: {}",
                      listener.name(),
                      b,
                      session,
                      e.error);
                  replayed.forEach(b.prepared::remove);
                }
              }));
      b.channel.write(out);
    }
    for (String setting : settings.replay(b.applied)) {
      hiddenQuery(
          b,
          setting,
          e -> {
            if (e.error != null) {
              log.info(
                  "[{}] replaying \"{}\" on {} for {} failed: {}",
                  listener.name(),
                  setting,
                  b,
                  session,
                  e.error);
            }
          });
    }
  }

  private boolean parsesInUnit(String name) {
    for (PgFrame f : unit) {
      if (f.type() == 'P'
          && name.equals(
              io.halo.proxy.pg.message.ClientMessages.cstring(f.body(), f.body().readerIndex()))) {
        return true;
      }
    }
    return false;
  }

  private static String referencedStatement(PgFrame f) {
    ByteBuf body = f.body();
    if (f.type() == 'B') {
      int portalEnd = body.indexOf(body.readerIndex(), body.writerIndex(), (byte) 0);
      return portalEnd < 0
          ? null
          : io.halo.proxy.pg.message.ClientMessages.cstring(body, portalEnd + 1);
    }
    if (f.type() == 'D' && body.getByte(body.readerIndex()) == 'S') {
      return io.halo.proxy.pg.message.ClientMessages.cstring(body, body.readerIndex() + 1);
    }
    return null;
  }

  private ByteBuf closeStatement(String name) {
    byte[] n = name.getBytes(StandardCharsets.UTF_8);
    ByteBuf b = client.alloc().buffer(7 + n.length);
    b.writeByte('C').writeInt(6 + n.length).writeByte('S').writeBytes(n).writeByte(0);
    return b;
  }

  private ByteBuf append(ByteBuf out, ByteBuf msg) {
    if (out == null) {
      out = client.alloc().buffer(msg.readableBytes() + 64);
    }
    out.writeBytes(msg);
    msg.release();
    return out;
  }

  private static byte[] syncMessage() {
    return new byte[] {'S', 0, 0, 0, 4};
  }

  /**
   * Sends Halo's own simple query to {@code b}; its replies are consumed and handed to {@code
   * done}.
   */
  private void hiddenQuery(Backend b, String sql, Consumer<Expect> done) {
    byte[] text = sql.getBytes(StandardCharsets.UTF_8);
    ByteBuf q = client.alloc().buffer(6 + text.length);
    q.writeByte('Q').writeInt(5 + text.length).writeBytes(text).writeByte(0);
    Expect e = new Expect(done);
    b.expects.add(e);
    // Bounded like every internal request (a position probe re-polls within read_your_writes_wait)
    long ms =
        io.halo.proxy.session.HiddenQueries.boundMillis(
            listener.server(), listener.listener().readYourWritesWait());
    e.timer =
        client.eventLoop().schedule(() -> hiddenTimedOut(b, e, sql, ms), ms, TimeUnit.MILLISECONDS);
    b.channel.writeAndFlush(q);
  }

  /**
   * Halo's own query got no reply in time (a hung backend). On a replica that owes nothing else,
   * the replica is dropped and the waiting read goes to the primary; otherwise the session ends
   * with a FATAL naming the backend, since what it owes cannot be answered any more.
   */
  private void hiddenTimedOut(Backend b, Expect e, String sql, long ms) {
    if (closed || !b.expects.contains(e)) {
      return;
    }
    if (b == replica && b.expects.stream().allMatch(x -> x.hidden != null)) {
      io.halo.proxy.session.HiddenQueries.replicaDropped(
          log, listener.name(), session, b.node.name(), sql, ms);
      replica = null;
      replicaRetryAt = System.nanoTime() + REPLICA_RETRY_NANOS;
      b.expects.forEach(
          x -> {
            if (x.timer != null) {
              x.timer.cancel(false);
            }
          });
      b.expects.clear();
      if (b.channel != null) {
        b.channel.close();
      }
      if (last == b) {
        last = null;
      }
      rechecking = false;
      rywSince = 0;
      primaryOnce = true;
      stats.readYourWritesOnPrimary();
      resume();
      return;
    }
    session.terminate(
        SqlState.CONNECTION_FAILURE,
        io.halo.proxy.session.HiddenQueries.sessionEnds(
            log, listener.name(), session, b.node.name(), sql, ms));
  }

  private void connect(Backend b) {
    if (b.channel != null || b.node == null || b.connecting) {
      return;
    }
    b.connecting = true;
    Future<PgBackendConnection> f =
        PgBackendConnector.connect(
            client.eventLoop(),
            listener.transports(),
            b.node,
            session.userConfig().backendUser(),
            session.userConfig().backendPassword(),
            session.backendParameters(),
            listener.server().backendConnectTimeout(),
            (int) listener.server().maxMessageSize(),
            listener.scramKeys());
    f.addListener(
        done -> {
          b.connecting = false;
          if (closed) {
            if (done.isSuccess()) {
              f.getNow().channel().close();
            }
            return;
          }
          if (done.isSuccess() && b != primary && b != replica) {
            f.getNow().startupMessages().forEach(ByteBuf::release);
            f.getNow().channel().close(); // replaced while it connected (switchover)
            return;
          }
          if (done.isSuccess()) {
            PgBackendConnection c = f.getNow();
            c.startupMessages().forEach(ByteBuf::release);
            attach(b, c);
            if (b.isPrimary) {
              session.rebound(c.node(), c.processId(), c.secret(), c.channel());
            }
          } else if (b.isPrimary) {
            session.terminate(SqlState.CANNOT_CONNECT, done.cause().getMessage());
            return;
          } else {
            log.warn(
                "[{}] {}: replica {} unavailable for reads, using the primary: {}",
                listener.name(),
                session,
                b.node.name(),
                done.cause().getMessage());
            replica = null;
            replicaRetryAt = System.nanoTime() + REPLICA_RETRY_NANOS;
          }
          resume();
        });
  }

  // ------------------------------------------------------------------ backend side

  private void fromBackend(Backend b, PgFrame f) {
    Expect e = b.expects.peek();
    byte t = f.type();
    if (e == null) {
      // Between requests a backend may still speak: notices, parameter changes, notifications.
      if (b.isPrimary || t == 'N') {
        write(client, f);
      } else {
        f.release();
      }
      return;
    }
    if (e.hidden != null) {
      if (t == 'D' && e.value == null) {
        e.value = firstColumn(f.body());
      } else if (t == 'E') {
        e.error = errorMessage(f.body());
      }
      f.release();
      if (t == 'Z') {
        b.expects.poll();
        if (e.timer != null) {
          e.timer.cancel(false);
        }
        e.hidden.accept(e);
        replied(b);
      }
      return;
    }
    byte status = t == 'Z' ? f.body().getByte(f.body().readerIndex()) : 0;
    if (t == 'E' && e.setting != null) {
      e.error = errorMessage(f.body());
    }
    if (t == 'G') {
      b.copyIn = true; // CopyInResponse: client data follows, up to CopyDone or CopyFail
    } else if (t == 'Z') {
      b.copyIn = false;
    }
    write(client, f);
    if (t == 'Z') {
      b.expects.poll();
      if (e.setting != null) {
        settingAnswered(b, e, status);
      }
      txStatus = status;
      txBackend = status == 'I' ? null : b;
      session.replyReceived(status);
      replied(b);
    }
  }

  private void replied(Backend b) {
    if (parked && b.idle() && !rechecking) {
      client.flush();
      resume();
    }
  }

  private void backendClosed(Backend b) {
    if (closed || ending || (b != primary && b != replica)) {
      return; // expected, or a connection already replaced (switchover, replica left rotation)
    }
    if (!b.isPrimary && b.idle() && open != b) {
      log.info(
          "[{}] replica {} closed the read connection of {}; reads go elsewhere",
          listener.name(),
          b,
          session);
      if (replica == b) {
        replica = null;
      }
      return;
    }
    log.warn(
        "[{}] backend {} closed the connection of {}",
        session.listener().name(),
        io.halo.proxy.session.BackendText.forLog(b.node),
        session);
    session.terminate(
        SqlState.CONNECTION_FAILURE,
        "backend " + b.node.name() + " closed the connection unexpectedly");
  }

  // ------------------------------------------------------------------ switchover and end

  /**
   * Switchover (the session is held between transactions): a pinned session on the old primary
   * ends; any other drops its old primary connection and logs in to {@code next} on its next write,
   * with its settings and statements replayed there on demand.
   */
  void primaryChanged(BackendNode next) {
    if (closed || next == null || next.name().equals(primary.node.name())) {
      return;
    }
    if (pinned || !primary.idle() || txStatus != 'I' || (replica != null && !replica.idle())) {
      session.terminate(
          SqlState.ADMIN_SHUTDOWN,
          "switchover to "
              + next.name()
              + (pinned
                  ? ": this session holds state on the old primary (temporary tables, locks, LISTEN); reconnect"
                  : ": this session still had work in flight when the hold ended; reconnect"));
      return;
    }
    Channel old = primary.channel;
    if (unnamedOn == primary) {
      unnamedOn = null;
    }
    primary = new Backend(true);
    primary.node = next;
    session.boundTo(next);
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
      old.writeAndFlush(PgMessages.terminate(old.alloc())).addListener(ChannelFutureListener.CLOSE);
    }
  }

  /** Lets a held session go on. */
  void resumeAfterHold() {
    client.eventLoop().execute(this::resume);
  }

  private void end() {
    if (closed) {
      return;
    }
    ending = true;
    session.state(SessionState.CLOSING);
    for (Backend b : new Backend[] {primary, replica}) {
      if (b != null && b.channel != null && b.channel.isActive()) {
        b.channel
            .writeAndFlush(PgMessages.terminate(b.channel.alloc()))
            .addListener(ChannelFutureListener.CLOSE);
      }
    }
    client.close();
  }

  /** Releases everything (the client connection is gone). */
  void closed() {
    if (closed) {
      return;
    }
    closed = true;
    session.gate().abandon();
    stats.sessionEnded(pinned);
    for (Backend b : new Backend[] {primary, replica}) {
      if (b != null && b.channel != null && b.channel.isActive()) {
        b.channel.writeAndFlush(Unpooled.EMPTY_BUFFER).addListener(ChannelFutureListener.CLOSE);
      }
    }
    inbox.forEach(PgFrame::release);
    inbox.clear();
    unit.forEach(PgFrame::release);
    unit.clear();
    statements.values().forEach(s -> s.parse().release());
    statements.clear();
  }

  /** Closes the backend connections now (Halo ends the session). */
  void closeBackends() {
    SplitChannels.quit(backendChannels(), SplitChannels.PG_TERMINATE);
  }

  /** The session's open backend connections (primary, replica). */
  private java.util.List<Channel> backendChannels() {
    return SplitChannels.of(
        primary == null ? null : primary.channel, replica == null ? null : replica.channel);
  }

  private boolean backendsWritable() {
    return SplitChannels.allWritable(backendChannels());
  }

  // ------------------------------------------------------------------ helpers

  /** Writes a framed message as it came (no copy). */
  private static void write(Channel to, PgFrame f) {
    to.write(f.retainedMessage(), to.voidPromise());
    f.release();
  }

  /** A PostgreSQL LSN ("16/B374D848") as a number; -1 when it is not one. */
  static long parseLsn(String text) {
    int slash = text.indexOf('/');
    try {
      return slash < 0
          ? -1
          : (Long.parseLong(text.substring(0, slash), 16) << 32)
              | Long.parseLong(text.substring(slash + 1), 16);
    } catch (NumberFormatException e) {
      return -1;
    }
  }

  private static String firstColumn(ByteBuf body) {
    int i = body.readerIndex();
    if (body.readableBytes() < 6 || body.getShort(i) < 1) {
      return null;
    }
    int len = body.getInt(i + 2);
    return len < 0 ? null : body.toString(i + 6, len, StandardCharsets.UTF_8);
  }

  private static String errorMessage(ByteBuf body) {
    int i = body.readerIndex();
    while (i < body.writerIndex() && body.getByte(i) != 0) {
      byte code = body.getByte(i);
      int end = body.indexOf(i + 1, body.writerIndex(), (byte) 0);
      if (end < 0) {
        break;
      }
      if (code == 'M') {
        return body.toString(i + 1, end - i - 1, StandardCharsets.UTF_8);
      }
      i = end + 1;
    }
    return "error";
  }

  // ------------------------------------------------------------------ handlers

  private final class ClientHandler extends ChannelInboundHandlerAdapter {
    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
      if (msg instanceof PgFrameError e) {
        log.info("[{}] closing session {}: {}", listener.name(), session, e.message());
        closeBackends();
        ctx.writeAndFlush(PgMessages.fatal(ctx.alloc(), SqlState.PROTOCOL_VIOLATION, e.message()))
            .addListener(ChannelFutureListener.CLOSE);
        return;
      }
      fromClient((PgFrame) msg);
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
      session.unregister();
      session.state(SessionState.CLOSING);
      closed();
      ctx.fireChannelInactive();
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
      if (cause instanceof IOException) {
        log.debug(
            "[{}] client connection of {} failed: {}", listener.name(), session, cause.toString());
      } else {
        log.warn("[{}] client connection of {} failed", listener.name(), session, cause);
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
      if (msg instanceof PgFrameError e) {
        log.warn(
            "[{}] backend {} broke the protocol ({}); closing {}",
            listener.name(),
            backend,
            e.message(),
            session);
        session.terminate(
            SqlState.PROTOCOL_VIOLATION,
            "backend " + backend + " broke the protocol; the session is closed");
        return;
      }
      if (closed) {
        ((PgFrame) msg).release();
        return;
      }
      fromBackend(backend, (PgFrame) msg);
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
      if (ctx.channel().isWritable() && !parked && inbox.isEmpty() && !closed) {
        client.config().setAutoRead(backendsWritable());
      } else if (!ctx.channel().isWritable()) {
        client.config().setAutoRead(false);
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
          "[{}] backend {} connection of {} failed: {}",
          listener.name(),
          backend,
          session,
          cause.toString());
      ctx.close();
    }
  }
}

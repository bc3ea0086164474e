package io.halo.proxy.pg;

import io.halo.health.state.BackendNode;
import io.halo.proxy.pg.message.PgFrame;
import io.halo.proxy.pg.message.PgFrameDecoder;
import io.halo.proxy.pg.message.PgFrameError;
import io.halo.proxy.pg.message.PgMessages;
import io.halo.proxy.session.SessionState;
import io.halo.proxy.session.SplitChannels;
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
import io.netty.util.concurrent.Future;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The PostgreSQL adapter of the split engine ({@link SplitRelay}): framing, classification of a
 * request's statements, the statements and settings a connection needs replayed, and how replies
 * end. Size: the extended protocol's statement books (named and unnamed statements, kept Parses,
 * replay and close on each connection) and the function lookups are protocol work with no twin; the
 * routing flow itself lives in the engine.
 *
 * <ul>
 *   <li><b>Unit of routing.</b> A request is everything up to the message that ends it with a
 *       ReadyForQuery: a simple Query, a FunctionCall, or an extended-protocol batch up to its Sync
 *       (an implicit transaction, so never split). A batch is buffered until its Sync (at most
 *       {@link #MAX_UNIT_BYTES}); a Flush or a bigger batch sends it to the primary as it comes.
 *   <li><b>Classification.</b> The kind of every statement in the request (the text of a Query or
 *       Parse, and for a Bind of a named statement the kind recorded when it was parsed), combined;
 *       a read goes to a replica only when no function it calls is volatile by the primary's
 *       catalogue (looked up once per name, {@link io.halo.proxy.session.FunctionCatalogue}).
 *       Settings the primary accepted outside a transaction are replayed on other connections
 *       ({@link PgSettings}); a setting inside a transaction pins (a rollback may undo it).
 *   <li><b>Prepared statements.</b> A named statement executes on a backend where it is prepared,
 *       or is prepared there first: Halo keeps each named Parse and sends it, hidden, ahead of the
 *       request. A client Close is applied to every backend that has the statement.
 *   <li><b>Replies.</b> Each ends with a ReadyForQuery; a hidden one's are consumed.
 *   <li><b>Read-your-writes.</b> The primary's {@code pg_current_wal_lsn()} against the replica's
 *       {@code pg_last_wal_replay_lsn()}, re-asked within {@code read_your_writes_wait}.
 * </ul>
 *
 * <p>Memory is bounded: the client is not read while a request waits, a request is at most {@link
 * #MAX_UNIT_BYTES}, kept statements and settings are capped (beyond them the session is pinned to
 * the primary, which needs neither).
 */
final class PgSplitRelay extends SplitRelay<PgFrame, PgSplitRelay.Backend, PgBackendConnection> {

  private static final Logger log = LoggerFactory.getLogger(PgSplitRelay.class);
  static final int MAX_UNIT_BYTES = 1 << 20;
  private static final int MAX_KEPT_BYTES = 1 << 20;

  /**
   * What holding one message costs beyond its bytes (its frame, slice and list or map entry),
   * counted against the bounds above: a megabyte of five-byte messages is some 30 MB of objects.
   */
  static final int ENTRY_BYTES = 128;

  /** The unnamed statement's text is kept up to this length (longer: its kind only). */
  private static final int MAX_UNNAMED_TEXT = 64 * 1024;

  /** How long a read waits for the primary's catalogue to say whether its functions write. */
  static final long FUNCTION_LOOKUP_TIMEOUT_MS = 2_000;

  /** WAL positions: the primary's current one, the replica's replayed one. */
  static final PositionProbe<Long> WAL =
      new PositionProbe<>() {
        @Override
        public String primaryQuery() {
          return "SELECT pg_current_wal_lsn()";
        }

        @Override
        public Long required(String value) {
          long lsn = value == null ? -1 : parseLsn(value);
          if (lsn < 0) {
            throw new IllegalArgumentException("not a WAL position: " + value);
          }
          return lsn;
        }

        @Override
        public String replicaQuery(Long required, Duration wait) {
          return "SELECT pg_last_wal_replay_lsn()";
        }

        @Override
        public Long reached(String value, Long required) {
          long lsn = value == null ? -1 : parseLsn(value);
          return lsn < 0 ? null : lsn;
        }

        @Override
        public boolean covers(Long reached, Long required) {
          return reached != null && reached >= required;
        }

        @Override
        public boolean waitsOnServer() {
          return false;
        }
      };

  private final PgSession session;
  private final PgListenerContext listener;

  private final List<PgFrame> unit = new ArrayList<>();
  private int unitBytes;

  /** The buffered unit ends with a Sync, Query or FunctionCall (else a Flush or size sent it). */
  private boolean complete;

  /**
   * The backend receiving a unit whose end has not arrived (after a Flush or an oversized batch).
   */
  private Backend open;

  /**
   * A statement sent on behind a Flush to the standby {@link #open} points at would have left state
   * there (see {@link #sentOn}): it was not sent; a Sync of Halo's ends the standby's part at once,
   * and the client gets the error as soon as the standby's replies before it (as a server answers
   * an error at once); what the client sends up to its own Sync is dropped, as a server drops it
   * after an error, and that Sync gets the ReadyForQuery.
   */
  private boolean refusing;

  /**
   * A unit sent ahead of its Sync (a Flush, or past 1 MB) was refused before it reached a backend
   * (the pool stayed full): the client has the error; what it sends up to its Sync is dropped, as a
   * server drops it after an error, and that Sync gets the ReadyForQuery.
   */
  private boolean skipToSync;

  /**
   * The primary's {@code standard_conforming_strings} as it last reported it (at the login, then by
   * ParameterStatus; on by default since PostgreSQL 9.1): off, backslashes escape in every string,
   * and statements are classified so.
   */
  private boolean standardStrings;

  /** The unit {@link #open} points at got an error (its server then drops all up to the Sync). */
  private boolean openFailed;

  /** The refusal's Sync on the standby, while the client's own Sync has not come. */
  private Owed refusalSync;

  /** The standby's ReadyForQuery status for the refusal's Sync, once it came; else 0. */
  private byte refusalStatus;

  private byte txStatus = 'I';
  private Backend txBackend;

  /** The functions the buffered unit calls have been checked against the primary's catalogue. */
  private boolean functionsChecked;

  /** The primary's catalogue is being asked about the buffered unit's functions. */
  private boolean functionLookup;

  /** The settings the primary has accepted, replayed on the session's other connections. */
  private final PgSettings settings = new PgSettings();

  /** The text of the buffered SESSION unit, kept if the primary runs it without error. */
  private String unitSetting;

  private final Map<String, Statement> statements = new HashMap<>();

  /** A Parse of the buffered unit, its text and kind as {@link #classifyUnit} found them. */
  private record ParseSeen(PgFrame frame, String text, StatementKind kind) {}

  /**
   * The buffered unit's Parse messages as classified (each text decoded and classified once), in
   * the unit's order: {@link #parsed} takes them from the head as the unit is sent, so a unit of
   * many Parses (up to {@link #MAX_UNIT_BYTES}) costs no search per Parse.
   */
  private final ArrayDeque<ParseSeen> parses = new ArrayDeque<>();

  /**
   * Transaction mode, per role (0 the primary, 1 a replica): the pool key of the role's last
   * checkout (a leg lasts one transaction).
   */
  private final PgPool.Key[] poolKeys = new PgPool.Key[2];

  /** The login for each key of {@link #poolKeys}, when its pool needs one. */
  @SuppressWarnings({"unchecked", "rawtypes"}) // an array of one generic type, filled by open()
  private final java.util.function.Supplier<Future<PgBackendConnection>>[] logins =
      new java.util.function.Supplier[2];

  private int keptBytes;

  /** Where the unnamed statement was last parsed. */
  private Backend unnamedOn;

  private StatementKind unnamedKind = StatementKind.WRITE;
  private String unnamedText;

  /** A named statement of the client: its Parse (whole message) and its kind. */
  private record Statement(ByteBuf parse, StatementKind kind) {}

  /**
   * What PostgreSQL keeps per backend connection, as Halo knows it: the connection's cancel key,
   * its named statements (each the whole Parse message it was prepared with, least recently used
   * first) and settings. Kept with the channel ({@link #BOOK}), so that a pooled connection
   * (transaction mode) brings it to the next session that takes it. Owned by the channel's loop.
   */
  static final class Book {
    final int processId;
    final int secret;
    final java.util.LinkedHashMap<String, ByteBuf> prepared =
        new java.util.LinkedHashMap<>(16, 0.75f, true);
    final List<String> closes = new ArrayList<>();

    /**
     * Statement names the clients' Parse and Close messages named since the connection's last
     * ReadyForQuery: noted when sent, but a server that met an error skipped them up to the Sync
     * (and a Parse may fail itself). After an error they are closed and forgotten ({@link
     * #settle}): a missing one is prepared again when next used, and a skipped Close leaves none
     * behind for another session's Parse of that name to collide with.
     */
    final java.util.Set<String> touched = new java.util.LinkedHashSet<>();

    /** The characters of the names in {@link #touched}. */
    private int touchedChars;

    /**
     * More names than {@link #MAX_TOUCHED}, or longer together than {@link #MAX_TOUCHED_CHARS},
     * were touched (a client's Close may name anything up to the message limit): all the book's are
     * doubted.
     */
    boolean touchedOverflow;

    /** The reply under way had an ErrorResponse. */
    boolean failed;

    static final int MAX_TOUCHED = 1024;
    static final int MAX_TOUCHED_CHARS = 64 * 1024;

    void touch(String name) {
      if (touched.contains(name)) {
        return;
      }
      if (touched.size() < MAX_TOUCHED && touchedChars + name.length() <= MAX_TOUCHED_CHARS) {
        touched.add(name);
        touchedChars += name.length();
      } else {
        touchedOverflow = true;
      }
    }

    /** The last reply owed on the connection ended (its ReadyForQuery): see {@link #touched}. */
    void settle() {
      if (failed) {
        java.util.Set<String> doubted = new java.util.LinkedHashSet<>(touched);
        if (touchedOverflow) {
          doubted.addAll(prepared.keySet());
        }
        for (String name : doubted) {
          // only what the book believes prepared is doubted: a name it does not have (a Close
          // sent, a statement beyond what a pinned session keeps) is closed first wherever it
          // could matter (closesForeign), and closing a pinned session's own would lose it
          if (forget(name)) {
            closes.add(name);
          }
        }
      }
      touched.clear();
      touchedChars = 0;
      touchedOverflow = false;
      failed = false;
    }

    /** The settings this connection has, as {@link PgSettings} keeps them. */
    final PgSettings.Applied applied = new PgSettings.Applied();

    /**
     * The connection's message decoder once a session attached it (a pooled connection keeps it
     * from one owner to the next): found here without a walk of the pipeline per transaction.
     */
    PgFrameDecoder frames;

    Book(int processId, int secret) {
      this.processId = processId;
      this.secret = secret;
    }

    /** Notes {@code parse} (retained here) as the statement {@code name} of this connection. */
    void prepared(String name, ByteBuf parse) {
      forget(name);
      prepared.put(name, parse.retain());
    }

    /** Forgets the statement {@code name}; true when the connection had it. */
    boolean forget(String name) {
      ByteBuf old = prepared.remove(name);
      if (old != null) {
        old.release();
        return true;
      }
      return false;
    }

    /**
     * Whether the connection has {@code name} prepared from exactly {@code parse}. Once the bytes
     * compared equal, the book keeps {@code parse} itself: the next Binds of this session find it
     * by identity (a 1 MB statement was compared whole at every Bind).
     */
    @SuppressWarnings("ReferenceEquality") // identity first, deliberately: the common case
    boolean has(String name, ByteBuf parse) {
      ByteBuf have = prepared.get(name);
      // the same buffer when this session prepared it here: no byte comparison per Bind
      if (have == parse) {
        return true;
      }
      if (have == null || !io.netty.buffer.ByteBufUtil.equals(have, parse)) {
        return false;
      }
      prepared.put(name, parse.retain()); // (its place in the LRU order moves as get() did)
      have.release();
      return true;
    }

    void release() {
      prepared.values().forEach(ByteBuf::release);
      prepared.clear();
    }
  }

  private static final io.netty.util.AttributeKey<Book> BOOK =
      io.netty.util.AttributeKey.valueOf("halo.pg.book");

  /** A connection of the session: the node, and the book of the connection it has now. */
  static final class Backend extends Leg implements PgFrameDecoder.Passthrough {
    /**
     * The connection's book once attached ({@link #attach}); null before (a leg per transaction).
     */
    private Book book;

    Book book() {
      if (book == null) {
        book = new Book(0, 0); // used before it was attached: a book of its own, never shared
      }
      return book;
    }

    /** The backend is in COPY FROM STDIN for the client. */
    boolean copyIn;

    /**
     * Parses and Closes sent in units opened at a Flush, counted from the connection's start (the
     * client's and Halo's own, which {@link #openPrelude} puts among the client's without a Sync),
     * and the ParseComplete / CloseComplete replies counted for them.
     */
    long openParses;

    long openParsesAnswered;
    long openCloses;
    long openClosesAnswered;

    /**
     * The counts (above) of Halo's own Parses and Closes in open units: their replies are dropped.
     */
    java.util.ArrayDeque<Long> hiddenParsesAt;

    java.util.ArrayDeque<Long> hiddenClosesAt;

    /**
     * A COPY FROM STDIN sent with the extended protocol began after its Sync had gone: the server
     * ignored that Sync (as every Sync during copy-in), so the ReadyForQuery owed for it answers
     * the client's next Sync after CopyDone or CopyFail, which owes nothing of its own.
     */
    boolean syncIgnored;

    Backend(boolean isPrimary, BackendNode node) {
      super(isPrimary, node);
    }

    /**
     * What {@link #fromBackend} would only forward: any message of a reply the client waits for,
     * except an error, the end of the reply and the start of a COPY FROM STDIN. Everything between
     * requests, and every reply to Halo's own requests, is framed and looked at.
     */
    @Override
    public boolean passes(byte type) {
      Owed e = next();
      return e != null
          && !e.isHidden()
          && !(e.tag() instanceof OpenEnd && (type == '1' || type == '3')) // counted
          && type != 'E'
          && type != 'Z'
          && type != 'G'
          && type != 'S'; // (a ParameterStatus is looked at: standard_conforming_strings)
    }
  }

  PgSplitRelay(
      PgSession session, io.halo.proxy.session.SplitContext stats, boolean standardStrings) {
    super(
        new Setup(
            session.listener().name(),
            session.listener().listener(),
            session.listener().server(),
            session.listener().router(),
            stats,
            session.gate(),
            session.client(),
            new RouteRequest(
                session.user(),
                session.database(),
                session.backendParameters().get("application_name"),
                session.client().remoteAddress()),
            SplitChannels.PG_TERMINATE),
        WAL);
    this.session = session;
    this.listener = session.listener();
    this.standardStrings = standardStrings;
    // startup parameters its pooled connections did not log in with: set on each of them
    Map<String, String> own = session.backendParameters();
    if (multiplexed) {
      for (String p : PgSession.SET_NOT_KEYED) {
        String v = own.get(p);
        if (v != null) {
          settings.base(p, keptText(PgSettings.set(p, v)));
        }
      }
    }
  }

  /** Installs the relay on the client and the primary connection it logged in with. */
  void start(ChannelHandlerContext frontend, PgBackendConnection connection, List<ByteBuf> early) {
    primary = new Backend(true, connection.node());
    if (connection.channel() != null) {
      adopt(primary, connection);
    } // else transaction pooling logged in without a connection: the first request takes one
    frontend.pipeline().addLast("split", clientHandler());
    for (ByteBuf b : early) {
      // Each early buffer holds exactly one message, as the frontend kept it.
      inbox.add(PgFrame.ofMessage(b));
    }
    stats.sessionStarted();
    releaseIfIdle(); // transaction mode: the login's connection waits in the pool for work
  }

  // ------------------------------------------------------------------ client side

  @Override
  protected void clientRead(Object msg) {
    if (msg instanceof PgFrameError e) {
      log.info("[{}] closing session {}: {}", listener.name(), session, e.message());
      abort();
      emitRun();
      client
          .writeAndFlush(PgMessages.fatal(client.alloc(), SqlState.PROTOCOL_VIOLATION, e.message()))
          .addListener(ChannelFutureListener.CLOSE);
      return;
    }
    inbox.add((PgFrame) msg);
    drain();
  }

  @Override
  protected void handle(PgFrame f) {
    byte t = f.type();
    if (t == 'X') {
      f.release();
      session.state(SessionState.CLOSING);
      end();
      return;
    }
    if (skipToSync) {
      f.release();
      if (t == 'S') {
        skipToSync = false;
        emitRun();
        client.writeAndFlush(PgMessages.readyForQuery(client.alloc(), unrunStatus()));
      }
      return;
    }
    Backend copying = open != null ? open : last;
    if (t == 'd'
        || t == 'c'
        || t == 'f'
        || ((t == 'S' || t == 'H') && copying != null && copying.copyIn)
        || (t == 'S' && copying != null && copying.syncIgnored)) {
      // COPY data goes where its COPY runs; a Sync or Flush during copy-in is ignored by the
      // server (no ReadyForQuery of its own), so it is passed on without expecting one; so is the
      // Sync after the copy whose ReadyForQuery is owed already (Backend.syncIgnored).
      if (copying == null || copying.channel() == null) {
        f.release();
      } else {
        if (t == 'S' && !copying.copyIn) {
          copying.syncIgnored = false;
        }
        if (t == 'c' || t == 'f') {
          copying.copyIn = false;
        }
        write(copying.channel(), f);
      }
      return;
    }
    if (open != null) {
      Backend b = open;
      if (!refusing && (t == 'Q' || t == 'P' || t == 'F')) {
        sentOn(b, f);
      }
      if (refusing) {
        refuseSentOn(b, f);
        return;
      }
      openPrelude(b, f);
      sendOne(b, f);
      if (t == 'S' || t == 'Q' || t == 'F') {
        open = null;
        // the unit's replies up to its ReadyForQuery come with this reply owed: see OpenEnd
        b.lastOwed().tag(new OpenEnd(b.openParses, b.openCloses, t == 'S'));
      }
      return;
    }
    unit.add(f);
    unitBytes += ENTRY_BYTES + f.length();
    if (t == 'Q' || t == 'S' || t == 'F') {
      complete = true;
      dispatch();
    } else if (t == 'H' || unitBytes > MAX_UNIT_BYTES) {
      complete = false;
      dispatch();
    }
  }

  @Override
  protected boolean hasPending() {
    return !unit.isEmpty();
  }

  @Override
  protected boolean holdNow() {
    if (session.mustHold()) {
      session.holdSplit();
      return true;
    }
    return false;
  }

  @Override
  protected Backend transactionLeg() {
    return txStatus != 'I' ? txBackend : null;
  }

  @Override
  protected boolean inTransaction() {
    return txStatus != 'I';
  }

  @Override
  protected long idleTransactionNanos() {
    return listener.pool().idleTransactionNanos();
  }

  @Override
  protected boolean settingsAreTransactional() {
    return true;
  }

  @Override
  protected StatementKind classify() {
    return complete || transactionLeg() != null
        ? classifyUnit()
        : StatementKind.WRITE.and(classifyUnit());
  }

  /** A unit sent after a Flush (no Sync yet) is not gated: it continues work already admitted. */
  @Override
  protected boolean startsWork() {
    return complete;
  }

  /** Answers the buffered unit as a failed statement (53300) without sending it anywhere. */
  @Override
  protected void refuse(String message) {
    answerUnrun(SqlState.TOO_MANY_CONNECTIONS, message);
  }

  @Override
  protected void cancelled() {
    answerUnrun(SqlState.QUERY_CANCELED, PgSession.CANCELED);
  }

  /**
   * The transaction status after an error Halo answers for a unit it did not run: idle outside a
   * transaction; failed inside one, as after a server's error (a session whose transaction was lost
   * with its connection waits for its ROLLBACK).
   */
  private byte unrunStatus() {
    return txStatus == 'I' ? (byte) 'I' : (byte) 'E';
  }

  /** Answers the waiting unit with {@code state} without running it; the session goes on. */
  private void answerUnrun(SqlState state, String message) {
    unitSetting = null; // it never ran
    unit.forEach(PgFrame::release);
    unit.clear();
    parses.clear();
    unitBytes = 0;
    functionsChecked = false;
    emitRun();
    client.write(PgMessages.error(client.alloc(), state, message));
    if (complete) {
      client.writeAndFlush(PgMessages.readyForQuery(client.alloc(), unrunStatus()));
    } else {
      client.flush();
      skipToSync = true; // the ReadyForQuery is the client's Sync's
    }
  }

  @Override
  protected Backend stickyLeg() {
    if (unnamedOn != null && bindsUnnamedWithoutParse()) {
      // the unnamed statement runs where it was parsed
      return unnamedOn.channel() != null && (unnamedOn == primary || unnamedOn == replica)
          ? unnamedOn
          : primary;
    }
    return null;
  }

  @Override
  protected Boolean readMustUsePrimary() {
    if (functionsChecked) {
      return false;
    }
    if (functionLookup) {
      return null;
    }
    if (primary.channel() == null) {
      return true; // reconnecting after a switchover: its catalogue cannot be asked yet
    }
    Boolean writes = callsWritingFunction();
    if (writes == null) {
      return null;
    }
    functionsChecked = true;
    return writes; // a volatile function may write: the primary
  }

  @Override
  protected boolean midRequest(Backend b) {
    return open == b;
  }

  @Override
  protected Backend newLeg(boolean isPrimary, BackendNode node) {
    return new Backend(isPrimary, node);
  }

  @Override
  protected Object who() {
    return session;
  }

  private StatementKind classifyUnit() {
    StatementKind kind = null;
    java.util.Set<String> parsed = null;
    boolean changesFunctions = false;
    parses.clear();
    for (PgFrame f : unit) {
      StatementKind k;
      switch (f.type()) {
        case 'Q', 'P' -> {
          if (f.type() == 'Q' && plainQuery(f.body())) {
            k = StatementKind.WRITE; // by its bytes: no pin, no setting, no transaction control
            break;
          }
          String text = statementText(f);
          k = kindOf(text);
          if (f.type() == 'P') {
            parses.add(new ParseSeen(f, text, k)); // for parsed(), when the unit is sent
          }
          // a statement that creates, changes or drops a function is never a read
          changesFunctions |= k != StatementKind.READ && text != null && definesFunction(text);
        }
        case 'B' -> k = boundKind(f, parsed);
        case 'D' -> k = describedKind(f, parsed);
        case 'E', 'S', 'H', 'C' -> k = null;
        case 'F' -> k = functionCallKind(f.body());
        default -> k = StatementKind.WRITE; // anything unexpected
      }
      parsed = noteParse(parsed, f);
      if (k != null) {
        kind = kind == null ? k : kind.and(k);
      }
    }
    if (changesFunctions) {
      stats.functions().forget(session.database()); // what reads learned of them is stale
    }
    return kind == null ? StatementKind.WRITE : kind;
  }

  /**
   * A statement (Query or Parse) sent on to the connection its unit went to early (behind a Flush,
   * or past the unit's size) is not routed; only whether it leaves state behind is asked: a pin, or
   * a setting (which, sent this way, cannot be kept apart from the rest). On the primary that pins
   * the session. On a standby (the unit was a read) the state would stay on a connection the
   * session does not keep, and the statement's unit cannot move to the primary (what went ahead of
   * it runs on the standby): it is refused ({@link #refusing}). A Parse's kind is kept for {@link
   * #parsed}, which then does not classify it again.
   */
  private void sentOn(Backend b, PgFrame f) {
    if (f.type() == 'Q' && plainQuery(f.body())) {
      return; // by its bytes: no pin, no setting
    }
    StatementKind kind;
    if (f.type() == 'F') {
      kind = functionCallKind(f.body());
    } else {
      String text = statementText(f);
      kind = kindOf(text);
      if (f.type() == 'P') {
        parses.add(new ParseSeen(f, text, kind));
      }
    }
    if (kind != StatementKind.PIN && kind != StatementKind.SESSION) {
      return;
    }
    if (b.isPrimary()) {
      pin();
    } else {
      refusing = true;
      parses.clear();
      if (f.type() == 'P'
          && "".equals(io.halo.proxy.pg.message.ClientMessages.parseName(f.body()))) {
        unnamedOn = null; // a failed Parse leaves no unnamed statement behind
        unnamedText = null;
        unnamedKind = StatementKind.WRITE;
      }
      log.info(
          "[{}] session {}: a statement that keeps session state, sent behind a Flush to standby"
              + " {}, refused",
          listener.name(),
          session,
          b.node().name());
    }
  }

  /**
   * Drops what the client sends after a refused statement up to its Sync (or, for a refused Query,
   * the Query itself), which goes to the standby as a Sync; its ReadyForQuery comes after the
   * error.
   */
  private void refuseSentOn(Backend b, PgFrame f) {
    byte t = f.type();
    boolean first = refusalSync == null && refusalStatus == 0;
    f.release();
    if (first) {
      // the refused statement: the standby's part ends now, the error follows its replies
      sendOne(b, PgFrame.ofMessage(PgMessages.sync(client.alloc())));
      Owed o = b.lastOwed();
      // it ends the unit open at the Flush: the replies to Halo's own messages in it that come
      // after this are dropped by count, as at a client's own end of an open unit
      o.tag(new OpenEnd(b.openParses, b.openCloses, true));
      o.refusal(REFUSED_ON_STANDBY);
      if (openFailed) {
        o.error(""); // the standby failed already: the client has its error, and no second one
      }
      b.channel().flush();
      if ((t == 'Q' || t == 'F') && !openFailed) {
        // a Query (or FunctionCall) is its own end: the standby's ReadyForQuery is the client's
        endRefusal();
      } else { // (a server that failed ignores even a Query up to the Sync)
        refusalSync = o;
        o.holdEnd(true); // the client's Sync, not this one, gets a ReadyForQuery
      }
      return;
    }
    if (t != 'S') {
      return; // dropped, as a server drops what follows an error up to the Sync
    }
    if (refusalStatus != 0) {
      emitRun();
      client.writeAndFlush(PgMessages.readyForQuery(client.alloc(), refusalStatus));
    } else {
      refusalSync.holdEnd(false); // the standby's ReadyForQuery, still to come, is the client's
    }
    endRefusal();
    releaseIfIdle();
  }

  private void endRefusal() {
    refusing = false;
    refusalSync = null;
    refusalStatus = 0;
    open = null;
  }

  static final String REFUSED_ON_STANDBY =
      "a statement that keeps session state (a lock, a temporary table, LISTEN, a setting) cannot"
          + " follow a read that went ahead of its Sync (a Flush) to a standby: Halo refused it;"
          + " send a Sync before it";

  /** Follows the ParameterStatus messages that change how statements read. */
  private void noteParameter(ByteBuf body) {
    String name = io.halo.proxy.pg.message.ClientMessages.cstring(body, body.readerIndex());
    if ("standard_conforming_strings".equals(name)) {
      String value =
          io.halo.proxy.pg.message.ClientMessages.cstring(
              body, body.readerIndex() + name.length() + 1);
      standardStrings = !"off".equals(value);
    }
  }

  /**
   * The built-in functions that leave session state behind ({@code PIN_FUNCTIONS} of the classifier
   * that a FunctionCall can name only by OID): {@code set_config} (2078) and the session advisory
   * locks and unlocks (2880-2892). Built-in OIDs are fixed in {@code pg_proc}, these since
   * PostgreSQL 8.2; {@code PgTransactionPoolIT} checks them against the server's catalogue.
   */
  static final java.util.Set<Integer> PIN_FUNCTION_OIDS =
      java.util.Set.of(
          2078, 2880, 2881, 2882, 2883, 2884, 2885, 2886, 2887, 2888, 2889, 2890, 2891, 2892);

  /** Below this OID every function is built in ({@code FirstNormalObjectId}). */
  private static final long FIRST_NORMAL_OID = 16_384;

  /**
   * A FunctionCall's kind by the OID it names (its first four bytes): one of {@link
   * #PIN_FUNCTION_OIDS} pins, and so does any function not built in, whose name Halo does not see
   * (an extension's {@code dblink_connect}, a function taking a lock); the rest (pgjdbc's large
   * object calls) are writes.
   */
  static StatementKind functionCallKind(ByteBuf body) {
    if (body.readableBytes() < 4) {
      return StatementKind.WRITE; // malformed: the primary refuses it
    }
    long oid = Integer.toUnsignedLong(body.getInt(body.readerIndex()));
    return PIN_FUNCTION_OIDS.contains((int) oid) || oid >= FIRST_NORMAL_OID
        ? StatementKind.PIN
        : StatementKind.WRITE;
  }

  /** A statement's kind by its text (a malformed message's, null, is a write). */
  private StatementKind kindOf(String text) {
    return text == null ? StatementKind.WRITE : stats.classify(text, rules, !standardStrings);
  }

  /** A Query (its text and the NUL that ends it) that {@link #plainOnPrimary} lets through. */
  private boolean plainQuery(ByteBuf body) {
    int last = body.writerIndex() - 1;
    return last > body.readerIndex()
        && body.getByte(last) == 0
        && plainOnPrimary(body, body.readerIndex(), last);
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
    java.util.Set<String> parsed = null;
    for (PgFrame f : unit) {
      String text =
          switch (f.type()) {
            case 'Q', 'P' -> statementText(f);
            case 'B', 'D' -> referencedText(f, parsed);
            default -> null;
          };
      parsed = noteParse(parsed, f);
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

  /**
   * The text of the statement a Bind or Describe refers to, when Halo knows it; null for one that
   * the unit parses before it ({@code parsed}: the names parsed so far, or null), whose Parse has
   * the text.
   */
  private String referencedText(PgFrame f, java.util.Set<String> parsed) {
    String name = referencedStatement(f);
    if (name == null || (parsed != null && parsed.contains(name))) {
      return null;
    }
    if (name.isEmpty()) {
      return unnamedText;
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
          if (e.error() == null) {
            java.util.Set<String> writing = new java.util.HashSet<>();
            if (e.value() != null) {
              int from = 0;
              for (int comma = e.value().indexOf(','); ; comma = e.value().indexOf(',', from)) {
                writing.add(e.value().substring(from, comma < 0 ? e.value().length() : comma));
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
                e.error());
          }
          if (!finished[0]) {
            finished[0] = true;
            timer.cancel(false);
            functionLookup = false;
            if (e.error() != null) {
              functionsChecked = true;
            }
            resume();
          }
        });
  }

  /** The SQL text of a Query or Parse message, or null when the message is malformed. */
  private static String statementText(PgFrame f) {
    return f.type() == 'P'
        ? io.halo.proxy.pg.message.ClientMessages.parseText(f.body())
        : io.halo.proxy.pg.message.ClientMessages.queryText(f.body());
  }

  private StatementKind boundKind(PgFrame f, java.util.Set<String> parsed) {
    return statementKind(io.halo.proxy.pg.message.ClientMessages.bindStatement(f.body()), parsed);
  }

  private StatementKind describedKind(PgFrame f, java.util.Set<String> parsed) {
    ByteBuf body = f.body();
    if (firstByte(f) != 'S') {
      return null; // a portal: its Bind decided (an empty body goes to the primary, which answers)
    }
    return statementKind(
        io.halo.proxy.pg.message.ClientMessages.cstring(body, body.readerIndex() + 1), parsed);
  }

  /**
   * The kind of the statement {@code name} that a Bind or Describe runs: null when the unit parses
   * it before that message ({@code parsed}: the names parsed so far, or null), as pgjdbc sends a
   * newly named statement's Parse and Bind together; that Parse decided.
   */
  private StatementKind statementKind(String name, java.util.Set<String> parsed) {
    if (name == null) {
      return StatementKind.WRITE;
    }
    if (parsed != null && parsed.contains(name)) {
      return null;
    }
    if (name.isEmpty()) {
      return unnamedKind;
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
      if (f.type() == 'P' && firstByte(f) == 0) {
        return true;
      }
    }
    return false;
  }

  /**
   * {@code parsed} with {@code f}'s statement name added when {@code f} is a Parse: one pass over a
   * unit tells each later Bind or Describe whether the unit parsed its statement (a unit may hold
   * tens of thousands of messages; asking the unit again for each would be quadratic).
   */
  private static java.util.Set<String> noteParse(java.util.Set<String> parsed, PgFrame f) {
    if (f.type() != 'P') {
      return parsed;
    }
    String name = parseName(f);
    if (name == null) {
      return parsed;
    }
    java.util.Set<String> out = parsed == null ? new java.util.HashSet<>() : parsed;
    out.add(name);
    return out;
  }

  /**
   * Notes the unit's setting; it is kept once the primary has run it ({@link #settingAnswered}).
   */
  @Override
  protected void keepSetting() {
    if (!unitRuns()) {
      return; // a SET only parsed (psycopg, PQprepare) runs nothing: kept when it is executed
    }
    String text = unitText();
    if (text == null
        || keptBytes + settings.bytes() + text.length() > MAX_KEPT_BYTES
        || (settings.size() >= PgSettings.MAX_KEPT && settings.adds(text))) {
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
  /**
   * The connection a {@code DISCARD ALL} was sent to, until its reply: the statements it
   * deallocates are forgotten when it answers, so a Parse must not go behind it (it would be
   * forgotten too, yet stay prepared on the server).
   */
  private Backend discarding;

  @Override
  protected boolean waitsForAnswers(Backend b) {
    return discarding == b;
  }

  private void settingAnswered(Backend b, Owed e, byte status) {
    if (discarding == b) {
      discarding = null;
    }
    if (e.error() != null) {
      log.debug(
          "[{}] {}: \"{}\" failed on the primary; not replayed: {}",
          listener.name(),
          session,
          shown(e.setting()),
          e.error());
    } else if (status == 'I') {
      settings.succeeded(e.setting());
      b.book().applied.apply(e.setting());
      if (PgSettings.discardsAll(e.setting())) {
        // the server deallocated every prepared statement of the connection (other sessions' too,
        // in transaction mode) and of the session: neither book may say they are there
        b.book().release();
        b.book().closes.clear();
        forgetStatements();
      }
    } else {
      pin();
    }
  }

  /**
   * The single statement text of the unit (a Query, or one Parse), or null; as the client's bytes
   * ({@link #keptText}), for a setting kept and replayed.
   */
  private String unitText() {
    String text = null;
    String bound = null;
    int binds = 0;
    for (PgFrame f : unit) {
      if (f.type() == 'Q' || f.type() == 'P') {
        if (text != null) {
          return null;
        }
        text = keptStatementText(f);
        if (text == null) {
          return null;
        }
      } else if (f.type() == 'B' && binds++ == 0) {
        bound = referencedText(f, null); // (used only when the unit parses nothing)
      }
    }
    if (text != null || binds != 1 || bound == null || bound.indexOf('$') >= 0) {
      return text; // (a statement with parameters cannot be replayed as text: the session pins)
    }
    // a prepared setting run again (Bind only): its statement's text, if it can be had exactly
    return wasUtf8(bound) ? keptText(bound) : null;
  }

  /**
   * A name the session never parsed was closed for this unit (or the unit open at a Flush): the
   * server fails the unit at its first such Bind or Describe and skips the rest up to the Sync, so
   * one Close is enough, and a unit of many such Binds (or an open unit that streams them without a
   * Sync) makes Halo send, and count replies for, no more than one.
   */
  private boolean unknownClosed;

  /** Whether the unit runs a statement: a Query, an Execute or a FunctionCall. */
  private boolean unitRuns() {
    for (PgFrame f : unit) {
      if (f.type() == 'Q' || f.type() == 'E' || f.type() == 'F') {
        return true;
      }
    }
    return false;
  }

  /** The text of a Query or Parse message as its bytes ({@link #keptText}), or null. */
  private static String keptStatementText(PgFrame f) {
    ByteBuf body = f.body();
    int from = body.readerIndex();
    if (f.type() == 'P') {
      from = body.indexOf(from, body.writerIndex(), (byte) 0) + 1; // after the statement's name
      if (from == 0) {
        return null;
      }
    }
    int end = body.indexOf(from, body.writerIndex(), (byte) 0);
    return end < 0 ? null : keptText(body, from, end - from);
  }

  /** Sends the unit to {@code b}: first what {@code b} lacks (closes, settings, statements). */
  @Override
  protected void send(Backend b) {
    prelude(b);
    countingOpen = !complete;
    for (PgFrame f : unit) {
      sendOne(b, f);
    }
    countingOpen = false;
    if (unitSetting != null) {
      if (complete && b.isPrimary() && b.lastOwed() != null) {
        b.lastOwed().setting(unitSetting);
        if (PgSettings.discardsAll(unitSetting)) {
          discarding = b;
        }
      } else {
        pin(); // not a plain setting on the primary after all
      }
      unitSetting = null;
    }
    unit.clear();
    parses.clear();
    unitBytes = 0;
    functionsChecked = false;
    if (!complete) {
      open = b;
      openFailed = false;
    }
    b.channel().flush();
  }

  /** Writes one client message to {@code b}, keeping the statement books and the reply count. */
  private void sendOne(Backend b, PgFrame f) {
    byte t = f.type();
    if (countingOpen || open == b) {
      if (t == 'P') {
        b.openParses++;
      } else if (t == 'C') {
        b.openCloses++;
      }
    }
    if (t == 'P') {
      String name = parsed(b, f);
      if (name != null && !name.isEmpty()) {
        b.book().touch(name);
      }
    } else if (t == 'C' && firstByte(f) == 'S') {
      String name =
          io.halo.proxy.pg.message.ClientMessages.cstring(f.body(), f.body().readerIndex() + 1);
      closedStatement(b, name);
      if (name != null && !name.isEmpty()) {
        b.book().touch(name);
      }
    }
    if (t == 'Q' || t == 'S' || t == 'F') {
      Owed o = Owed.client();
      if (t == 'S') {
        o.tag(SYNC); // see Backend.syncIgnored
      }
      b.owe(o);
      if (t == 'S') {
        session.syncSent();
      } else {
        session.requestSent();
      }
    } else {
      session.extendedStarted();
    }
    last = b;
    write(b.channel(), f);
    if (open == b) {
      b.channel().flush();
    }
  }

  /** {@link #send} is sending a unit that stays open (sent at a Flush): its Parses are counted. */
  private boolean countingOpen;

  /**
   * What {@link #prelude} does before a unit, for one message of a unit already open at a Flush
   * (asyncpg prepares behind a Flush and goes on before its Sync): a statement the session made on
   * another connection is prepared here first, and another session's statement of the name the
   * client parses is closed first. No Sync may go between the client's messages, so these go
   * without one, and their ParseComplete / CloseComplete are dropped by count ({@link
   * Backend#openParses}).
   */
  private void openPrelude(Backend b, PgFrame f) {
    Book book = b.book();
    if (f.type() == 'P') {
      String name = collision(book, f);
      if (name != null) {
        hiddenInOpen(b, closeStatement(name), false, name);
      }
      return;
    }
    String name = referencedStatement(f);
    if (name == null || name.isEmpty()) {
      return;
    }
    Statement s = statements.get(name);
    if (s == null) {
      // (the open unit's own Parses are in statements by now)
      if (!unknownClosed && closesForeign(book, name)) {
        unknownClosed = true;
        hiddenInOpen(b, closeStatement(name), false, name);
      }
      return;
    }
    if (book.has(name, s.parse())) {
      return;
    }
    book.forget(name);
    hiddenInOpen(b, closeStatement(name), false, name); // see prelude: closed first, always
    hiddenInOpen(b, s.parse().retainedDuplicate(), true, name);
    book.prepared(name, s.parse());
  }

  /**
   * The name of the client's Parse {@code f} when another session prepared it on {@code book}'s
   * connection (transaction pooling): forgotten there, to be closed before the client's own Parse;
   * else null.
   */
  private String collision(Book book, PgFrame f) {
    String name = parseName(f);
    return name != null
            && !name.isEmpty()
            && !statements.containsKey(name)
            && closesForeign(book, name)
        ? name
        : null;
  }

  /**
   * Whether a statement {@code name} that is not the session's must be closed on {@code book}'s
   * connection before the unit: when the book has it (another session's), and on a shared
   * connection always, since the book may not know everything the server holds (a hidden unit that
   * failed skipped its Closes). The server then answers a Bind of a name the client never parsed
   * with 26000, as it would on a connection of the client's own, and a client's Parse of a name
   * another session left there does not get 42P05. A pinned session's connection is its own: its
   * statements beyond what Halo keeps are on it, unknown to the book.
   */
  private boolean closesForeign(Book book, String name) {
    // (a hostile unit may bind thousands of names it never parsed: only the first is closed, see
    // unknownClosed)
    return book.forget(name) || (multiplexed && !pinned);
  }

  private void hiddenInOpen(Backend b, ByteBuf message, boolean parse, String name) {
    if (parse) {
      if (b.hiddenParsesAt == null) {
        b.hiddenParsesAt = new java.util.ArrayDeque<>(2);
      }
      b.hiddenParsesAt.add(++b.openParses);
    } else {
      if (b.hiddenClosesAt == null) {
        b.hiddenClosesAt = new java.util.ArrayDeque<>(2);
      }
      b.hiddenClosesAt.add(++b.openCloses);
    }
    b.book().touch(name); // an error before it skips it: see Book.settle
    b.channel().write(message);
  }

  /**
   * A reply of an open unit ({@code e} null while it is open, its end's after): false when it is
   * the ParseComplete or CloseComplete of one of Halo's own messages, to be dropped. Its end's
   * ReadyForQuery settles the counts.
   */
  private static boolean openReplyIsClients(Backend b, Owed e, byte t) {
    if (t == '1') {
      long n = ++b.openParsesAnswered;
      if (b.hiddenParsesAt != null
          && !b.hiddenParsesAt.isEmpty()
          && b.hiddenParsesAt.peekFirst() == n) {
        b.hiddenParsesAt.pollFirst();
        return false;
      }
    } else if (t == '3') {
      long n = ++b.openClosesAnswered;
      if (b.hiddenClosesAt != null
          && !b.hiddenClosesAt.isEmpty()
          && b.hiddenClosesAt.peekFirst() == n) {
        b.hiddenClosesAt.pollFirst();
        return false;
      }
    } else if (t == 'Z' && e != null && e.tag() instanceof OpenEnd end) {
      // the open unit ended: what an error made the server skip is answered by nobody
      b.openParsesAnswered = end.parses();
      b.openClosesAnswered = end.closes();
      while (b.hiddenParsesAt != null
          && !b.hiddenParsesAt.isEmpty()
          && b.hiddenParsesAt.peekFirst() <= end.parses()) {
        b.hiddenParsesAt.pollFirst();
      }
      while (b.hiddenClosesAt != null
          && !b.hiddenClosesAt.isEmpty()
          && b.hiddenClosesAt.peekFirst() <= end.closes()) {
        b.hiddenClosesAt.pollFirst();
      }
    }
    return true;
  }

  /**
   * The tag of the reply owed for the message that ended a unit opened at a Flush: the counts of
   * Parses and Closes ({@link Backend#openParses}) sent up to it, and whether it was a Sync (see
   * {@link Backend#syncIgnored}).
   */
  record OpenEnd(long parses, long closes, boolean sync) {}

  /** Notes the client's Parse {@code f} sent to {@code b}; returns its statement name (or null). */
  private String parsed(Backend b, PgFrame f) {
    ByteBuf body = f.body();
    String name = io.halo.proxy.pg.message.ClientMessages.cstring(body, body.readerIndex());
    ParseSeen seen = parses.peekFirst();
    if (seen != null && seen.frame() == f) {
      parses.pollFirst();
    } else {
      seen = null; // not classified as part of this unit: classified here
    }
    String text = seen != null ? seen.text() : statementText(f);
    StatementKind kind = seen != null ? seen.kind() : kindOf(text);
    if (name == null) {
      return null;
    }
    if (name.isEmpty()) {
      unnamedOn = b;
      boolean keepText = text != null && text.length() <= MAX_UNNAMED_TEXT;
      // without its text a later Bind cannot ask which functions it calls: never a read then
      unnamedKind = !keepText && kind == StatementKind.READ ? StatementKind.WRITE : kind;
      unnamedText = keepText ? text : null;
      return name;
    }
    Statement old = statements.remove(name);
    if (old != null) {
      keptBytes -= ENTRY_BYTES + old.parse().readableBytes();
      old.parse().release();
    }
    if (keptBytes + ENTRY_BYTES + body.readableBytes() > MAX_KEPT_BYTES) {
      pin();
      return name;
    }
    ByteBuf copy = client.alloc().buffer(5 + body.readableBytes());
    copy.writeByte('P')
        .writeInt(4 + body.readableBytes())
        .writeBytes(body, body.readerIndex(), body.readableBytes());
    keptBytes += ENTRY_BYTES + copy.readableBytes();
    statements.put(name, new Statement(copy, kind));
    b.book().prepared(name, copy);
    return name;
  }

  private void closedStatement(Backend b, String name) {
    if (name == null || name.isEmpty()) {
      return;
    }
    Statement s = statements.remove(name);
    if (s != null) {
      keptBytes -= ENTRY_BYTES + s.parse().readableBytes();
      s.parse().release();
    }
    b.book().forget(name);
    for (Backend other : new Backend[] {primary, replica}) {
      if (other != null && other != b && other.book != null && other.book.forget(name)) {
        other.book.closes.add(name);
      }
    }
  }

  /**
   * Hidden requests {@code b} needs before the unit: stale closes, statements of another session
   * that this unit's Parses would collide with, missing statements, the least recently used
   * statements beyond {@code pool.max_prepared_statements}, settings.
   */
  private void prelude(Backend b) {
    unknownClosed = false;
    ByteBuf out = null;
    Book book = b.book();
    List<String> named = null; // the names this hidden unit closes or prepares (rarely any)
    java.util.Set<String> parsedInUnit = null; // made once, when first needed (rarely)
    for (String name : book.closes) {
      out = append(out, closeStatement(name));
      named = with(named, name);
    }
    book.closes.clear();
    if (multiplexed && unnamedOn != b && bindsUnnamedWithoutParse()) {
      // the unnamed statement on a connection just checked out is another session's: the Bind
      // must fail as on a fresh connection (one parsed here in this transaction is the client's
      // own: unnamedOn is cleared when the connection goes back)
      out = append(out, closeStatement(""));
    }
    for (PgFrame f : unit) {
      if (f.type() == 'P') {
        String name = collision(book, f);
        if (name != null) {
          out = append(out, closeStatement(name));
          named = with(named, name);
        }
        continue;
      }
      String name = referencedStatement(f);
      if (name == null || name.isEmpty()) {
        continue;
      }
      Statement s = statements.get(name);
      if (s != null && book.has(name, s.parse())) {
        continue;
      }
      if (parsedInUnit == null) {
        parsedInUnit = unitNames(false);
      }
      if (parsedInUnit.contains(name)) {
        continue; // the client's own Parse of it comes first (its collision is handled above)
      }
      if (s == null) {
        if (!unknownClosed && closesForeign(book, name)) {
          unknownClosed = true;
          out = append(out, closeStatement(name)); // a name the session never parsed
          named = with(named, name);
        }
        continue;
      }
      // closed first even when the book says the connection lacks it: a skipped Close may have
      // left another session's statement of the name there, and a Parse over it would fail
      // (42P05, unseen in this hidden unit) and leave that statement to the client's Bind
      book.forget(name);
      out = append(out, closeStatement(name));
      out = append(out, s.parse().retainedDuplicate());
      book.prepared(name, s.parse());
      named = with(named, name);
    }
    int max = listener.pool().maxPreparedStatements();
    if (book.prepared.size() > max) {
      List<String> evicted = new ArrayList<>();
      java.util.Set<String> inUnit = unitNames(true);
      for (String name : book.prepared.keySet()) { // least recently used first
        if (book.prepared.size() - evicted.size() <= max) {
          break;
        }
        if (!inUnit.contains(name)) {
          evicted.add(name);
        }
      }
      for (String name : evicted) {
        book.forget(name);
        out = append(out, closeStatement(name));
        named = with(named, name);
      }
    }
    // the session's settings first: a statement prepared again here is parsed under them (its
    // search_path names its tables), not under those of the connection's last session
    List<String> replays = settings.replay(book.applied);
    for (int i = 0; i < replays.size(); i++) { // (mostly none: no iterator made for them)
      String setting = replays.get(i);
      replaySetting(
          b,
          setting,
          e -> {
            if (e.error() != null) {
              log.info(
                  "[{}] replaying \"{}\" on {} for {} failed: {}",
                  listener.name(),
                  shown(setting),
                  b,
                  session,
                  e.error());
            }
          });
    }
    if (out != null) {
      out.writeBytes(syncMessage());
      List<String> doubted = named == null ? List.of() : named;
      b.owe(
          Owed.hidden(
              e -> {
                if (e.error() != null) {
                  // The server skipped the rest of the unit after the error: what it prepared may
                  // be missing and what it closed may be there still. The client's Bind gets the
                  // server's error now; every name of the unit is closed before the next unit
                  // there (a Close of a statement the connection lacks is no error), and a
                  // statement the session uses is prepared again when next used.
                  log.debug(
                      "[{}] preparing statements on {} for {}: {}",
                      listener.name(),
                      b,
                      session,
                      e.error());
                  for (String name : doubted) {
                    book.forget(name);
                    book.closes.add(name);
                  }
                }
              }));
      b.channel().write(out);
    }
    if (lostTransaction && b.isPrimary()) {
      // The client is inside a transaction that died with its connection: open one here and fail
      // it, so that the server answers what follows as it would (25P02, COMMIT answered ROLLBACK)
      // and the session is usable again after ROLLBACK.
      lostTransaction = false;
      emitRun();
      client.write(
          PgMessages.warning(
              client.alloc(),
              SqlState.CONNECTION_FAILURE.code(),
              "Halo: the connection of this transaction to "
                  + b.node().name()
                  + " was lost; the transaction was rolled back: end it with ROLLBACK"));
      hiddenQuery(b, "BEGIN", e -> {});
      hiddenQuery(b, PgSessionMove.ABORT_SQL, e -> {});
    }
  }

  /**
   * The statement names the unit parses, and with {@code referenced} also those it binds or
   * describes: one pass over the unit, so a unit of many messages (up to {@link #MAX_UNIT_BYTES})
   * is not scanned again for each of them.
   */
  private java.util.Set<String> unitNames(boolean referenced) {
    java.util.Set<String> names = new java.util.HashSet<>();
    for (PgFrame f : unit) {
      String n = f.type() == 'P' ? parseName(f) : referenced ? referencedStatement(f) : null;
      if (n != null) {
        names.add(n);
      }
    }
    return names;
  }

  /**
   * The first byte of a client message's body, or -1 when it has none (a client may send any
   * length: nothing is read past the bytes present).
   */
  private static int firstByte(PgFrame f) {
    ByteBuf body = f.body();
    return body.isReadable() ? body.getByte(body.readerIndex()) : -1;
  }

  private static String parseName(PgFrame f) {
    return io.halo.proxy.pg.message.ClientMessages.cstring(f.body(), f.body().readerIndex());
  }

  private static String referencedStatement(PgFrame f) {
    ByteBuf body = f.body();
    if (f.type() == 'B') {
      int portalEnd = body.indexOf(body.readerIndex(), body.writerIndex(), (byte) 0);
      return portalEnd < 0
          ? null
          : io.halo.proxy.pg.message.ClientMessages.cstring(body, portalEnd + 1);
    }
    if (f.type() == 'D' && firstByte(f) == 'S') {
      return io.halo.proxy.pg.message.ClientMessages.cstring(body, body.readerIndex() + 1);
    }
    return null;
  }

  private static List<String> with(List<String> names, String name) {
    List<String> l = names == null ? new ArrayList<>(4) : names;
    l.add(name);
    return l;
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

  @Override
  protected ByteBuf encodeQuery(Backend b, byte[] sql) {
    return PgMessages.query(client.alloc(), sql);
  }

  // ------------------------------------------------------------------ connections

  @Override
  protected Future<PgBackendConnection> open(Backend b) {
    if (!multiplexed) {
      return connectTo(b.node());
    }
    int role = b.isPrimary() ? 0 : 1;
    PgPool.Key poolKey = poolKeys[role];
    if (poolKey == null || !poolKey.backend().equals(b.node().name())) {
      poolKey = new PgPool.Key(b.node().name(), session.poolParameters());
      poolKeys[role] = poolKey;
      // made with the key, not per transaction: the pool keeps a login with the key's slot (its
      // min_idle refills), so it must connect to the key's backend, whatever this session's role
      // goes to later
      BackendNode node = b.node();
      logins[role] = () -> connectTo(node);
    }
    return listener
        .pool()
        .checkout(client.eventLoop(), poolKey, logins[role], previousConnection(b), poolPlace(b));
  }

  /** A login of the session's backend user to {@code node}. */
  private Future<PgBackendConnection> connectTo(BackendNode node) {
    return PgBackendConnector.connect(
        client.eventLoop(),
        listener.transports(),
        node,
        session.userConfig().backendUser(),
        session.userConfig().backendPassword(),
        session.poolParameters(),
        listener.server().backendConnectTimeout(),
        (int) listener.server().maxMessageSize(),
        listener.scramKeys());
  }

  @Override
  protected Channel channelOf(PgBackendConnection c) {
    return c.channel();
  }

  @Override
  protected void discard(PgBackendConnection c) {
    List<ByteBuf> messages = c.startupMessages();
    if (!messages.isEmpty()) { // a pooled connection's are empty: no iterator per transaction
      messages.forEach(ByteBuf::release); // the client had them at its own login
    }
  }

  /**
   * Transaction mode: the connection goes back to the pool with its decoder (between transactions
   * it holds no partial message) and its book.
   */
  @Override
  protected void checkin(Channel channel) {
    checkin(channel, channel.attr(BOOK).get());
  }

  /** A leg's connection goes back: its book is the leg's (no attribute lookup per transaction). */
  @Override
  protected void giveBack(Backend b, Channel channel) {
    checkin(channel, b.book != null ? b.book : channel.attr(BOOK).get());
  }

  private void checkin(Channel channel, Book book) {
    if (book != null) {
      book.settle(); // nothing is owed now: what a unit touched is settled before another's use
    }
    PgFrameDecoder frames = book != null ? book.frames : null;
    if (frames != null) {
      frames.passthrough(null); // the next owner (or the pool's own check) frames every message
    }
    listener.pool().checkin(channel);
  }

  @Override
  protected void attach(Backend b, PgBackendConnection c) {
    Channel ch = c.channel();
    Book book = ch.attr(BOOK).get();
    if (book == null) {
      Book fresh = new Book(c.processId(), c.secret());
      ch.attr(BOOK).set(fresh);
      ch.closeFuture().addListener(x -> fresh.release());
      book = fresh;
    }
    b.book = book;
    PgFrameDecoder frames = book.frames;
    if (frames == null) { // a pooled connection keeps its decoder
      frames = PgFrameDecoder.forBackend((int) listener.server().maxMessageSize());
      ch.pipeline().addLast(FRAMES, frames);
      book.frames = frames;
    }
    frames.passthrough(b);
  }

  private static final String FRAMES = "frames";

  /** An ErrorResponse that ends the server's session: severity FATAL or PANIC. */
  private static boolean isFatal(ByteBuf errorBody) {
    String severity = errorField(errorBody, (byte) 'V');
    return "FATAL".equals(severity) || "PANIC".equals(severity);
  }

  /** The tag of a reply owed for a client's Sync (see {@link Backend#syncIgnored}). */
  private static final Object SYNC = new Object();

  @Override
  protected void released() {
    clientSawFatal = false; // about the connection just given back
    unnamedOn = null;
    txBackend = null;
  }

  /** The transaction the client is in died with its connection; the next checkout fails one. */
  private boolean lostTransaction;

  /** The primary connection sent an error unasked (a FATAL before it closed): the client saw it. */
  private boolean clientSawFatal;

  /**
   * The FATAL the primary connection sent inside a transaction, withheld until the health checker
   * says whether its server is going down (then the session goes on) or stays up (then it was meant
   * for this session, pg_terminate_backend say, and the client gets it).
   */
  private PgFrame lastWords;

  /**
   * Backend messages forwarded and not yet written: {@code runStart} to {@code runEnd} of {@code
   * runSource}, a buffer messages were read from, holding one reference of its own (see {@link
   * #forward}).
   */
  private ByteBuf runSource;

  private int runStart;
  private int runEnd;

  @Override
  protected boolean transactionLost(Backend fresh) {
    if (clientSawFatal) {
      return false; // the client has the server's FATAL: the session ends, as a direct one would
    }
    BackendNode node = fresh.node();
    failTransactionOn(fresh);
    if (!multiplexed) {
      return true; // the core waits for the verdict; lastWords are its last words if it ends
    }
    PgFrame words = lastWords;
    lastWords = null;
    if (words != null) {
      park(); // the next request waits for the verdict: a probe, and at most hold_timeout
      listener
          .sessions()
          .suspect(node.name())
          .thenApply(answered -> answered) // a future of our own: the timeout below is ours
          .toCompletableFuture()
          .completeOnTimeout(false, holdTimeout().toMillis(), TimeUnit.MILLISECONDS)
          .whenComplete(
              (answered, e) ->
                  client
                      .eventLoop()
                      .execute(
                          () -> {
                            if (Boolean.TRUE.equals(answered) && client.isActive()) {
                              emitRun();
                              client
                                  .writeAndFlush(words.retainedMessage())
                                  .addListener(io.netty.channel.ChannelFutureListener.CLOSE);
                            } else {
                              resume();
                            }
                            words.release();
                          }));
    }
    return true;
  }

  @Override
  protected boolean requestsLost(Backend dead) {
    if (clientSawFatal
        || lastWords != null // the server said FATAL before this request: it gets that
        || dead.copyIn
        || !dead.owesOnlyClient()
        || dead.owedCount() > 64) {
      return false;
    }
    boolean wasInTx = inTransaction();
    String message =
        outcomeUnknown(dead, "request")
            + (wasInTx ? ", and the transaction was rolled back: end it with ROLLBACK" : "");
    byte status = wasInTx ? (byte) 'E' : (byte) 'I';
    for (int i = dead.owedCount(); i > 0; i--) {
      // through the normal reply path, as if the server had said it: the session's books
      // (transaction state, admission permit, pool release) stay right
      fromBackend(
          dead,
          PgFrame.ofMessage(
              PgMessages.error(client.alloc(), SqlState.TRANSACTION_RESOLUTION_UNKNOWN, message)));
      fromBackend(dead, PgFrame.ofMessage(PgMessages.readyForQuery(client.alloc(), status)));
    }
    flushClient();
    if (wasInTx) {
      failTransactionOn(newLeg(true, dead.node()));
    }
    return true;
  }

  /**
   * The client's transaction died with its connection: it goes on, failed, on {@code fresh} (the
   * new primary leg), whose first checkout opens a failed transaction there (see prelude).
   */
  private void failTransactionOn(Backend fresh) {
    primary = fresh;
    txBackend = fresh;
    unnamedOn = null;
    lostTransaction = true;
  }

  @Override
  protected void lossBehind() {
    if (lastWords != null) {
      lastWords.release(); // the server went down after all: its FATAL was not meant for us
      lastWords = null;
    }
  }

  @Override
  protected void primaryMoved(BackendNode node) {
    if (txBackend != null && txBackend != primary && txBackend.channel() == null) {
      txBackend = primary; // a lost transaction's leg, never connected: it moves with the primary
    }
    session.boundTo(node);
  }

  @Override
  protected String refusalOf(Throwable cause) {
    return cause instanceof io.halo.proxy.session.TransactionPool.WaitTimeout
        ? cause.getMessage()
        : null;
  }

  @Override
  protected java.time.Duration holdTimeout() {
    return listener.holdTimeout();
  }

  @Override
  protected io.halo.proxy.session.ClusterSessions sessions() {
    return listener.sessions();
  }

  /**
   * Where the session's cancel request goes now: the connection its last request went to (the
   * replica after a read there), else its primary's; a process id of 0 when it holds none (between
   * transactions in transaction mode, or before its first connection after a move).
   */
  PgSession.CancelTarget cancelTarget() {
    Backend b = last != null && last == replica && replica.channel() != null ? replica : primary;
    if (b == null || b.channel() == null) {
      return new PgSession.CancelTarget(b == null ? null : b.node().address(), 0, 0);
    }
    return new PgSession.CancelTarget(b.node().address(), b.book().processId, b.book().secret);
  }

  // ------------------------------------------------------------------ backend side

  @Override
  protected void backendRead(Backend b, Object msg) {
    if (msg instanceof PgFrameError e) {
      log.warn(
          "[{}] backend {} broke the protocol ({}); closing {}",
          listener.name(),
          b,
          e.message(),
          session);
      endSession(End.PROTOCOL, "backend " + b + " broke the protocol; the session is closed");
      return;
    }
    fromBackend(b, (PgFrame) msg);
  }

  private void fromBackend(Backend b, PgFrame f) {
    if (f.isRun()) {
      forward(f); // messages that Backend.passes: only forwarded
      return;
    }
    Owed e = b.next();
    byte t = f.type();
    if ((e == null ? b == open : e.tag() instanceof OpenEnd) && !openReplyIsClients(b, e, t)) {
      f.release(); // the reply to a message of Halo's own in an open unit
      return;
    }
    if (t == 'S' && b.isPrimary()) {
      noteParameter(f.body());
    }
    boolean fatal = t == 'E' && b.isPrimary() && isFatal(f.body());
    if (fatal && e != null && !e.isHidden()) {
      clientSawFatal = true; // the client has the server's FATAL: its session ends with it
    }
    if (e == null) {
      // Between requests a backend may still speak: notices, parameter changes, notifications;
      // and the replies to a unit sent at a Flush (open), whose ERROR is the client's, not FATAL.
      if (fatal) {
        if ((multiplexed ? inTransaction() : !pinned) && lastWords == null) {
          // withheld until the connection closes: a primary going down (a fast shutdown) says
          // FATAL too, and then the session goes on; an operator's pg_terminate_backend says the
          // same, and then the session ends with it (the health checker's verdict tells which)
          lastWords = f;
          return;
        }
        clientSawFatal = true;
      }
      if (b.isPrimary() || t == 'N' || b == open) {
        if (t == 'E' && b == open) {
          openFailed = true;
          b.book().failed = true; // the names the open unit touched may not have run
        }
        forward(f); // (open: the replies to a unit sent ahead of its Sync, a Flush)
      } else {
        f.release();
      }
      return;
    }
    if (e.isHidden()) {
      if (t == 'D') {
        e.value(firstColumn(f.body()));
      } else if (t == 'E') {
        e.error(errorMessage(f.body()));
      }
      f.release();
      if (t == 'Z') {
        answered(b);
        replied(b);
      }
      return;
    }
    if (t == 'E') {
      b.book().failed = true;
    } else if (t == 'Z' && b.owedCount() == 1 && open != b) {
      // the last reply owed, no unit open at a Flush: names a later pipelined unit touched are not
      // settled by an earlier unit's end (a failure in that unit skips its Parses); an error
      // anywhere doubts them all
      b.book().settle();
    }
    byte status = t == 'Z' ? f.bodyByte(0) : 0;
    if (t == 'E' && e.setting() != null) {
      e.error(errorMessage(f.body()));
    }
    if (t == 'G') {
      b.copyIn = true; // CopyInResponse: client data follows, up to CopyDone or CopyFail
      b.syncIgnored = e.tag() == SYNC || (e.tag() instanceof OpenEnd end && end.sync());
    } else if (t == 'Z') {
      b.copyIn = false;
      b.syncIgnored = false;
    }
    if (t == 'E' && e.refusal() != null) {
      e.error(""); // the standby failed first: the client has its error, and no second one
    }
    boolean heldEnd = false;
    if (t == 'Z' && e.refusal() != null) {
      emitRun();
      if (e.error() == null) {
        client.write(PgMessages.error(client.alloc(), SqlState.FEATURE_NOT_SUPPORTED, e.refusal()));
      }
      heldEnd = e.holdsEnd();
      if (heldEnd) {
        refusalStatus = status; // for the client's Sync
        refusalSync = null;
      }
    }
    if (heldEnd) {
      f.release();
      client.flush();
    } else {
      forward(f);
    }
    if (t == 'Z') {
      answered(b);
      if (e.setting() != null) {
        settingAnswered(b, e, status);
      }
      txStatus = status;
      txBackend = status == 'I' ? null : b;
      session.replyReceived(status);
      replied(b);
    }
  }

  @Override
  protected void endSession(End why, String message) {
    emitRun(); // what the backend said before goes first
    if (lastWords != null && why == End.BACKEND_LOST) {
      // the server's own FATAL, withheld while the session might have gone on, is its last word
      PgFrame words = lastWords;
      lastWords = null;
      closed(); // nothing the client sent meanwhile runs any more
      session.state(SessionState.CLOSING);
      session.unregister();
      client
          .writeAndFlush(words.retainedMessage())
          .addListener(io.netty.channel.ChannelFutureListener.CLOSE);
      words.release();
      return;
    }
    session.terminate(
        switch (why) {
          case CANNOT_CONNECT -> SqlState.CANNOT_CONNECT;
          case BACKEND_LOST, BACKEND_HUNG -> SqlState.CONNECTION_FAILURE;
          case SWITCHOVER, SHUTDOWN, KILLED -> SqlState.ADMIN_SHUTDOWN;
          case PROTOCOL -> SqlState.PROTOCOL_VIOLATION;
          case IDLE_TRANSACTION -> SqlState.IDLE_IN_TRANSACTION_TIMEOUT;
        },
        message);
  }

  // ------------------------------------------------------------------ switchover and end

  /**
   * Switchover (the session is held between transactions): a session that cannot move ends; any
   * other drops its old primary connection and logs in to {@code next} before its next request,
   * with its settings and statements replayed there on demand.
   */
  void primaryChanged(BackendNode next) {
    if (closed || next == null || next.name().equals(primary.node().name())) {
      return;
    }
    String why = unmovable("temporary tables, locks, LISTEN");
    if (why != null) {
      endSession(
          End.SWITCHOVER,
          "switchover to "
              + next.name()
              + ": this session cannot be moved: "
              + why
              + "; reconnect");
      return;
    }
    if (unnamedOn == primary) {
      unnamedOn = null;
    }
    session.boundTo(next);
    movePrimary(next);
  }

  /** Lets a held session go on. */
  void resumeAfterHold() {
    client.eventLoop().execute(this::resume);
  }

  @Override
  protected void clientGone() {
    session.unregister();
    session.state(SessionState.CLOSING);
  }

  @Override
  protected void releaseBuffered() {
    if (lastWords != null) {
      lastWords.release();
      lastWords = null;
    }
    if (runSource != null) {
      runSource.release();
      runSource = null;
    }
    unit.forEach(PgFrame::release);
    unit.clear();
    parses.clear();
    refusing = false;
    forgetStatements();
  }

  /** Forgets the session's named statements (the server no longer has them). */
  private void forgetStatements() {
    statements.values().forEach(s -> s.parse().release());
    statements.clear();
    keptBytes = 0;
  }

  // ------------------------------------------------------------------ helpers

  /**
   * Forwards a backend message to the client as it came (no copy). Messages that lie next to each
   * other in the buffer they were read from are written as one slice of it when the client is
   * flushed, or before anything else is written to the client: one buffer (and one {@code iovec})
   * per read instead of one per message.
   */
  @SuppressWarnings("ReferenceEquality") // the same buffer, not an equal one
  private void forward(PgFrame f) {
    ByteBuf source = f.source();
    if (source != null && source == runSource && f.sourceIndex() == runEnd) {
      runEnd += f.length();
    } else {
      emitRun();
      if (source != null) {
        runSource = source.retain();
        runStart = f.sourceIndex();
        runEnd = runStart + f.length();
      } else {
        client.write(f.takeMessage(), client.voidPromise());
        return;
      }
    }
    f.takeMessage().release(); // (the run holds its own reference to the source)
  }

  /** Writes the run of forwarded messages held back, if any (not flushed). */
  private void emitRun() {
    ByteBuf source = runSource;
    if (source != null) {
      runSource = null;
      // the slice shares the reference taken when the run began: writing it hands that over
      client.write(source.slice(runStart, runEnd - runStart), client.voidPromise());
    }
  }

  @Override
  protected void flushClient() {
    emitRun();
    client.flush();
  }

  /** Writes a framed message as it came (no copy). */
  private static void write(Channel to, PgFrame f) {
    to.write(f.takeMessage(), to.voidPromise());
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
    String m = errorField(body, (byte) 'M');
    return m == null ? "error" : m;
  }

  /** One field of an ErrorResponse body ('M' message, 'V' severity, ...), or null. */
  private static String errorField(ByteBuf body, byte field) {
    int i = body.readerIndex();
    while (i < body.writerIndex() && body.getByte(i) != 0) {
      byte code = body.getByte(i);
      int end = body.indexOf(i + 1, body.writerIndex(), (byte) 0);
      if (end < 0) {
        break;
      }
      if (code == field) {
        return body.toString(i + 1, end - i - 1, StandardCharsets.UTF_8);
      }
      i = end + 1;
    }
    return null;
  }
}

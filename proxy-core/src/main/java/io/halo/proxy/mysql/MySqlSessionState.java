package io.halo.proxy.mysql;

import io.halo.proxy.mysql.packet.MySqlPackets;
import io.netty.buffer.ByteBuf;
import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * What a MySQL session changed on its backend since its login, as far as Halo can rebuild it on
 * another server without asking the old one: the current schema (COM_INIT_DB, {@code USE}) and the
 * session {@code SET} statements it ran, kept as text to replay in order. A session that did
 * anything Halo cannot rebuild exactly is {@link #unknown()} (with the reason) for the rest of its
 * life, and is not kept through the loss of its backend.
 *
 * <p>Design memo.
 *
 * <ul>
 *   <li>Why not a snapshot? A switchover reads the settings on the old primary while it still runs;
 *       after a crash there is nothing to read. Reading ahead of time after each command that may
 *       change a setting would cost a round trip per such command and still miss what the snapshot
 *       does not cover (isolation level, user variables, roles). Replaying the statements that made
 *       the state is exact for what they set, whatever the variable.
 *   <li>Classification reads the first command of each client buffer at a command boundary (the
 *       relay's {@link MySqlRelayHandler}), in place, one pass over its bytes; a statement is
 *       judged from its whole text, so one split over reads, a multi-statement ({@code ;}), a SET
 *       with non-ASCII text, or a command that follows another in the same buffer (pipelined) makes
 *       the state unknown unless its command cannot change session state. Conservative by design: a
 *       false "unknown" only means the session ends on a failover as before.
 *   <li>Known without effect: plain DML and DDL, transaction control, SHOW and the like, without
 *       {@code :=}, {@code INTO @}, {@code GET_LOCK}, {@code TEMPORARY}; prepared-statement
 *       commands whose text is such a statement (open statements make a session unmovable anyway).
 *   <li>Replayed: {@code SET} of session or user variables, {@code SET NAMES}, {@code SET ROLE},
 *       with literal values or expressions of variables (no subquery). Repeats of a statement
 *       without {@code @} keep only their last place (a driver toggling autocommit does not grow
 *       the list; such a statement sets the same values wherever it runs). At most {@link
 *       #MAX_STATEMENTS}. A {@code SET} counts once the server answered OK.
 *   <li>Unknown: anything else, e.g. {@code CALL}, {@code PREPARE}, {@code LOCK TABLES}, {@code
 *       CREATE TEMPORARY TABLE}, {@code SET TRANSACTION} (next transaction only), {@code
 *       COM_SET_OPTION}, {@code COM_RESET_CONNECTION}, executable comments ({@code /*!...}).
 *   <li>Not carried even when known (documented in docs/mysql.md): {@code LAST_INSERT_ID()}, {@code
 *       FOUND_ROWS()}, warnings of the last statement.
 * </ul>
 *
 * One event loop owns it (the session's).
 */
final class MySqlSessionState {

  private static final org.slf4j.Logger log =
      org.slf4j.LoggerFactory.getLogger(MySqlSessionState.class);

  /** Distinct SET statements kept, at most. */
  static final int MAX_STATEMENTS = 32;

  /** Longest SET statement kept (bytes). */
  static final int MAX_TEXT = 2048;

  /**
   * Longest statement text scanned for side effects (bytes); longer ones make the state unknown.
   */
  static final int MAX_SCAN = 64 * 1024;

  /** Commands whose effect waits for their reply, at most (pipelining deeper is unknown). */
  static final int MAX_PENDING = 256;

  /** A command's effect on the state, applied when its reply is complete. */
  private record Effect(int kind, String text) {}

  private static final int NONE = 0;
  private static final int SET = 1;
  private static final int USE = 2;

  private static final Effect HARMLESS = new Effect(NONE, null);

  private String database;
  private final List<String> ordered = new ArrayList<>();
  private final ArrayDeque<Effect> pending = new ArrayDeque<>();
  private String unknown;

  /** The effect of the next command the tracker reports sent (the one just classified). */
  private Effect next;

  /** A database name is at most 64 characters: 256 bytes hold any in UTF-8. */
  static final int MAX_DATABASE_BYTES = 256;

  MySqlSessionState(String database) {
    this.database = database == null || database.isEmpty() ? null : database;
  }

  /** Why Halo does not know the session's state, or null when it does. */
  String unknown() {
    return unknown;
  }

  /** The current schema (null: none). */
  String database() {
    return database;
  }

  /** The SET statements to replay, in order. */
  List<String> replay() {
    return List.copyOf(ordered);
  }

  /** A fresh backend session as {@code database} (COM_CHANGE_USER): nothing set, all known. */
  void restart(String database) {
    this.database = database == null || database.isEmpty() ? null : database;
    ordered.clear();
    pending.clear();
    next = null;
    unknown = null;
  }

  /** The session runs on a new backend connection: nothing is pending there. */
  void rebound() {
    pending.clear();
    next = null;
  }

  private void unknown(String why) {
    if (unknown == null) {
      unknown = why;
      log.debug("session state unknown from now on: it ran {}", why);
      ordered.clear();
    }
    pending.clear();
    next = null;
  }

  // ---------------------------------------------------------------- classification

  /**
   * The client buffer {@code buf} starts a command (at its reader index, header included) and is
   * about to be forwarded: judges it. Does not change {@code buf}.
   *
   * @return the statement's first keyword in upper case for COM_QUERY (empty when none), else null
   */
  String command(ByteBuf buf) {
    next = null;
    if (unknown != null || buf.readableBytes() < 5) {
      return null;
    }
    int r = buf.readerIndex();
    int length = buf.getUnsignedMediumLE(r);
    int command = buf.getUnsignedByte(r + 4);
    boolean whole = buf.readableBytes() >= 4 + length;
    switch (command) {
      case MySqlPackets.COM_QUERY, MySqlPackets.COM_STMT_PREPARE -> {
        if (!whole || length - 1 > MAX_SCAN) {
          next = new Effect(-1, "a statement Halo could not read whole (split over reads or long)");
          return "";
        }
        Statement s = classify(buf, r + 5, length - 1);
        if (command == MySqlPackets.COM_STMT_PREPARE && s.effect.kind != NONE) {
          next = new Effect(-1, "a prepared " + s.keyword + " statement");
        } else {
          next = s.effect;
        }
        return s.keyword;
      }
      case MySqlPackets.COM_INIT_DB -> {
        if (!whole) {
          next = new Effect(-1, "a COM_INIT_DB split over reads");
          return null;
        }
        if (length - 1 > MAX_DATABASE_BYTES) {
          next = new Effect(-1, "a COM_INIT_DB longer than any database name");
          return null; // (each kept until answered: 256 of 64 KB would be 16 MB)
        }
        next = new Effect(USE, buf.toString(r + 5, length - 1, StandardCharsets.UTF_8));
        return null;
      }
      default -> {
        next = harmless(command) ? HARMLESS : new Effect(-1, "command 0x" + hex(command));
        return null;
      }
    }
  }

  /** The tracker saw a command the server answers go out. */
  void sent(int command) {
    if (unknown != null) {
      return;
    }
    Effect e = next;
    next = null;
    if (e == null) {
      e =
          harmless(command)
              ? HARMLESS
              : new Effect(-1, "a command Halo did not read (0x" + hex(command) + ")");
    }
    if (e.kind < 0) {
      unknown(e.text);
      return;
    }
    if (pending.size() == MAX_PENDING) {
      unknown("more than " + MAX_PENDING + " commands pipelined");
      return;
    }
    pending.add(e);
  }

  /** The server's reply to the oldest pending command is complete. */
  void answered(boolean error) {
    Effect e = pending.poll();
    if (e == null || error || unknown != null) {
      return;
    }
    if (e.kind == USE) {
      database = e.text;
    } else if (e.kind == SET) {
      if (e.text.indexOf('@') < 0) {
        ordered.remove(e.text); // its earlier place, if any: it sets the same values here
      }
      ordered.add(e.text);
      if (ordered.size() > MAX_STATEMENTS) {
        unknown("more than " + MAX_STATEMENTS + " SET statements");
      }
    }
  }

  private static boolean harmless(int command) {
    return switch (command) {
      case MySqlPackets.COM_PING,
          MySqlPackets.COM_STMT_EXECUTE,
          MySqlPackets.COM_STMT_FETCH,
          MySqlPackets.COM_STMT_RESET,
          MySqlPackets.COM_STMT_CLOSE,
          MySqlPackets.COM_STMT_SEND_LONG_DATA,
          MySqlPackets.COM_FIELD_LIST,
          MySqlPackets.COM_PROCESS_INFO,
          MySqlPackets.COM_QUIT,
          0x09 /* COM_STATISTICS */ ->
          true;
      default -> false;
    };
  }

  private static String hex(int command) {
    return Integer.toHexString(command);
  }

  /**
   * The first keyword (upper case) of the COM_QUERY whose packet starts {@code buf}, when it is
   * whole there; else the empty string.
   */
  static String keyword(ByteBuf buf) {
    int r = buf.readerIndex();
    if (buf.readableBytes() < 5 || buf.getUnsignedByte(r + 4) != MySqlPackets.COM_QUERY) {
      return "";
    }
    int length = buf.getUnsignedMediumLE(r);
    if (buf.readableBytes() < 4 + length || length - 1 > MAX_SCAN) {
      return "";
    }
    return classify(buf, r + 5, length - 1).keyword();
  }

  /** A statement's first keyword and its effect. */
  record Statement(String keyword, Effect effect) {}

  private static final java.util.Set<String> NO_EFFECT =
      java.util.Set.of(
          "SELECT",
          "INSERT",
          "UPDATE",
          "DELETE",
          "REPLACE",
          "SHOW",
          "DESCRIBE",
          "DESC",
          "EXPLAIN",
          "WITH",
          "VALUES",
          "TABLE",
          "BEGIN",
          "START",
          "COMMIT",
          "ROLLBACK",
          "SAVEPOINT",
          "RELEASE",
          "CREATE",
          "ALTER",
          "DROP",
          "TRUNCATE",
          "RENAME",
          "GRANT",
          "REVOKE",
          "ANALYZE",
          "OPTIMIZE",
          "CHECK",
          "CHECKSUM",
          "REPAIR",
          "FLUSH",
          "KILL",
          "HELP",
          "LOAD");

  /** Classifies one statement's text (tests). */
  static Statement classify(String text) {
    ByteBuf b = io.netty.buffer.Unpooled.wrappedBuffer(text.getBytes(StandardCharsets.UTF_8));
    return classify(b, 0, b.readableBytes());
  }

  /**
   * Classifies the statement text of {@code n} bytes at {@code from} in {@code buf}, in place: one
   * pass over the bytes, no copy, except the text of a SET or USE, which is kept. Markers are
   * ASCII, and UTF-8 never puts ASCII bytes inside a multi-byte character, so non-ASCII text
   * (string literals) needs no decoding.
   */
  static Statement classify(ByteBuf buf, int from, int n) {
    int end = from + n;
    int i = skipSpaceAndComments(buf, from, end);
    if (i < 0) {
      return new Statement("", new Effect(-1, "an executable comment"));
    }
    while (end > i && (isSpace(buf.getByte(end - 1)) || buf.getByte(end - 1) == ';')) {
      end--;
    }
    int k = i;
    while (k < end && k - i < 16 && isLetter(buf.getByte(k))) {
      k++;
    }
    String keyword = buf.toString(i, k - i, StandardCharsets.US_ASCII).toUpperCase(Locale.ROOT);
    if (keyword.isEmpty()) {
      return new Statement("", new Effect(-1, "a statement Halo does not know"));
    }
    if (buf.indexOf(i, end, (byte) ';') >= 0) {
      return new Statement(keyword, new Effect(-1, "a multi-statement"));
    }
    if (keyword.equals("SET") || keyword.equals("USE")) {
      if (end - i > MAX_TEXT) {
        return new Statement(keyword, new Effect(-1, "a " + keyword + " too long to replay"));
      }
      for (int j = i; j < end; j++) {
        if (buf.getByte(j) < 0) {
          return new Statement(keyword, new Effect(-1, "a " + keyword + " with non-ASCII text"));
        }
      }
      String body = buf.toString(i, end - i, StandardCharsets.US_ASCII);
      if (keyword.equals("SET")) {
        return new Statement(keyword, set(body, body.toUpperCase(Locale.ROOT)));
      }
      String db = identifier(body.substring(3).trim());
      return new Statement(
          keyword, db == null ? new Effect(-1, "a USE Halo could not read") : new Effect(USE, db));
    }
    if (!NO_EFFECT.contains(keyword)) {
      return new Statement(keyword, new Effect(-1, "a " + keyword + " statement"));
    }
    if (changesState(buf, k, end)) {
      return new Statement(keyword, new Effect(-1, "a " + keyword + " that changes session state"));
    }
    return new Statement(keyword, HARMLESS);
  }

  /**
   * Whether the statement of {@code n} bytes at {@code from} is {@code SET TRANSACTION ...} without
   * SESSION or GLOBAL: characteristics of the session's next transaction only, held by its
   * connection until that transaction ends (go-sql-driver's {@code BeginTx} with an isolation level
   * sends one before its {@code START TRANSACTION}).
   */
  static boolean setsNextTransaction(ByteBuf buf, int from, int n) {
    int end = from + n;
    int i = skipSpaceAndComments(buf, from, end);
    if (i < 0 || !matches(buf, i, end, "SET")) {
      return false;
    }
    int j = skipSpaceAndComments(buf, i + 3, end);
    return j > i + 3
        && matches(buf, j, end, "TRANSACTION")
        && (j + 11 == end || !isWordByte(buf.getByte(j + 11)));
  }

  private static boolean isWordByte(byte c) {
    return isLetter(c) || (c >= '0' && c <= '9') || c == '_' || c == '$' || c < 0;
  }

  /**
   * Whether the bytes hold {@code :=}, {@code INTO @}, {@code GET_LOCK}, {@code TEMPORARY} or an
   * executable comment (case-insensitive; also inside string literals: false alarms only make a
   * session end on a failover as before).
   */
  private static boolean changesState(ByteBuf buf, int from, int end) {
    for (int j = from; j < end; j++) {
      byte c = buf.getByte(j);
      switch (c) {
        case ':' -> {
          if (j + 1 < end && buf.getByte(j + 1) == '=') {
            return true;
          }
        }
        case '@' -> {
          int b = j - 1;
          while (b >= from && isSpace(buf.getByte(b))) {
            b--;
          }
          if (b - 3 >= from && matches(buf, b - 3, end, "INTO")) {
            return true;
          }
        }
        case '/' -> {
          if (matches(buf, j, end, "/*!") || matches(buf, j, end, "/*M!")) {
            return true;
          }
        }
        case 'G', 'g' -> {
          if (matches(buf, j, end, "GET_LOCK")) {
            return true;
          }
        }
        case 'T', 't' -> {
          if (matches(buf, j, end, "TEMPORARY")) {
            return true;
          }
        }
        default -> {}
      }
    }
    return false;
  }

  /** Whether {@code upper} (upper case ASCII) is at {@code at}, case-insensitive. */
  private static boolean matches(ByteBuf buf, int at, int end, String upper) {
    if (at + upper.length() > end) {
      return false;
    }
    for (int m = 0; m < upper.length(); m++) {
      int c = buf.getByte(at + m);
      if (c >= 'a' && c <= 'z') {
        c -= 32;
      }
      if (c != upper.charAt(m)) {
        return false;
      }
    }
    return true;
  }

  private static boolean isSpace(byte c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f';
  }

  private static boolean isLetter(byte c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
  }

  private static Effect set(String body, String upper) {
    String rest = upper.substring(3).trim();
    if (rest.startsWith("GLOBAL ") || rest.startsWith("@@GLOBAL.")) {
      return body.indexOf(',') < 0 ? HARMLESS : new Effect(-1, "a SET of global and more");
    }
    if (rest.startsWith("PASSWORD")) {
      return HARMLESS;
    }
    if (rest.startsWith("TRANSACTION") || rest.startsWith("STATEMENT")) {
      return new Effect(
          -1,
          "a SET " + rest.substring(0, rest.indexOf(' ') < 0 ? rest.length() : rest.indexOf(' ')));
    }
    if (upper.contains("SELECT")
        || upper.contains("/*")
        || upper.contains("PERSIST")
        || body.length() > MAX_TEXT) {
      return new Effect(-1, "a SET Halo cannot replay");
    }
    return new Effect(SET, body);
  }

  /** A schema name, bare or in backquotes; null when it is anything else. */
  private static String identifier(String s) {
    if (s.length() >= 2 && s.charAt(0) == '`' && s.charAt(s.length() - 1) == '`') {
      String inner = s.substring(1, s.length() - 1);
      return inner.replace("``", "`");
    }
    for (int k = 0; k < s.length(); k++) {
      char c = s.charAt(k);
      if (!(Character.isLetterOrDigit(c) || c == '_' || c == '$')) {
        return null;
      }
    }
    return s.isEmpty() ? null : s;
  }

  /** Index of the first byte after leading blanks and comments; -1 at {@code /*!}. */
  private static int skipSpaceAndComments(ByteBuf buf, int i, int end) {
    while (i < end) {
      byte c = buf.getByte(i);
      if (isSpace(c)) {
        i++;
      } else if (matches(buf, i, end, "/*")) {
        if (matches(buf, i, end, "/*!") || matches(buf, i, end, "/*M!")) {
          return -1;
        }
        int close = i + 2;
        while (close < end && !matches(buf, close, end, "*/")) {
          close++;
        }
        if (close >= end) {
          return end;
        }
        i = close + 2;
      } else if (matches(buf, i, end, "-- ") || c == '#') {
        int nl = buf.indexOf(i, end, (byte) '\n');
        if (nl < 0) {
          return end;
        }
        i = nl + 1;
      } else {
        return i;
      }
    }
    return i;
  }
}

package io.halo.routing.split;

/**
 * A lexer over SQL text that yields words and the punctuation that matters for classification,
 * skipping string literals, quoted identifiers and comments, so that a keyword inside a string
 * ({@code 'for update'}) or a comment never changes a route.
 *
 * <p>Dialect switches: PostgreSQL has dollar quoting and nested block comments; MySQL has {@code #}
 * comments, backquoted identifiers, double-quoted strings, backslash escapes, and executable
 * comments ({@code /*!...*}{@code /}), whose start is reported as {@link #EXECUTABLE_COMMENT} and
 * whose contents follow as tokens, because the server runs them.
 *
 * <p>Not thread-safe; one instance per classification. Words are returned lower case, made only
 * when asked for ({@link #word}): a statement's words are mostly skipped or compared in place
 * ({@link #keyword}), and each word made costs a lookup in {@link LowerWords}, whose slots, strings
 * and the sets they are then looked up in are cold memory on a busy proxy's event loop (measured: a
 * classification cost 2.6 µs per transaction in place, against 0.45 µs in a loop).
 */
final class SqlScanner {

  static final int END = 0;
  static final int WORD = 1;

  /** ';' */
  static final int SEMICOLON = 2;

  /** '(' */
  static final int OPEN = 3;

  /** ':=' (MySQL assignment) */
  static final int ASSIGN = 4;

  /** '@' followed by a name (MySQL user variable) */
  static final int VARIABLE = 5;

  /** Any other symbol or a literal. */
  static final int OTHER = 6;

  /**
   * The start of a MySQL executable comment ({@code /*!}, {@code /*!40101}, MariaDB's {@code
   * /*M!}): its contents follow as tokens (the server runs them), and its end is skipped.
   */
  static final int EXECUTABLE_COMMENT = 7;

  /** System variables whose value is the session's own recent history (on the primary). */
  private static final java.util.Set<String> SESSION_STATE_VARIABLES =
      java.util.Set.of(
          "identity", "last_insert_id", "warning_count", "error_count", "last_gtid", "insert_id");

  /** {@link #keyword} flags: the words {@code DialectClassifier.Statement#scanRead} looks at. */
  static final int MODIFYING = 1;

  static final int LOCKING = 1 << 1;
  static final int INTO = 1 << 2;
  static final int FOR = 1 << 3;
  static final int NEXT = 1 << 4;
  static final int PREVIOUS = 1 << 5;
  static final int LOCK = 1 << 6;
  static final int IN = 1 << 7;
  static final int VALUE = 1 << 8;

  /** PostgreSQL's {@code pg_temp} (the session's own schema): a write naming it pins. */
  static final int PG_TEMP = 1 << 9;

  /**
   * PostgreSQL's {@code pg_settings}: {@code UPDATE pg_settings SET setting = ...} changes a
   * session setting (the view's rule calls {@code set_config}), so a write naming it pins.
   */
  static final int PG_SETTINGS = 1 << 10;

  private final String sql;
  private final boolean mysql;
  private int pos;

  /** The last word, lower case; null until {@link #word} makes it from its text. */
  private String word;

  /** The last word's text in {@link #sql}; {@code wordStart < 0} for a word set whole. */
  private int wordStart = -1;

  private int wordEnd;

  /** The last word's text is ASCII: in-place comparisons need no lower-casing. */
  private boolean wordAscii;

  private String quoted = "";

  /**
   * Where a literal ends was not certain (see {@link #skipQuoted}): the statement's tokens after it
   * may not be what the server reads.
   */
  private boolean unsure;

  /** Inside a MySQL executable comment: its closing {@code *}{@code /} is skipped, not a token. */
  private boolean inExecutable;

  /**
   * Where the open executable comment ends for a server that skips it (its version is newer than
   * the server's, or {@code /*M!} on MySQL): at the first {@code *}{@code /}, quotes or not; -1 for
   * none. A server that runs it reads its code as tokens, quotes included, as the scanner does:
   * when the two ends differ the server's reading depends on its version, and the statement is
   * {@link #unsure}.
   */
  private int executableEnd = -1;

  /**
   * The first {@code *}{@code /} and {@code /*} at or after where they were last looked for (-1:
   * none; -2: not looked for yet). Executable comments look for both as they open; remembered, so
   * that a text of many comments (a hostile one: {@code /*!a;} over and over) is searched once, not
   * once per comment, on the event loop.
   */
  private int nextClose = -2;

  private int nextOpen = -2;

  /** The version the text's first executable comment needs ("" for none), or null. */
  private String executableVersion;

  /**
   * The other reading ({@link #ambiguous}, MySQL): every executable comment skipped (a server older
   * than its version) and {@code --} a comment whatever follows it (MariaDB's {@code
   * sql_mode=ORACLE}). How strings read backslashes is not guessed but the session's mode, as its
   * server reports it ({@link #otherEscapes}): a second reading of every backslash would pin every
   * session whose data is escaped as {@code \'} (PHP's escaping).
   */
  private final boolean other;

  /**
   * The text holds something another server setting or version reads otherwise (an executable
   * comment, a MySQL {@code --} without a space): the classifier then reads it the {@link #other}
   * way too.
   */
  private boolean ambiguous;

  /**
   * Strings read backslashes the other way from the dialect's default: MySQL without escapes
   * ({@code NO_BACKSLASH_ESCAPES}), PostgreSQL with them ({@code standard_conforming_strings =
   * off}); the session's mode, as its server reported it.
   */
  private final boolean otherEscapes;

  /**
   * MySQL's {@code ANSI_QUOTES}: a double quote opens an identifier, where a backslash is a
   * character, not a string. The server does not report this mode (it is no status flag), so the
   * classifier reads a text in this reading too when the two would end a double-quoted part apart
   * ({@link #quotesAmbiguous}).
   */
  private final boolean ansiQuotes;

  /**
   * A double-quoted string held a backslash before a double quote ({@code "a\"b"}): with {@code
   * ANSI_QUOTES} the server ends it there, and what follows is code (MySQL, read with escapes).
   */
  private boolean quotesAmbiguous;

  SqlScanner(String sql, boolean mysql) {
    this(sql, mysql, false, false, false);
  }

  SqlScanner(String sql, boolean mysql, boolean other, boolean otherEscapes, boolean ansiQuotes) {
    this.sql = sql;
    this.mysql = mysql;
    this.other = other;
    this.otherEscapes = otherEscapes;
    this.ansiQuotes = ansiQuotes;
  }

  /** Whether a double-quoted part would end elsewhere under {@code ANSI_QUOTES} (see above). */
  boolean quotesAmbiguous() {
    return quotesAmbiguous;
  }

  /** Whether the text read so far may read otherwise under other server settings (see above). */
  boolean ambiguous() {
    return ambiguous;
  }

  /** Whether the text had a literal whose end was not certain (text that was not UTF-8). */
  boolean unsure() {
    return unsure;
  }

  /** The name inside the last quoted identifier (PostgreSQL), as written. */
  String quoted() {
    return quoted;
  }

  /** The word of the last {@link #WORD} token, lower case. */
  String word() {
    if (word == null && wordStart >= 0) {
      word = LowerWords.of(sql, wordStart, wordEnd);
    }
    return word;
  }

  /**
   * The {@link #MODIFYING}, {@link #LOCKING}, ... flags of the last word, 0 for any other word,
   * found without making the word when it is ASCII. A quoted identifier is never one of them.
   */
  int keyword() {
    if (wordStart < 0 || !wordAscii) {
      return keywordOf(word());
    }
    return switch (wordEnd - wordStart) {
      case 2 -> is("in") ? IN : is("no") ? LOCKING : 0;
      case 3 -> is("for") ? FOR : is("key") ? LOCKING : 0;
      case 4 -> is("into") ? INTO | MODIFYING : is("next") ? NEXT : is("lock") ? LOCK : 0;
      case 5 -> is("share") ? LOCKING : is("value") ? VALUE : is("merge") ? MODIFYING : 0;
      case 6 -> is("update") ? MODIFYING | LOCKING : is("insert") || is("delete") ? MODIFYING : 0;
      case 7 -> is("replace") ? MODIFYING : is("pg_temp") ? PG_TEMP : 0;
      case 8 -> is("previous") ? PREVIOUS : 0;
      case 11 -> is("pg_settings") ? PG_SETTINGS : 0;
      case 19 -> is("sql_calc_found_rows") ? MODIFYING : 0;
      default -> 0;
    };
  }

  /** {@link #keyword} of a word already made (a quoted identifier's is "\"", never a keyword). */
  private static int keywordOf(String w) {
    return switch (w) {
      case "in" -> IN;
      case "no", "key", "share" -> LOCKING;
      case "for" -> FOR;
      case "into" -> INTO | MODIFYING;
      case "next" -> NEXT;
      case "lock" -> LOCK;
      case "value" -> VALUE;
      case "merge", "insert", "delete", "replace", "sql_calc_found_rows" -> MODIFYING;
      case "update" -> MODIFYING | LOCKING;
      case "previous" -> PREVIOUS;
      case "pg_temp" -> PG_TEMP;
      case "pg_settings" -> PG_SETTINGS;
      default -> 0;
    };
  }

  /** Whether the last word, ASCII and as long as {@code lower}, is {@code lower} in any case. */
  private boolean is(String lower) {
    for (int i = 0; i < lower.length(); i++) {
      char c = sql.charAt(wordStart + i);
      if ((c >= 'A' && c <= 'Z' ? (char) (c + ('a' - 'A')) : c) != lower.charAt(i)) {
        return false;
      }
    }
    return true;
  }

  /** Where the last word's text starts, or -1 for a word set whole (see {@link #wordText}). */
  int wordStart() {
    return wordStart;
  }

  int wordEnd() {
    return wordEnd;
  }

  /** The text {@code [start, end)} of an earlier word, lower case (as {@link #word} made it). */
  String wordText(int start, int end) {
    return LowerWords.of(sql, start, end);
  }

  int next() {
    int n = sql.length();
    while (pos < n) {
      char c = sql.charAt(pos);
      if (Character.isWhitespace(c)) {
        pos++;
      } else if (c == '-' && pos + 1 < n && sql.charAt(pos + 1) == '-' && lineComment(pos + 2)) {
        skipLine();
      } else if (mysql && c == '#') {
        skipLine();
      } else if (inExecutable && c == '*' && pos + 1 < n && sql.charAt(pos + 1) == '/') {
        leaveExecutable(pos); // the end of an executable comment
        pos += 2;
      } else if (c == '/' && pos + 1 < n && sql.charAt(pos + 1) == '*') {
        if (mysql
            && !inExecutable
            && !other
            && pos + 2 < n
            && (sql.charAt(pos + 2) == '!' || sql.charAt(pos + 2) == 'M')
            && (sql.charAt(pos + 2) == '!' || (pos + 3 < n && sql.charAt(pos + 3) == '!'))) {
          // /*!code*/, /*!40101 code*/, /*M!100100 code*/: the server runs the code
          pos += sql.charAt(pos + 2) == '!' ? 3 : 4;
          int versionStart = pos;
          while (pos < n && sql.charAt(pos) >= '0' && sql.charAt(pos) <= '9') {
            pos++; // the version it needs
          }
          String version = sql.substring(versionStart, pos);
          if (executableVersion != null && !executableVersion.equals(version)) {
            unsure = true; // a server may run one and skip the other: neither reading is its own
          }
          executableVersion = version;
          inExecutable = true;
          ambiguous = true; // a server that skips it reads the text without it
          executableEnd = nextClose = next("*/", pos, nextClose);
          int nested = nextOpen = next("/*", pos, nextOpen);
          if (nested >= 0 && (executableEnd < 0 || nested < executableEnd)) {
            unsure = true; // a server that skips it ends it after a nested comment
          }
          return EXECUTABLE_COMMENT;
        }
        skipBlockComment();
      } else {
        return token(c);
      }
    }
    if (inExecutable) {
      leaveExecutable(-1); // the text ended inside one
    }
    return END;
  }

  /**
   * The first {@code needle} at or after {@code from}, given {@code found}, the first at or after
   * an earlier point (or -2): still the answer unless it lies before {@code from}.
   */
  private int next(String needle, int from, int found) {
    return found == -2 || (found >= 0 && found < from) ? sql.indexOf(needle, from) : found;
  }

  /**
   * Whether {@code --} followed by the character at {@code i} starts a comment: always in
   * PostgreSQL; in MySQL when a space or a control character follows (or nothing), and, in the
   * {@link #other} reading, always (MariaDB's {@code sql_mode=ORACLE}).
   */
  private boolean lineComment(int i) {
    if (!mysql || other || i >= sql.length()) {
      return true;
    }
    char c = sql.charAt(i);
    if (c <= ' ' || c == 0x7f) {
      return true;
    }
    ambiguous = true;
    return false;
  }

  /**
   * Leaves an executable comment whose code, read as tokens, ends at {@code end} (-1: none); a
   * server that skips the comment ends it at {@link #executableEnd}.
   */
  private void leaveExecutable(int end) {
    if (end != executableEnd) {
      unsure = true; // a quote, comment or ';' inside hides the first */ or runs past it
    }
    inExecutable = false;
  }

  private int token(char c) {
    int n = sql.length();
    if (c == '\'') {
      skipQuoted('\'', (mysql != otherEscapes) || (!mysql && isEscapeString()));
      return OTHER;
    }
    if (c == '"') {
      int start = pos;
      skipQuoted('"', mysql && !otherEscapes && !ansiQuotes);
      if (!mysql) {
        int end = pos > start + 1 && sql.charAt(pos - 1) == '"' ? pos - 1 : pos;
        quoted = sql.substring(start + 1, end).replace("\"\"", "\"");
      }
      return mysql ? OTHER : quotedIdentifier();
    }
    if (c == '`' && mysql) {
      skipQuoted('`', false);
      return OTHER;
    }
    if (c == '$' && !mysql) {
      int tagEnd = dollarTagEnd();
      if (tagEnd > 0) {
        String tag = sql.substring(pos, tagEnd + 1);
        int close = sql.indexOf(tag, tagEnd + 1);
        pos = close < 0 ? n : close + tag.length();
        return OTHER;
      }
    }
    if (Character.isLetter(c) || c == '_') {
      int start = pos;
      char all = 0;
      char w;
      while (pos < n && isWordChar(w = sql.charAt(pos))) {
        all |= w;
        pos++;
      }
      word = null; // made when asked for
      wordStart = start;
      wordEnd = pos;
      wordAscii = all < 0x80;
      return WORD;
    }
    pos++;
    switch (c) {
      case ';':
        if (inExecutable) {
          leaveExecutable(
              pos - 1); // the server reads each statement of a multi-statement text anew
        }
        return SEMICOLON;
      case '(':
        return OPEN;
      case ':':
        if (mysql && pos < n && sql.charAt(pos) == '=') {
          pos++;
          return ASSIGN;
        }
        return OTHER;
      case '@':
        if (mysql
            && pos < n
            && (sql.charAt(pos) == '\'' || sql.charAt(pos) == '"' || sql.charAt(pos) == '`')) {
          // @'name', @"name", @`name`: a user variable too
          char quote = sql.charAt(pos);
          skipQuoted(
              quote,
              quote != '`' && !otherEscapes && !(ansiQuotes && quote == '"')); // (from the quote)
          return VARIABLE;
        }
        if (mysql && pos < n && (isWordChar(sql.charAt(pos)) || sql.charAt(pos) == '@')) {
          if (sql.charAt(pos) == '@') {
            // @@system_variable: not a user variable, but @@global.x / @@persist.x change the
            // server (reported as the word "global"), and a few read the session's own state on
            // the primary (reported as a variable).
            pos++;
            int start = pos;
            while (pos < n && (isWordChar(sql.charAt(pos)) || sql.charAt(pos) == '.')) {
              pos++;
            }
            String name = sql.substring(start, pos).toLowerCase(java.util.Locale.ROOT);
            if (name.startsWith("global.")
                || name.startsWith("persist.")
                || name.startsWith("persist_only.")) {
              setWord("global");
              return WORD;
            }
            return SESSION_STATE_VARIABLES.contains(
                    name.startsWith("session.") ? name.substring(8) : name)
                ? VARIABLE
                : OTHER;
          }
          while (pos < n && isWordChar(sql.charAt(pos))) {
            pos++;
          }
          return VARIABLE;
        }
        return OTHER;
      default:
        return OTHER;
    }
  }

  /** A double-quoted PostgreSQL identifier: a word, but never a keyword. */
  private int quotedIdentifier() {
    setWord("\"");
    return WORD;
  }

  private void setWord(String w) {
    word = w;
    wordStart = -1;
  }

  private boolean isEscapeString() {
    return pos > 0 && (sql.charAt(pos - 1) == 'E' || sql.charAt(pos - 1) == 'e');
  }

  private static boolean isWordChar(char c) {
    return Character.isLetterOrDigit(c) || c == '_' || c == '$';
  }

  /** Skips a line comment: to the end of the line (PostgreSQL: a carriage return ends it too). */
  private void skipLine() {
    int n = sql.length();
    while (pos < n && sql.charAt(pos) != '\n' && (mysql || sql.charAt(pos) != '\r')) {
      pos++;
    }
    pos = Math.min(pos + 1, n);
  }

  private void skipBlockComment() {
    int n = sql.length();
    int depth = 0;
    while (pos < n) {
      if (pos + 1 < n && sql.charAt(pos) == '/' && sql.charAt(pos + 1) == '*') {
        depth++;
        pos += 2;
        if (mysql && depth > 1) {
          depth = 1; // MySQL block comments do not nest
        }
      } else if (pos + 1 < n && sql.charAt(pos) == '*' && sql.charAt(pos + 1) == '/') {
        pos += 2;
        if (--depth == 0) {
          return;
        }
      } else {
        pos++;
      }
    }
  }

  /** Skips a literal or quoted identifier from its opening quote. */
  private void skipQuoted(char quote, boolean backslashEscapes) {
    int n = sql.length();
    pos++;
    while (pos < n) {
      char c = sql.charAt(pos);
      if (((backslashEscapes && c == '\\') || (c == '`' && quote == '`'))
          && sql.charAt(pos - 1) == '\uFFFD') {
        // bytes that were not UTF-8 (a client encoding such as Big5, GBK or Shift JIS, whose
        // second byte of a character may be 0x5C or 0x60): this may be half of a character, not
        // an escape or the end of the literal, and where the literal ends is unknown
        unsure = true;
      }
      if (backslashEscapes && c == '\\') {
        if (quote == '"' && pos + 1 < n && sql.charAt(pos + 1) == '"') {
          quotesAmbiguous = true; // with ANSI_QUOTES the part ends here
        }
        pos += 2;
      } else if (c == quote) {
        if (pos + 1 < n && sql.charAt(pos + 1) == quote) {
          pos += 2;
        } else {
          pos++;
          return;
        }
      } else {
        pos++;
      }
    }
  }

  /** The index of the closing '$' of a dollar-quote tag starting at pos, or -1. */
  private int dollarTagEnd() {
    int n = sql.length();
    int i = pos + 1;
    if (i < n && Character.isDigit(sql.charAt(i))) {
      return -1; // $1 is a parameter
    }
    while (i < n && (Character.isLetterOrDigit(sql.charAt(i)) || sql.charAt(i) == '_')) {
      i++;
    }
    return i < n && sql.charAt(i) == '$' ? i : -1;
  }
}

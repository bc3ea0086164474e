package io.halo.routing.split;

/**
 * A lexer over SQL text that yields words and the punctuation that matters for classification,
 * skipping string literals, quoted identifiers and comments, so that a keyword inside a string
 * ({@code 'for update'}) or a comment never changes a route.
 *
 * <p>Dialect switches: PostgreSQL has dollar quoting and nested block comments; MySQL has {@code #}
 * comments, backquoted identifiers, double-quoted strings, backslash escapes, and executable
 * comments ({@code /*!...*}{@code /}), which are reported as {@link #EXECUTABLE_COMMENT} because
 * the server runs what they contain.
 *
 * <p>Not thread-safe; one instance per classification. Words are returned lower case.
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

  static final int EXECUTABLE_COMMENT = 7;

  /** System variables whose value is the session's own recent history (on the primary). */
  private static final java.util.Set<String> SESSION_STATE_VARIABLES =
      java.util.Set.of(
          "identity", "last_insert_id", "warning_count", "error_count", "last_gtid", "insert_id");

  private final String sql;
  private final boolean mysql;
  private int pos;
  private String word;
  private String quoted = "";

  SqlScanner(String sql, boolean mysql) {
    this.sql = sql;
    this.mysql = mysql;
  }

  /** The name inside the last quoted identifier (PostgreSQL), as written. */
  String quoted() {
    return quoted;
  }

  /** The word of the last {@link #WORD} token, lower case. */
  String word() {
    return word;
  }

  int next() {
    int n = sql.length();
    while (pos < n) {
      char c = sql.charAt(pos);
      if (Character.isWhitespace(c)) {
        pos++;
      } else if (c == '-'
          && pos + 1 < n
          && sql.charAt(pos + 1) == '-'
          && (!mysql || pos + 2 >= n || Character.isWhitespace(sql.charAt(pos + 2)))) {
        skipLine();
      } else if (mysql && c == '#') {
        skipLine();
      } else if (c == '/' && pos + 1 < n && sql.charAt(pos + 1) == '*') {
        if (mysql
            && pos + 2 < n
            && (sql.charAt(pos + 2) == '!' || sql.charAt(pos + 2) == 'M')
            && (sql.charAt(pos + 2) == '!' || (pos + 3 < n && sql.charAt(pos + 3) == '!'))) {
          skipBlockComment();
          return EXECUTABLE_COMMENT;
        }
        skipBlockComment();
      } else {
        return token(c);
      }
    }
    return END;
  }

  private int token(char c) {
    int n = sql.length();
    if (c == '\'') {
      skipQuoted('\'', mysql || isEscapeString());
      return OTHER;
    }
    if (c == '"') {
      int start = pos;
      skipQuoted('"', mysql);
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
      while (pos < n && isWordChar(sql.charAt(pos))) {
        pos++;
      }
      word = LowerWords.of(sql, start, pos);
      return WORD;
    }
    pos++;
    switch (c) {
      case ';':
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
              word = "global";
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
    word = "\"";
    return WORD;
  }

  private boolean isEscapeString() {
    return pos > 0 && (sql.charAt(pos - 1) == 'E' || sql.charAt(pos - 1) == 'e');
  }

  private static boolean isWordChar(char c) {
    return Character.isLetterOrDigit(c) || c == '_' || c == '$';
  }

  private void skipLine() {
    int nl = sql.indexOf('\n', pos);
    pos = nl < 0 ? sql.length() : nl + 1;
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

  private void skipQuoted(char quote, boolean backslashEscapes) {
    int n = sql.length();
    pos++;
    while (pos < n) {
      char c = sql.charAt(pos);
      if (backslashEscapes && c == '\\') {
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

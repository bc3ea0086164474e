package io.halo.routing.split;

import java.util.Set;

/**
 * The shared walk of both dialects: splits the text into statements at top-level semicolons,
 * classifies each from its leading keywords and the function calls and clauses that make a read a
 * write ({@code FOR UPDATE}, {@code nextval(...)}), and combines the kinds.
 *
 * <p>Design memo: a lexer, not a parser. A full grammar would cost more per statement than the
 * proxy spends relaying it; the questions asked here (first keywords, locking clauses, named
 * functions) only need tokens with literals and comments out of the way. Mistakes must err towards
 * the primary: anything not recognised as a read is a write.
 */
abstract class DialectClassifier implements StatementClassifier {

  private final boolean mysql;

  DialectClassifier(boolean mysql) {
    this.mysql = mysql;
  }

  /** Functions whose call pins the session to the primary. */
  abstract Set<String> pinFunctions();

  /** Functions whose call makes a read go to the primary. */
  abstract Set<String> writeFunctions();

  /**
   * Whether a read whose {@code INTO} is followed by {@code word} creates session state
   * (PostgreSQL's {@code SELECT ... INTO TEMP t}: a temporary table).
   */
  boolean pinsAfterInto(String word) {
    return false;
  }

  /** The kind of one statement, from its first words; {@code s} is positioned after them. */
  abstract StatementKind leading(Statement s);

  /**
   * The {@link SqlScanner#keyword} flags of names whose mention makes a write pin (PostgreSQL:
   * {@code pg_temp}, {@code pg_settings}); 0 for none.
   */
  int pinningNames() {
    return 0;
  }

  /** Whether a quoted identifier's name, as written, is one of {@link #pinningNames}. */
  boolean pinningQuoted(String name) {
    return false;
  }

  @Override
  public final StatementKind classify(String sql) {
    return classify(sql, false);
  }

  @Override
  public final StatementKind classify(String sql, boolean otherEscapes) {
    return classify(sql, otherEscapes, false);
  }

  @Override
  public final StatementKind classify(String sql, boolean otherEscapes, boolean ansiQuotes) {
    SqlScanner scanner = new SqlScanner(sql, mysql, false, otherEscapes, false);
    StatementKind kind = classify(scanner);
    boolean ambiguous = scanner.ambiguous();
    Boolean ansiToo = null; // asked once, when first needed (namesAnsiMode reads the whole text)
    if (kind != StatementKind.PIN
        && scanner.quotesAmbiguous()
        && (ansiToo = ansi(sql, ansiQuotes))) {
      // (MySQL) ANSI_QUOTES, which no reply reports, ends a double-quoted part elsewhere
      SqlScanner ansi = new SqlScanner(sql, mysql, false, otherEscapes, true);
      kind = both(kind, classify(ansi));
      ambiguous |= ansi.ambiguous();
    }
    if (kind != StatementKind.PIN && ambiguous) {
      // the server may read the text otherwise (its version, MariaDB's sql_mode=ORACLE): both
      // readings count, the more binding wins
      SqlScanner other = new SqlScanner(sql, mysql, true, otherEscapes, false);
      kind = both(kind, classify(other));
      if (kind != StatementKind.PIN
          && other.quotesAmbiguous()
          && (ansiToo != null ? ansiToo : ansi(sql, ansiQuotes))) {
        kind = both(kind, classify(new SqlScanner(sql, mysql, true, otherEscapes, true)));
      }
    }
    return kind == null ? StatementKind.READ : kind;
  }

  /**
   * Whether the text is read the {@code ANSI_QUOTES} way too: when the session may be in that mode
   * ({@code ansiQuotes}, from its settings), or the statement names a mode that includes it ({@code
   * SET STATEMENT sql_mode='ORACLE' FOR ...}). Not otherwise: double-quoted data such as {@code
   * ("O\"Brien", "ob@example.com")}, read so, shows a user variable and would pin needlessly.
   */
  private static boolean ansi(String sql, boolean ansiQuotes) {
    return ansiQuotes || StatementClassifier.namesAnsiMode(sql);
  }

  /** The more binding of two readings' kinds (null: the reading found no statement). */
  private static StatementKind both(StatementKind one, StatementKind other) {
    return one == null ? other : other == null ? one : one.and(other);
  }

  /** The kind of the statements {@code scanner} reads, or null when it reads none. */
  private StatementKind classify(SqlScanner scanner) {
    StatementKind result = null;
    Statement s = new Statement(scanner);
    while (s.start()) {
      StatementKind kind = leading(s);
      if (kind == StatementKind.READ) {
        kind = s.scanRead(this);
      } else {
        s.skipToEnd();
      }
      if (kind == StatementKind.READ && s.executableComment()) {
        kind = StatementKind.WRITE; // (MySQL) its code may run or not by the server's version
      }
      result = result == null ? kind : result.and(kind);
      if (result == StatementKind.PIN) {
        return result;
      }
    }
    if (scanner.unsure()) {
      // what follows a literal of unsure end may hide a pin or another statement: the session
      // stays where it runs
      return StatementKind.PIN;
    }
    return result;
  }

  @Override
  public final java.util.Set<String> calledFunctions(String sql) {
    SqlScanner scanner = new SqlScanner(sql, mysql);
    java.util.Set<String> names = null;
    String previous = "";
    for (int t = scanner.next(); t != SqlScanner.END; t = scanner.next()) {
      if (t == SqlScanner.OPEN && !previous.isEmpty() && !NOT_FUNCTIONS.contains(previous)) {
        if (names == null) {
          names = new java.util.TreeSet<>();
        }
        names.add(previous);
      }
      previous =
          t != SqlScanner.WORD
              ? ""
              : scanner.word().equals("\"") ? scanner.quoted() : scanner.word();
    }
    return names == null ? java.util.Set.of() : java.util.Set.copyOf(names);
  }

  /** Words followed by a parenthesis that are SQL syntax, not function calls. */
  private static final Set<String> NOT_FUNCTIONS =
      Set.of(
          "select",
          "from",
          "where",
          "and",
          "or",
          "not",
          "in",
          "exists",
          "any",
          "all",
          "some",
          "values",
          "as",
          "on",
          "using",
          "join",
          "lateral",
          "over",
          "filter",
          "within",
          "row",
          "array",
          "cast",
          "coalesce",
          "nullif",
          "greatest",
          "least",
          "case",
          "when",
          "then",
          "else",
          "union",
          "intersect",
          "except",
          "with",
          "by",
          "limit",
          "offset",
          "is",
          "like",
          "between",
          "distinct",
          "returning",
          "into",
          "table",
          "recursive",
          "materialized",
          "set",
          "group",
          "order",
          "having",
          "window",
          "partition");

  /** Cursor over one statement's tokens. */
  static final class Statement {
    private final SqlScanner scanner;
    private int token;
    private boolean executableComment;
    private boolean ended;

    Statement(SqlScanner scanner) {
      this.scanner = scanner;
    }

    /** Moves to the next statement's first token; false at the end of the text. */
    boolean start() {
      executableComment = false;
      do {
        token = scanner.next();
        executableComment |= token == SqlScanner.EXECUTABLE_COMMENT;
      } while (token == SqlScanner.SEMICOLON || token == SqlScanner.EXECUTABLE_COMMENT);
      ended = token == SqlScanner.END;
      return !ended;
    }

    /** The current token's word, or "" when it is not a word. */
    String word() {
      return token == SqlScanner.WORD ? scanner.word() : "";
    }

    /**
     * The current token's name: its word, or a quoted identifier's text as written ({@code
     * "pg_temp"} names the same schema as {@code pg_temp}); "" when it is neither.
     */
    String name() {
      return token != SqlScanner.WORD ? "" : nameOf(scanner);
    }

    private static String nameOf(SqlScanner scanner) {
      return scanner.word().equals("\"") ? scanner.quoted() : scanner.word();
    }

    int token() {
      return token;
    }

    boolean executableComment() {
      return executableComment;
    }

    /** The current token's name when it is a quoted identifier, else null. */
    private String quotedName() {
      return token == SqlScanner.WORD && scanner.wordStart() < 0 && scanner.word().equals("\"")
          ? scanner.quoted()
          : null;
    }

    /** Advances one token within the statement; false at its end. */
    boolean advance() {
      if (atEnd()) {
        return false;
      }
      token = scanner.next();
      while (token == SqlScanner.EXECUTABLE_COMMENT) {
        executableComment = true; // its code follows as the statement's next tokens
        token = scanner.next();
      }
      return !atEnd();
    }

    boolean atEnd() {
      return token == SqlScanner.END || token == SqlScanner.SEMICOLON;
    }

    /**
     * Whether any later name of the statement (a word, or a quoted identifier as written) is one of
     * {@code words}; consumes the statement.
     */
    boolean anyWord(Set<String> words) {
      return (anyWords(words, Set.of()) & 1) != 0;
    }

    /**
     * Which of two sets of names occur later in the statement: bit 0 for {@code first}, bit 1 for
     * {@code second}; consumes the statement.
     */
    int anyWords(Set<String> first, Set<String> second) {
      int found = 0;
      while (advance()) {
        if (token == SqlScanner.WORD) {
          String name = nameOf(scanner);
          found |= (first.contains(name) ? 1 : 0) | (second.contains(name) ? 2 : 0);
        }
      }
      return found;
    }

    void skipToEnd() {
      while (advance()) {
        // consume
      }
    }

    /**
     * Walks the rest of a write ({@code INSERT}, {@code UPDATE}, {@code DELETE}, {@code CREATE
     * TABLE ... AS}, a parenthesised statement, ...): it pins when it calls a function that leaves
     * session state behind ({@code UPDATE jobs ... WHERE pg_try_advisory_lock(id)}, {@code
     * GET_LOCK}), names a user variable (MySQL: {@code SET a = (@n := @n + 1)}, {@code CALL
     * p(@out)}, {@code LOAD DATA ... (@a)}), selects {@code INTO TEMP} or names what pins ({@link
     * #pinningNames}); otherwise it is a write.
     */
    StatementKind scanWrite(DialectClassifier dialect) {
      int previous = 0;
      int previousStart = -1;
      int previousEnd = -1;
      String previousQuoted = null;
      int names = dialect.pinningNames();
      // SELECT ... INTO TEMP t in parentheses; INSERT INTO temp is a table named temp
      boolean selects = token == SqlScanner.OPEN;
      while (!atEnd()) {
        int t = token;
        int w = t == SqlScanner.WORD ? scanner.keyword() : 0;
        String quoted = quotedName();
        boolean pins =
            t == SqlScanner.VARIABLE
                || (w & names) != 0
                || (quoted != null && dialect.pinningQuoted(quoted))
                || (selects && (previous & SqlScanner.INTO) != 0 && dialect.pinsAfterInto(name()));
        if (!pins && t == SqlScanner.OPEN && (previousStart >= 0 || previousQuoted != null)) {
          String function =
              previousStart >= 0 ? scanner.wordText(previousStart, previousEnd) : previousQuoted;
          pins = dialect.pinFunctions().contains(function);
        }
        if (pins) {
          skipToEnd();
          return StatementKind.PIN;
        }
        previous = w;
        previousStart = t == SqlScanner.WORD ? scanner.wordStart() : -1;
        previousEnd = scanner.wordEnd();
        previousQuoted = quoted;
        advance();
      }
      return StatementKind.WRITE;
    }

    /**
     * Walks the rest of a read and says whether it stays a read. Each word is compared in place
     * ({@link SqlScanner#keyword}); only a word followed by a parenthesis (a function's name) is
     * made and looked up.
     */
    StatementKind scanRead(DialectClassifier dialect) {
      StatementKind kind = StatementKind.READ;
      int previous = token == SqlScanner.WORD ? scanner.keyword() : 0;
      int previousStart = token == SqlScanner.WORD ? scanner.wordStart() : -1;
      int previousEnd = scanner.wordEnd();
      String previousQuoted = quotedName();
      while (!atEnd()) {
        int t = token;
        int w = t == SqlScanner.WORD ? scanner.keyword() : 0;
        if (t == SqlScanner.OPEN && (previousStart >= 0 || previousQuoted != null)) {
          // a quoted name is the function's as written ("nextval" is nextval, "NEXTVAL" is not)
          String function =
              previousStart >= 0 ? scanner.wordText(previousStart, previousEnd) : previousQuoted;
          if (dialect.pinFunctions().contains(function)) {
            return StatementKind.PIN;
          }
          if (dialect.writeFunctions().contains(function)) {
            kind = kind.and(StatementKind.WRITE);
          }
        } else if (t == SqlScanner.VARIABLE || t == SqlScanner.ASSIGN) {
          // MySQL user variables live in the session on the primary; setting one pins it there.
          boolean sets = t == SqlScanner.ASSIGN || (previous & SqlScanner.INTO) != 0;
          kind = kind.and(sets ? StatementKind.PIN : StatementKind.WRITE);
          if (kind == StatementKind.PIN) {
            return kind;
          }
        } else if ((previous & SqlScanner.INTO) != 0 && dialect.pinsAfterInto(name())) {
          return StatementKind.PIN;
        } else if ((previous & SqlScanner.FOR) != 0 && (w & SqlScanner.LOCKING) != 0) {
          kind = kind.and(StatementKind.WRITE);
        } else if ((previous & (SqlScanner.NEXT | SqlScanner.PREVIOUS)) != 0
            && (w & SqlScanner.VALUE) != 0) {
          // MariaDB NEXT VALUE FOR seq / PREVIOUS VALUE FOR seq
          kind = kind.and(StatementKind.WRITE);
        } else if ((previous & SqlScanner.LOCK) != 0 && (w & SqlScanner.IN) != 0) {
          kind = kind.and(StatementKind.WRITE);
        } else if ((w & SqlScanner.MODIFYING) != 0) {
          // SELECT ... INTO, and data-modifying WITH.
          kind = kind.and(StatementKind.WRITE);
        }
        previous = w;
        // a function's name: a word of the text, or a quoted identifier's name
        previousStart = t == SqlScanner.WORD ? scanner.wordStart() : -1;
        previousEnd = scanner.wordEnd();
        previousQuoted = quotedName();
        advance();
      }
      return kind;
    }
  }
}

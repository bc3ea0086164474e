package io.halo.routing.split;

/**
 * Classifies SQL text for the read/write split: {@link StatementKind#READ} only when the text is
 * known to be a pure read, anything unknown goes to the primary. Implementations are stateless and
 * thread-safe; {@link #cached} puts a bounded cache ({@link TextCache}) in front, keyed by the
 * text, because applications send the same statements over and over.
 */
public interface StatementClassifier {

  /** Statements longer than this are classified every time instead of being cached. */
  int MAX_CACHED_LENGTH = 4096;

  StatementKind classify(String sql);

  /**
   * {@link #classify} as a server whose strings read backslashes the other way from its default
   * reads {@code sql}: MySQL with {@code NO_BACKSLASH_ESCAPES} (no escapes), PostgreSQL with {@code
   * standard_conforming_strings = off} (escapes in every string). Rare: never cached.
   */
  default StatementKind classify(String sql, boolean otherEscapes) {
    return classify(sql);
  }

  /**
   * {@link #classify(String, boolean)} for a session that may have MySQL's {@code ANSI_QUOTES}
   * (which no reply reports; the caller knows it from the session's settings): double-quoted text
   * that the mode would end elsewhere is read both ways. Rare: never cached.
   */
  default StatementKind classify(String sql, boolean otherEscapes, boolean ansiQuotes) {
    return classify(sql, otherEscapes);
  }

  /**
   * The names (unqualified; lower case, or as written when quoted) of the functions {@code sql}
   * calls, so that a caller can ask the server's catalogue whether they write; SQL syntax followed
   * by a parenthesis ({@code IN (...)}, {@code EXISTS (...)}) is left out.
   */
  default java.util.Set<String> calledFunctions(String sql) {
    return java.util.Set.of();
  }

  /**
   * Whether {@code text} names, in any case, a MySQL/MariaDB {@code sql_mode} that includes {@code
   * ANSI_QUOTES}: {@code ANSI}, {@code ANSI_QUOTES}, and MariaDB's {@code ORACLE}, {@code MSSQL},
   * {@code DB2}, {@code POSTGRESQL}, {@code MAXDB}. A plain search, without a copy of the text: a
   * false alarm only reads a text one more way.
   */
  static boolean namesAnsiMode(String text) {
    for (int i = 0; i < text.length(); i++) {
      for (String mode : ANSI_MODES) {
        if (text.regionMatches(true, i, mode, 0, mode.length())) {
          return true;
        }
      }
    }
    return false;
  }

  /** The sql_mode names (lower case) whose modes include ANSI_QUOTES. */
  java.util.List<String> ANSI_MODES =
      java.util.List.of("ansi", "oracle", "mssql", "db2", "postgresql", "maxdb");

  /** The PostgreSQL classifier. */
  static StatementClassifier postgres() {
    return new PgClassifier();
  }

  /** The MySQL/MariaDB classifier. */
  static StatementClassifier mysql() {
    return new MySqlClassifier();
  }

  /**
   * {@code classifier} behind a cache of at most {@code maxEntries} statement texts. A text enters
   * the cache at its second sighting: statements with their literals written inline ({@code pgbench
   * -S -M simple}, ORMs without bind parameters) are each new, and caching every one would cost a
   * cache write and, soon, an eviction per statement for no hit. Nor is the cache asked about a
   * text not seen lately: for such texts the lookup (hashing the text, a map probe) would cost
   * about half a classification for no hit. A text that was cached, then pushed out of the
   * sightings by others, is classified once more and then found again.
   */
  static StatementClassifier cached(StatementClassifier classifier, long maxEntries) {
    TextCache<StatementKind> kinds = new TextCache<>(maxEntries);
    TextCache<java.util.Set<String>> functions = new TextCache<>(maxEntries);
    SecondSighting kindsSeen = new SecondSighting();
    SecondSighting functionsSeen = new SecondSighting();
    return new StatementClassifier() {
      @Override
      public StatementKind classify(String sql) {
        if (sql.length() > MAX_CACHED_LENGTH) {
          return classifier.classify(sql);
        }
        if (!kindsSeen.seenBefore(sql)) {
          return classifier.classify(sql); // new (or not seen lately): the cache has no answer
        }
        StatementKind kind = kinds.get(sql);
        if (kind == null) {
          kind = classifier.classify(sql);
          kinds.put(sql, kind);
        }
        return kind;
      }

      @Override
      public StatementKind classify(String sql, boolean otherEscapes) {
        return otherEscapes ? classifier.classify(sql, true) : classify(sql);
      }

      @Override
      public StatementKind classify(String sql, boolean otherEscapes, boolean ansiQuotes) {
        return ansiQuotes
            ? classifier.classify(sql, otherEscapes, true)
            : classify(sql, otherEscapes);
      }

      @Override
      public java.util.Set<String> calledFunctions(String sql) {
        if (sql.length() > MAX_CACHED_LENGTH) {
          return classifier.calledFunctions(sql);
        }
        if (!functionsSeen.seenBefore(sql)) {
          return classifier.calledFunctions(sql);
        }
        java.util.Set<String> names = functions.get(sql);
        if (names == null) {
          names = classifier.calledFunctions(sql);
          functions.put(sql, names);
        }
        return names;
      }
    };
  }
}

package io.halo.routing.rules;

/**
 * Finds a routing hint, {@code halo:WORD}, in the comments that lead a statement: {@code /*
 * halo:replica *}{@code / SELECT ...}, {@code -- halo:primary} on the first line, or any number of
 * such comments (and whitespace) before the statement's first token. The first {@code halo:}
 * followed by a word wins. A comment after the first token is not looked at: the hint must be cheap
 * to find, and a hint in the middle of a statement is more likely text in a string than an
 * instruction.
 *
 * <p>Allocation-free: the hint is returned as a span packed into a {@code long} ({@code start << 32
 * | end}), compared in place with {@link #is}. Scans at most {@code limit} characters. PostgreSQL's
 * nested block comments end, for this scan, at the first {@code *}{@code /}; a hint in their first
 * part is found.
 */
final class Hints {

  /** No hint. */
  static final long NONE = -1;

  private static final String PREFIX = "halo:";

  private Hints() {}

  static long find(CharSequence sql, int limit) {
    int n = Math.min(sql.length(), limit);
    int i = 0;
    while (i < n) {
      char c = sql.charAt(i);
      if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f') {
        i++;
      } else if (c == '/' && i + 1 < n && sql.charAt(i + 1) == '*') {
        int end = indexOf(sql, '*', '/', i + 2, n);
        long span = scan(sql, i + 2, end < 0 ? n : end);
        if (span != NONE || end < 0) {
          return span;
        }
        i = end + 2;
      } else if (c == '-' && i + 1 < n && sql.charAt(i + 1) == '-') {
        int end = i + 2;
        while (end < n && sql.charAt(end) != '\n') {
          end++;
        }
        long span = scan(sql, i + 2, end);
        if (span != NONE) {
          return span;
        }
        i = end + 1;
      } else {
        return NONE;
      }
    }
    return NONE;
  }

  /** Whether the hint at {@code span} is {@code word} (ASCII case-insensitive). */
  static boolean is(CharSequence sql, long span, String word) {
    int start = (int) (span >>> 32);
    int end = (int) span;
    if (end - start != word.length()) {
      return false;
    }
    for (int k = 0; k < word.length(); k++) {
      if (lower(sql.charAt(start + k)) != lower(word.charAt(k))) {
        return false;
      }
    }
    return true;
  }

  /** The hint word at {@code span}, for messages and tests (allocates). */
  static String text(CharSequence sql, long span) {
    return sql.subSequence((int) (span >>> 32), (int) span).toString();
  }

  /** The first {@code halo:WORD} within [from, to). */
  private static long scan(CharSequence sql, int from, int to) {
    for (int i = from; i + PREFIX.length() < to; i++) {
      if (lower(sql.charAt(i)) != 'h' || !prefixAt(sql, i)) {
        continue;
      }
      int start = i + PREFIX.length();
      int end = start;
      while (end < to && wordChar(sql.charAt(end))) {
        end++;
      }
      if (end > start) {
        return ((long) start << 32) | end;
      }
    }
    return NONE;
  }

  private static boolean prefixAt(CharSequence sql, int i) {
    for (int k = 0; k < PREFIX.length(); k++) {
      if (lower(sql.charAt(i + k)) != PREFIX.charAt(k)) {
        return false;
      }
    }
    // "xhalo:" is not a hint: the prefix starts a word.
    return i == 0 || !wordChar(sql.charAt(i - 1));
  }

  private static int indexOf(CharSequence sql, char a, char b, int from, int to) {
    for (int i = from; i + 1 < to; i++) {
      if (sql.charAt(i) == a && sql.charAt(i + 1) == b) {
        return i;
      }
    }
    return -1;
  }

  private static boolean wordChar(char c) {
    return (c >= 'a' && c <= 'z')
        || (c >= 'A' && c <= 'Z')
        || (c >= '0' && c <= '9')
        || c == '_'
        || c == '.'
        || c == '-';
  }

  private static char lower(char c) {
    return c >= 'A' && c <= 'Z' ? (char) (c + ('a' - 'A')) : c;
  }
}

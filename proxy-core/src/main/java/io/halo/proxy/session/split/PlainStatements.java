package io.halo.proxy.session.split;

import io.netty.buffer.ByteBuf;

/**
 * A first look at a statement's bytes, for sessions whose statements all run on the primary (a
 * pooled listener with {@code route: primary}). There, of everything the classifier tells, only
 * three answers change what the session does: the statement leaves session state behind (it pins
 * the session to its connection), it changes a setting (kept and replayed), or it controls the
 * transaction. Reads and writes go to the same place. Most of an application's statements are
 * plainly none of these, and saying so from the bytes costs a fraction of decoding the text and
 * classifying it.
 *
 * <p>A statement is plain when it is one statement led by {@code SELECT}, {@code INSERT}, {@code
 * UPDATE} or {@code DELETE} (after whitespace only: a leading comment, which may carry a hint, is
 * not looked through) and none of its bytes could start what pins: no parenthesis (every function
 * call, {@code pg_advisory_lock(...)}, {@code set_config(...)}, {@code GET_LOCK(...)}), no
 * {@code @} or {@code :=} (MySQL user variables), no {@code INTO} in a {@code SELECT} (PostgreSQL's
 * {@code SELECT ... INTO TEMP t}), no {@code pg_temp} or {@code settings} (PostgreSQL's session
 * schema; {@code UPDATE pg_settings} sets a setting), no MySQL executable comment ({@code /*!},
 * {@code /*M!}: code the server may run), no semicolon except at the end (a second statement), no
 * NUL (a malformed message, for the full path to refuse). The look is at bytes, literals and
 * comments included: a parenthesis inside a string sends the statement the long way, never the
 * other way round. The answer does not depend on the client encoding: every encoding the servers
 * accept as a client's writes ASCII characters as themselves, and a later byte of a multi-byte
 * character that happens to look like one of the bytes above (an {@code @} in Shift JIS, a digit in
 * GB18030) can only make the look give up, as none of them is whitespace.
 *
 * <p>What "plain" promises is checked against the classifier in {@code PlainStatementsTest}: no
 * statement this look calls plain is, by the classifier, a pin, a setting or transaction control.
 */
final class PlainStatements {

  private PlainStatements() {}

  /** What a body byte may start or end: most bytes are {@link #ORDINARY}. */
  private static final byte ORDINARY = 0;

  private static final byte STOP = 1; // ( @ NUL: never plain
  private static final byte SEMICOLON = 2;
  private static final byte EQUALS = 3; // := (a MySQL assignment)
  private static final byte WORD_END = 4; // the last byte of a word looked for, folded as below

  private static final byte[] CLASS = new byte[256];

  private static final byte[] INTO = folded("into");
  private static final byte[] PG_TEMP = folded("pg_temp");
  private static final byte[] SETTINGS = folded("settings");
  private static final byte[] EXECUTABLE = folded("/*!");
  private static final byte[] EXECUTABLE_MARIADB = folded("/*m!");

  static {
    CLASS['('] = STOP;
    CLASS['@'] = STOP;
    CLASS[0] = STOP;
    CLASS[';'] = SEMICOLON;
    CLASS['='] = EQUALS;
    for (int c = 0; c < 256; c++) {
      int f = fold((byte) c);
      if (CLASS[c] == ORDINARY && (f == 'o' || f == 'p' || f == 's' || f == '!')) {
        CLASS[c] = WORD_END;
      }
    }
  }

  /** A byte as the look compares it: ASCII letters in lower case ({@code '_'} and others moved). */
  private static int fold(byte c) {
    return (c | 0x20) & 0xff;
  }

  private static byte[] folded(String lower) {
    byte[] b = new byte[lower.length()];
    for (int i = 0; i < b.length; i++) {
      b[i] = (byte) fold((byte) lower.charAt(i));
    }
    return b;
  }

  private static final long SELECT = packed("select");
  private static final long INSERT = packed("insert");
  private static final long UPDATE = packed("update");
  private static final long DELETE = packed("delete");

  private static long packed(String lower) {
    long p = 0;
    for (int i = 0; i < lower.length(); i++) {
      p = p << 8 | fold((byte) lower.charAt(i));
    }
    return p;
  }

  private static boolean space(byte c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f';
  }

  private static boolean letter(byte c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
  }

  /** Body bytes kept in front of each chunk: the longest word looked for ("settings"). */
  private static final int KEEP = 8;

  /** How many of the body's bytes are copied out at a time (a statement may be megabytes long). */
  private static final int CHUNK = 256;

  private static final int GOES_ON = 0;
  private static final int NOT_PLAIN = -1;
  private static final int AFTER_SEMICOLON = 1;

  /** Whether the statement in {@code buf[from, to)} is plain (see the class comment). */
  static boolean plain(ByteBuf buf, int from, int to) {
    int i = from;
    while (i < to && space(buf.getByte(i))) {
      i++;
    }
    int wordStart = i;
    long word = 0;
    for (; i < to && letter(buf.getByte(i)); i++) {
      if (i - wordStart == 6) {
        return false; // longer than any of the four
      }
      word = word << 8 | fold(buf.getByte(i));
    }
    if (i == wordStart
        || i == to
        || !space(buf.getByte(i))
        || (word != SELECT && word != INSERT && word != UPDATE && word != DELETE)) {
      return false;
    }
    boolean select = word == SELECT;
    int body = i + 1; // the body: what follows the first word and one whitespace byte
    // The body is copied out a chunk at a time, behind the last KEEP bytes of the chunk before
    // (a word looked for may span two chunks), and looked at in a loop of this class's own: one
    // table lookup per byte.
    byte[] a = new byte[KEEP + Math.min(CHUNK, Math.max(0, to - body))];
    int bodyAt = KEEP; // where the body starts in a (below 0 once it began chunks ago)
    boolean afterSemicolon = false;
    for (int at = body; at < to; ) {
      int n = Math.min(a.length - KEEP, to - at);
      buf.getBytes(at, a, KEEP, n);
      if (afterSemicolon) {
        for (int k = KEEP; k < KEEP + n; k++) {
          if (!space(a[k])) {
            return false; // after the semicolon: nothing but whitespace
          }
        }
      } else {
        int r = scan(a, KEEP, KEEP + n, bodyAt, select);
        if (r == NOT_PLAIN) {
          return false;
        }
        afterSemicolon = r == AFTER_SEMICOLON;
      }
      at += n;
      if (at < to) { // (a chunk before the last is whole: n > KEEP)
        System.arraycopy(a, n, a, 0, KEEP);
        bodyAt -= n;
      }
    }
    return true;
  }

  /**
   * Looks at the body bytes {@code a[from, to)}, whose body began at {@code body} (the bytes from
   * there to {@code from} were looked at already): {@link #NOT_PLAIN}, {@link #AFTER_SEMICOLON} (a
   * semicolon and whitespace after it), or {@link #GOES_ON}.
   */
  private static int scan(byte[] a, int from, int to, int body, boolean select) {
    for (int i = from; i < to; i++) {
      switch (CLASS[a[i] & 0xff]) {
        case ORDINARY -> {}
        case STOP -> {
          return NOT_PLAIN;
        }
        case EQUALS -> {
          if (i > body && a[i - 1] == ':') {
            return NOT_PLAIN;
          }
        }
        case SEMICOLON -> {
          for (i++; i < to; i++) {
            if (!space(a[i])) {
              return NOT_PLAIN; // after the semicolon: nothing but whitespace
            }
          }
          return AFTER_SEMICOLON;
        }
        default -> { // WORD_END
          if ((select && endsWith(a, i, body, INTO))
              || endsWith(a, i, body, PG_TEMP)
              || endsWith(a, i, body, SETTINGS)
              || endsWith(a, i, body, EXECUTABLE)
              || endsWith(a, i, body, EXECUTABLE_MARIADB)) {
            return NOT_PLAIN;
          }
        }
      }
    }
    return GOES_ON;
  }

  /** Whether the body bytes up to {@code a[end]} (from {@code body} on) end in {@code word}. */
  private static boolean endsWith(byte[] a, int end, int body, byte[] word) {
    int from = end - word.length + 1;
    if (from < Math.max(body, 0)) {
      return false;
    }
    for (int k = 0; k < word.length; k++) {
      if (fold(a[from + k]) != word[k]) {
        return false;
      }
    }
    return true;
  }
}

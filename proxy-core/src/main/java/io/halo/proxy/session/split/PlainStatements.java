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

  private static final long SELECT = packed("select");
  private static final long INSERT = packed("insert");
  private static final long UPDATE = packed("update");
  private static final long DELETE = packed("delete");

  // the words whose last byte is a WORD_END, packed as the rolling window of folded bytes holds
  // them
  private static final long INTO = packed("into");
  private static final long PG_TEMP = packed("pg_temp");
  private static final long SETTINGS = packed("settings");
  private static final long EXECUTABLE = packed("/*!");
  private static final long EXECUTABLE_MARIADB = packed("/*m!");

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
    // The body (what follows the first word and one whitespace byte) is read eight bytes at a time,
    // nothing copied or allocated, and looked at a byte at a time: one table lookup each. The last
    // eight folded body bytes are kept in a rolling window, so that a word looked for ends at a
    // WORD_END byte when the window's low bytes are that word.
    long window = 0;
    int seen = 0; // body bytes looked at, the current one included
    byte prev = 0;
    boolean afterSemicolon = false;
    for (int at = i + 1; at < to; ) {
      int n = Math.min(8, to - at);
      long block = n == 8 ? buf.getLong(at) : leftAligned(buf, at, n);
      at += n;
      for (int k = 0; k < n; k++, block <<= 8) {
        byte c = (byte) (block >>> 56);
        if (afterSemicolon) {
          if (!space(c)) {
            return false; // after the semicolon: nothing but whitespace
          }
          continue;
        }
        window = window << 8 | fold(c);
        seen++;
        switch (CLASS[c & 0xff]) {
          case ORDINARY -> {}
          case STOP -> {
            return false;
          }
          case EQUALS -> {
            if (seen > 1 && prev == ':') {
              return false;
            }
          }
          case SEMICOLON -> afterSemicolon = true;
          default -> { // WORD_END
            if (endsInWord(window, seen, select)) {
              return false;
            }
          }
        }
        prev = c;
      }
    }
    return true;
  }

  /** Whether the last {@code seen} body bytes, of which {@code window} holds eight, end a word. */
  private static boolean endsInWord(long window, int seen, boolean select) {
    return (select && seen >= 4 && (window & 0xffff_ffffL) == INTO)
        || (seen >= 7 && (window & 0xff_ffff_ffff_ffffL) == PG_TEMP)
        || (seen >= 8 && window == SETTINGS)
        || (seen >= 3 && (window & 0xff_ffffL) == EXECUTABLE)
        || (seen >= 4 && (window & 0xffff_ffffL) == EXECUTABLE_MARIADB);
  }

  /**
   * The {@code n} (under eight) bytes of {@code buf} from {@code at}, as the high bytes of a long.
   */
  private static long leftAligned(ByteBuf buf, int at, int n) {
    long block = 0;
    for (int k = 0; k < n; k++) {
      block |= (buf.getByte(at + k) & 0xffL) << (56 - 8 * k);
    }
    return block;
  }
}

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

  /** How many of the statement's bytes are copied out at a time for the look. */
  private static final int CHUNK = 256;

  /** Whether the statement in {@code buf[from, to)} is plain (see the class comment). */
  static boolean plain(ByteBuf buf, int from, int to) {
    if (to <= from) {
      return false;
    }
    // The bytes are copied out a chunk at a time and looked at in a loop of this class's own: a
    // ByteProcessor would be called through Netty's forEachByte, whose call site every processor
    // of the process shares (an interface call per byte, on every statement).
    Look look = new Look();
    byte[] chunk = new byte[Math.min(CHUNK, to - from)];
    for (int at = from; at < to; at += chunk.length) {
      int n = Math.min(chunk.length, to - at);
      buf.getBytes(at, chunk, 0, n);
      if (!look.scan(chunk, n)) {
        return false;
      }
    }
    return look.plain();
  }

  /** The look, byte by byte: a small state machine, carried from one chunk to the next. */
  private static final class Look {
    private static final int LEAD = 0;
    private static final int WORD = 1;
    private static final int BODY = 2;
    private static final int TAIL = 3;

    private static final long SELECT = packed("select");
    private static final long INSERT = packed("insert");
    private static final long UPDATE = packed("update");
    private static final long DELETE = packed("delete");
    private static final int INTO = (int) packed("into");
    private static final long PG_TEMP = packed("pg_temp");
    private static final long SETTINGS = packed("settings");
    private static final int EXECUTABLE = (int) packed("/*!");
    private static final int EXECUTABLE_MARIADB = (int) packed("/*m!");
    private static final int THREE_BYTES = (1 << 24) - 1;
    private static final long SEVEN_BYTES = (1L << 56) - 1;

    private int state = LEAD;
    private long word;
    private int length;
    private boolean select;
    private long window;
    private byte previous;

    private static long packed(String lower) {
      long p = 0;
      for (int i = 0; i < lower.length(); i++) {
        p = p << 8 | (lower.charAt(i) | 0x20); // as the look folds bytes ('_' too)
      }
      return p;
    }

    private static boolean space(byte c) {
      return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f';
    }

    private static boolean letter(byte c) {
      return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    }

    /** Looks at {@code bytes[0, n)}; false once the statement cannot be plain. */
    boolean scan(byte[] bytes, int n) {
      int i = 0;
      while (i < n && state != BODY) {
        if (!before(bytes[i++])) {
          return false;
        }
      }
      // the body, where nearly every statement spends its bytes: the state in locals
      long w = window;
      byte prev = previous;
      boolean sel = select;
      for (; i < n; i++) {
        byte c = bytes[i];
        if (c == '(' || c == '@' || c == 0 || (c == '=' && prev == ':')) {
          return false;
        }
        if (c == ';') {
          window = w;
          previous = prev;
          state = TAIL;
          for (i++; i < n; i++) {
            if (!space(bytes[i])) {
              return false; // after the semicolon: nothing but whitespace
            }
          }
          return true;
        }
        prev = c;
        int folded = (c | 0x20) & 0xff;
        w = w << 8 | folded;
        // each word looked for ends in one of these bytes: the window is compared only there
        if ((folded == 'o' && sel && (int) w == INTO)
            || (folded == 'p' && (w & SEVEN_BYTES) == PG_TEMP)
            || (folded == 's' && w == SETTINGS)
            || (folded == '!'
                && (((int) w & THREE_BYTES) == EXECUTABLE || (int) w == EXECUTABLE_MARIADB))) {
          return false;
        }
      }
      window = w;
      previous = prev;
      return true;
    }

    /** One byte before the body: the leading whitespace, the first word, and the tail. */
    private boolean before(byte c) {
      switch (state) {
        case LEAD -> {
          if (space(c)) {
            return true;
          }
          state = WORD;
          return letter(c) && letterOfWord(c);
        }
        case WORD -> {
          if (letter(c)) {
            return letterOfWord(c);
          }
          if (!space(c) || (word != SELECT && word != INSERT && word != UPDATE && word != DELETE)) {
            return false;
          }
          select = word == SELECT;
          state = BODY;
          return true;
        }
        default -> {
          return space(c); // after the semicolon: nothing but whitespace
        }
      }
    }

    private boolean letterOfWord(byte c) {
      word = word << 8 | (c | 0x20);
      return ++length <= 6;
    }

    boolean plain() {
      return state == BODY || state == TAIL;
    }
  }
}

package io.halo.proxy.mysql;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.util.AttributeKey;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Server-side prepared statements (COM_STMT_*) of a transaction-pooled MySQL session: the book that
 * lets them run on whichever backend connection the session has now, as PgBouncer's {@code
 * max_prepared_statements} does for PostgreSQL and ProxySQL does for MySQL.
 *
 * <ul>
 *   <li><b>Ids.</b> The client sees Halo's statement ids (1, 2, ... per session), never a
 *       backend's: a PREPARE's reply carries Halo's id, and every command naming a statement gets
 *       the id of that statement on the connection it runs on. An id the session does not have is
 *       answered with ERR 1243 by Halo: it never reaches a backend, where it could name another
 *       session's statement. MariaDB's id {@code 0xFFFFFFFF} (the statement prepared last) means
 *       the session's last prepared statement.
 *   <li><b>Per connection.</b> Each backend connection keeps the statements prepared on it, keyed
 *       by text and the session settings they were prepared under, least recently used beyond
 *       {@code pool.max_prepared_statements} closed. Sessions share them: a statement another
 *       session prepared on the connection under the same settings is executed as it is.
 *   <li><b>Lazily prepared.</b> A statement executed on a connection that does not have it is
 *       prepared there first, hidden, under the session's settings then (so a {@code USE} after
 *       PREPARE changes where its unqualified names resolve, unlike on one server connection).
 *   <li><b>Parameter types.</b> An execute that does not bind types ({@code new_params_bound_flag}
 *       0) relies on the types the server saw last for that statement; where that was another
 *       session's or another connection's execute, Halo sends the session's last types with it.
 * </ul>
 *
 * <p>What needs one connection pins the session (counted like every pin): long data
 * (COM_STMT_SEND_LONG_DATA) and cursors (an execute with a cursor flag, COM_STMT_FETCH). Owned by
 * the session's event loop, as are the connections' books while a session has them.
 */
final class MySqlStatements {

  /** The statements prepared on a backend connection (null: none). */
  static final AttributeKey<OnConnection> ON_CONNECTION =
      AttributeKey.valueOf("halo.mysql.statements");

  /** MariaDB's id for the statement prepared last on the connection. */
  static final long LAST = 0xFFFFFFFFL;

  /** As many statements per session as MySQL's default {@code max_prepared_stmt_count}. */
  static final int MAX_STATEMENTS = 16_382;

  /** The text of a session's statements, all together, at most this many bytes. */
  static final long MAX_TEXT_BYTES = 32L << 20;

  /** The text of the statements one backend connection keeps, at most this many bytes. */
  static final long MAX_CONNECTION_TEXT_BYTES = 4L << 20;

  /** ER_UNKNOWN_STMT_HANDLER. */
  static final int UNKNOWN_STATEMENT = 1243;

  /** ER_MAX_PREPARED_STMT_COUNT_REACHED. */
  static final int TOO_MANY_STATEMENTS = 1461;

  /** ER_MALFORMED_PACKET. */
  static final int MALFORMED = 1835;

  /** Where a statement lives: its text and the settings of the connection it was prepared on. */
  record Key(List<String> settings, String text) {}

  /** A statement the client prepared through Halo. */
  static final class Statement {
    final String text;
    final int params;

    /** The client's id for it (0 until added). */
    private long id;

    /** Its key under the settings it was prepared under. */
    Key origin;

    /** The types the client bound last (2 bytes per parameter), or null before it bound any. */
    byte[] types;

    private Key key;

    Statement(String text, int params) {
      this.text = text;
      this.params = params;
    }

    /** Its key under {@code settings} (the session's now), kept while those stay the same list. */
    Key key(List<String> settings) {
      if (key == null || key.settings() != settings) {
        key = new Key(settings, text);
      }
      return key;
    }
  }

  /** A statement prepared on one backend connection. */
  static final class OnBackend {
    final long id;

    /** The parameter types this statement was executed with last on its connection, or null. */
    byte[] boundTypes;

    OnBackend(long id) {
      this.id = id;
    }
  }

  /** The statements prepared on one backend connection, least recently used first. */
  static final class OnConnection {
    private final LinkedHashMap<Key, OnBackend> byKey = new LinkedHashMap<>(16, 0.75f, true);
    private long textBytes;

    OnBackend get(Key key) {
      return byKey.get(key);
    }

    /**
     * Notes {@code id} prepared as {@code key}; returns the backend ids to close: {@code id} itself
     * when the connection already has {@code key} (the statement there stays, with whatever it
     * holds), and the least recently used beyond {@code max} statements or {@link
     * #MAX_CONNECTION_TEXT_BYTES} of text (the newest always stays).
     */
    List<Long> put(Key key, long id, int max) {
      List<Long> close = new ArrayList<>(1);
      OnBackend have = byKey.get(key);
      if (have != null) {
        if (have.id != id) {
          close.add(id);
        }
        return close;
      }
      byKey.put(key, new OnBackend(id));
      textBytes += key.text().length();
      Iterator<Map.Entry<Key, OnBackend>> lru = byKey.entrySet().iterator();
      while ((byKey.size() > max || textBytes > MAX_CONNECTION_TEXT_BYTES) && byKey.size() > 1) {
        Map.Entry<Key, OnBackend> e = lru.next();
        close.add(e.getValue().id);
        textBytes -= e.getKey().text().length();
        lru.remove();
      }
      return close;
    }
  }

  private final Map<Long, Statement> byId = new HashMap<>();
  private long nextId = 1;
  private long textBytes;

  /** PREPAREs sent and not answered yet, and their text: counted against the limits. */
  private int pending;

  private long pendingBytes;

  /** The statement prepared last (MariaDB's {@link #LAST}), or null. */
  private Statement last;

  /** The statement named by {@code id} ({@link #LAST} included), or null. */
  Statement find(long id) {
    return id == LAST ? last : byId.get(id);
  }

  /** Why another statement of {@code textLength} bytes cannot be prepared, or null. */
  String full(int textLength) {
    if (textLength >= io.halo.proxy.mysql.packet.MySqlPacket.MAX_WIRE_PAYLOAD - 1) {
      return "Halo: a statement of 16 MB or more cannot be prepared through Halo";
    }
    if (byId.size() + pending >= MAX_STATEMENTS) {
      return "Can't create more than max_prepared_stmt_count statements (current value: "
          + MAX_STATEMENTS
          + ")";
    }
    if (textBytes + pendingBytes + textLength > MAX_TEXT_BYTES) {
      return "Halo: this session's prepared statements hold more than "
          + (MAX_TEXT_BYTES >> 20)
          + " MB of text; close some before preparing more";
    }
    return null;
  }

  /** A PREPARE of {@code textLength} bytes is sent. */
  void preparing(int textLength) {
    pending++;
    pendingBytes += textLength;
  }

  /** A PREPARE of {@code textLength} bytes is answered (or lost). */
  void answered(int textLength) {
    pending = Math.max(0, pending - 1);
    pendingBytes = Math.max(0, pendingBytes - textLength);
  }

  /** Keeps a statement the server prepared; returns the client's id for it. */
  long add(Statement s) {
    long id = nextId;
    do {
      nextId = nextId == LAST - 1 ? 1 : nextId + 1;
    } while (byId.containsKey(nextId));
    s.id = id;
    byId.put(id, s);
    textBytes += s.text.length();
    last = s;
    return id;
  }

  /** A PREPARE failed: MariaDB's "last statement" is none now. */
  void prepareFailed() {
    last = null;
  }

  void close(long id) {
    Statement s = id == LAST ? last : byId.get(id);
    if (s == null) {
      return;
    }
    byId.remove(s.id);
    textBytes -= s.text.length();
    if (last == s) {
      last = null;
    }
  }

  /** COM_RESET_CONNECTION or COM_CHANGE_USER: the session's statements are gone, as on a server. */
  void clear() {
    byId.clear();
    textBytes = 0;
    last = null;
  }

  int size() {
    return byId.size();
  }

  // ------------------------------------------------------------------ packets

  /** Whether {@code command} names a statement by id (the first 4 bytes after the command). */
  static boolean namesStatement(int command) {
    return command == io.halo.proxy.mysql.packet.MySqlPackets.COM_STMT_EXECUTE
        || command == io.halo.proxy.mysql.packet.MySqlPackets.COM_STMT_SEND_LONG_DATA
        || command == io.halo.proxy.mysql.packet.MySqlPackets.COM_STMT_CLOSE
        || command == io.halo.proxy.mysql.packet.MySqlPackets.COM_STMT_RESET
        || command == io.halo.proxy.mysql.packet.MySqlPackets.COM_STMT_FETCH;
  }

  /** The statement id a command names, or -1 when the packet is too short to name one. */
  static long statementId(ByteBuf payload) {
    return payload.readableBytes() < 5 ? -1 : payload.getUnsignedIntLE(payload.readerIndex() + 1);
  }

  /** Writes {@code id} over the statement id of a command or of a PREPARE's OK, in place. */
  static void statementId(ByteBuf payload, long id) {
    payload.setIntLE(payload.readerIndex() + 1, (int) id);
  }

  /** The text of a COM_STMT_PREPARE (bytes kept as they are, one char each). */
  static String text(ByteBuf payload) {
    return payload.toString(
        payload.readerIndex() + 1, payload.readableBytes() - 1, StandardCharsets.ISO_8859_1);
  }

  /**
   * A PREPARE's OK: {@code 0x00, id<4>, columns<2>, params<2>, 0x00, warnings<2>}; its parameter
   * count, or -1 when it is not one (an ERR).
   */
  static int preparedParams(ByteBuf payload) {
    if (payload.readableBytes() < 9 || payload.getUnsignedByte(payload.readerIndex()) != 0) {
      return -1;
    }
    return payload.getUnsignedShortLE(payload.readerIndex() + 7);
  }

  /** An execute asks for a cursor (rows then come by COM_STMT_FETCH on the same connection). */
  static boolean opensCursor(ByteBuf payload) {
    return payload.readableBytes() >= 6 && (payload.getByte(payload.readerIndex() + 5) & 0x07) != 0;
  }

  /**
   * Where an execute's {@code new_params_bound_flag} is, given the statement's parameter count
   * ({@code cmd, id<4>, flags, iterations<4>, null bitmap}), or -1 when it has none or the packet
   * is too short to hold it.
   */
  static int boundFlagAt(ByteBuf payload, int params) {
    if (params == 0) {
      return -1;
    }
    int at = 10 + (params + 7) / 8;
    return payload.readableBytes() <= at ? -1 : at;
  }

  /**
   * The types an execute binds after its flag at {@code flagAt}, copied; null when the packet is
   * too short to hold them all.
   */
  static byte[] boundTypes(ByteBuf payload, int flagAt, int params) {
    if (payload.readableBytes() < flagAt + 1 + 2 * params) {
      return null;
    }
    byte[] types = new byte[2 * params];
    payload.getBytes(payload.readerIndex() + flagAt + 1, types);
    return types;
  }

  /**
   * An execute that binds no types, with {@code types} bound: the flag set to 1 and the types after
   * it. A new buffer; {@code payload} is left as it is.
   */
  static ByteBuf withTypes(ByteBufAllocator alloc, ByteBuf payload, int flagAt, byte[] types) {
    int start = payload.readerIndex();
    int n = payload.readableBytes();
    ByteBuf out = alloc.buffer(n + types.length);
    out.writeBytes(payload, start, flagAt).writeByte(1).writeBytes(types);
    out.writeBytes(payload, start + flagAt + 1, n - flagAt - 1);
    return out;
  }

  /** Whether the server's types for a statement on a connection are {@code types}. */
  static boolean sameTypes(byte[] bound, byte[] types) {
    return bound == types || (bound != null && Arrays.equals(bound, types));
  }

  /** COM_STMT_PREPARE of {@code text} (as {@link #text} read it), as a wire packet. */
  static ByteBuf prepare(ByteBufAllocator alloc, String text) {
    ByteBuf q = alloc.buffer(5 + text.length());
    q.writeMediumLE(1 + text.length())
        .writeByte(0)
        .writeByte(io.halo.proxy.mysql.packet.MySqlPackets.COM_STMT_PREPARE)
        .writeCharSequence(text, StandardCharsets.ISO_8859_1);
    return q;
  }

  /** COM_STMT_CLOSE of backend statement {@code id}, as a wire packet. */
  static ByteBuf close(ByteBufAllocator alloc, long id) {
    return alloc
        .buffer(9)
        .writeMediumLE(5)
        .writeByte(0)
        .writeByte(io.halo.proxy.mysql.packet.MySqlPackets.COM_STMT_CLOSE)
        .writeIntLE((int) id);
  }
}

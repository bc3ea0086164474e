package io.halo.proxy.mysql.packet;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;

/**
 * Follows the MySQL command/response conversation of one session from the bytes relayed in both
 * directions, without copying them: it walks the 4-byte packet headers in place and looks only at
 * the first bytes of each logical packet where they lie (at most {@link #HEAD} bytes are looked at;
 * only when they are split across reads are they gathered into a small reusable array). From that
 * it knows when each response is complete and the server status flags of the last OK/EOF: whether a
 * transaction is open, autocommit, more results pending, a cursor open.
 *
 * <p>Design memo.
 *
 * <ul>
 *   <li>Every command the client sends that the server answers is queued (clients may pipeline:
 *       MariaDB Connector/J sends batches of MySqlPackets.COM_STMT_EXECUTE without waiting). The
 *       head of the queue is the command whose response the server is sending; {@link Phase} is
 *       where in that response it is. MySqlPackets.COM_STMT_SEND_LONG_DATA,
 *       MySqlPackets.COM_STMT_CLOSE and MySqlPackets.COM_QUIT have no reply and are not queued. The
 *       queue grows to {@link #MAX_PENDING}; beyond it (or on a packet the state machine cannot
 *       place) the tracker is {@link #lost()}: it stops guessing, and a lost session is never
 *       quiescent.
 *   <li>Text and binary result sets: column count, that many column definitions, an EOF unless
 *       CLIENT_DEPRECATE_EOF, rows, then an EOF (or, with CLIENT_DEPRECATE_EOF, an OK whose header
 *       is 0xFE) or an ERR. A packet is that end marker when its first byte is 0xFE and it is
 *       shorter than 9 bytes (classic EOF) or, with CLIENT_DEPRECATE_EOF, shorter than 0xFFFFFF (a
 *       text row can only start with 0xFE when its first value is 16 MB or more).
 *       MySqlPackets.SERVER_MORE_RESULTS_EXISTS on an OK or end marker means another result follows
 *       (multi-statements, CALL).
 *   <li>MySqlPackets.COM_STMT_EXECUTE with a cursor: the server sends column definitions and one
 *       end marker flagged MySqlPackets.SERVER_STATUS_CURSOR_EXISTS, no rows (checked in MariaDB's
 *       sql_cursor.cc: metadata is sent without its own EOF, then {@code send_eof}); rows come with
 *       MySqlPackets.COM_STMT_FETCH, each fetch ending with an end marker.
 *   <li>LOCAL INFILE: a 0xFB reply to MySqlPackets.COM_QUERY makes the client send the file as
 *       packets ending with an empty one; those are data, not commands. The server's OK/ERR
 *       follows.
 *   <li>MySqlPackets.COM_STMT_PREPARE: an OK with statement id, column and parameter counts, then
 *       parameter definitions (+EOF), column definitions (+EOF). Open statements are counted
 *       (PREPARE OK +1, MySqlPackets.COM_STMT_CLOSE -1, MySqlPackets.COM_RESET_CONNECTION /
 *       MySqlPackets.COM_CHANGE_USER reset).
 *   <li>Packets of 16 MB and more are split into wire packets of 0xFFFFFF bytes; only the first
 *       wire packet of a logical packet is looked at, continuations are skipped.
 *   <li>An ERR carries no status flags; the last known status stays (a deadlock rolls the
 *       transaction back without telling; the next OK corrects it).
 * </ul>
 *
 * <p>Use: call {@link #clientBytes} with each buffer before it is forwarded to the backend, and
 * {@link #serverBytes} with each buffer before it is forwarded to the client. A statement router
 * can read {@link #expectingCommand()} and {@link #idle()} at each client buffer, and may register
 * a {@link Listener} to see each command start and each response end. Not thread-safe: one event
 * loop owns it.
 *
 * <p>Size: one state machine over every response shape of the protocol (result sets with or without
 * EOF, multi-results, LOCAL INFILE, prepare, cursors, 16 MB packets); splitting it would spread one
 * grammar over several classes.
 */
public final class MySqlResponseTracker {

  /** Bytes of each logical packet's payload that are looked at (an OK's status lies within 21). */
  public static final int HEAD = 24;

  /** Commands sent whose replies have not been seen, at most. */
  public static final int MAX_PENDING = 1 << 16;

  /** Sees commands start and responses end (for a statement router, or tests). */
  public interface Listener {
    /** A client command the server will answer was sent; {@code command} is its first byte. */
    default void commandSent(int command) {}

    /**
     * The whole response to {@code command} has been seen; {@code status} is the current status.
     */
    default void responseComplete(int command, boolean error, int status) {}
  }

  /** Where the server is in the response to the command at the head of the queue. */
  private enum Phase {
    /** The first packet of a (next) result: OK, ERR, 0xFB LOCAL INFILE, or a column count. */
    FIRST,
    COLUMNS,
    COLUMNS_EOF,
    ROWS,
    PREPARE_PARAMS,
    PREPARE_PARAMS_EOF,
    PREPARE_COLUMNS,
    PREPARE_COLUMNS_EOF,
    /** MySqlPackets.COM_FIELD_LIST: column definitions up to an end marker. */
    FIELD_LIST,
    /** MySqlPackets.COM_CHANGE_USER passed through: auth exchange up to OK or ERR. */
    AUTH,
    /**
     * Any one packet ends it (MySqlPackets.COM_PING, MySqlPackets.COM_INIT_DB, COM_STATISTICS,
     * unknown commands, ...).
     */
    ONE
  }

  private final boolean deprecateEof;
  private final long maxClientPacket;
  private final Walker client = new Walker();
  private final Walker server = new Walker();
  private Listener listener;
  private int status;

  /** An OK of the response being read carried a last insert id other than 0. */
  private boolean insertId;

  /** An OK or EOF of the response under way reported warnings. */
  private boolean warnings;

  private int[] queue = new int[16];
  private int queueHead;
  private int pending;
  private Phase phase = Phase.FIRST;
  private long remaining;
  private int prepareColumns;
  private boolean infile;
  private boolean clientAuth;
  private boolean quit;
  private boolean lost;
  private int openStatements;
  private boolean clientOverLimit;

  /** Some packet of the reply to the command at the head of the queue has come. */
  private boolean headAnswered;

  /**
   * @param deprecateEof whether CLIENT_DEPRECATE_EOF was negotiated with the backend
   * @param status the server status of the login OK
   * @param maxClientPacket the largest logical client packet accepted ({@link #clientBytes} then
   *     returns false)
   */
  public MySqlResponseTracker(boolean deprecateEof, int status, long maxClientPacket) {
    this.deprecateEof = deprecateEof;
    this.status = status;
    this.maxClientPacket = maxClientPacket;
  }

  public void listener(Listener l) {
    this.listener = l;
  }

  // ---------------------------------------------------------------- state

  /** Server status flags of the last OK or EOF. */
  public int status() {
    return status;
  }

  public boolean inTransaction() {
    return (status & MySqlPackets.SERVER_STATUS_IN_TRANS) != 0;
  }

  public boolean autocommit() {
    return (status & MySqlPackets.SERVER_STATUS_AUTOCOMMIT) != 0;
  }

  /** Commands sent whose response is not complete yet. */
  public int pendingReplies() {
    return pending;
  }

  /** Prepared statements open on the server (they do not survive a move to another backend). */
  public int openStatements() {
    return openStatements;
  }

  /** The client is sending a LOCAL INFILE file. */
  public boolean sendingFile() {
    return infile;
  }

  /** The tracker could not follow the conversation (or too many commands are pipelined). */
  public boolean lost() {
    return lost;
  }

  /** MySqlPackets.COM_QUIT was sent. */
  public boolean quit() {
    return quit;
  }

  /** The next client byte starts a command packet (not file data, not an auth reply). */
  public boolean expectingCommand() {
    return !lost && !infile && !clientAuth && client.atBoundary();
  }

  /** Nothing in flight in either direction: the next client packet starts a command. */
  public boolean idle() {
    return pending == 0 && expectingCommand() && server.atBoundary();
  }

  /**
   * Between transactions with nothing in flight: a switchover may hold or move the session here.
   */
  public boolean quiescent() {
    return idle() && !inTransaction();
  }

  /**
   * A command was sent and no packet of its reply has come yet: a reply Halo makes up for it has
   * sequence number 1.
   */
  public boolean awaitingReply() {
    return !lost && !infile && !clientAuth && pending > 0 && !headAnswered && server.atBoundary();
  }

  /** The server side is between packets (Halo may insert its own packet to the client). */
  public boolean serverAtBoundary() {
    return server.atBoundary();
  }

  /**
   * Starts over on a fresh backend session (after MySqlPackets.COM_CHANGE_USER handled by Halo, or
   * a move): nothing pending, no statements, {@code loginStatus} as the status.
   */
  public void reset(int loginStatus) {
    status = loginStatus;
    pending = 0;
    queueHead = 0;
    phase = Phase.FIRST;
    infile = false;
    clientAuth = false;
    openStatements = 0;
    server.reset();
  }

  // ---------------------------------------------------------------- stream level

  /**
   * Walks a buffer the client sent (reader/writer indexes untouched).
   *
   * @return false when a logical packet is larger than the maximum
   */
  public boolean clientBytes(ByteBuf buf) {
    client.walk(buf, true);
    return !clientOverLimit;
  }

  /** Walks a buffer the server sent (reader/writer indexes untouched). */
  public void serverBytes(ByteBuf buf) {
    server.walk(buf, false);
  }

  // ---------------------------------------------------------------- packet level

  /**
   * A client packet: its wire length and its first {@code n} payload bytes ({@code n = min(length,
   * HEAD)}) at {@code o} in {@code head} (indexes untouched). Continuation wire packets of a 16 MB
   * packet are not passed.
   */
  public void clientPacket(int length, ByteBuf head, int o, int n) {
    if (infile) {
      if (length == 0) {
        infile = false; // end of file; the server's OK/ERR follows
      }
      return;
    }
    if (clientAuth) {
      clientAuth = false;
      return;
    }
    int command = n == 0 ? -1 : head.getUnsignedByte(o);
    switch (command) {
      case MySqlPackets.COM_QUIT -> quit = true;
      case MySqlPackets.COM_STMT_SEND_LONG_DATA -> {}
      case MySqlPackets.COM_STMT_CLOSE -> openStatements = Math.max(0, openStatements - 1);
      case MySqlPackets.COM_BINLOG_DUMP, MySqlPackets.COM_BINLOG_DUMP_GTID ->
          lost = true; // a stream without end: not followed
      default -> enqueue(command);
    }
  }

  /** A server packet: its wire length and first {@code n} payload bytes, as for the client. */
  public void serverPacket(int length, ByteBuf h, int o, int n) {
    if (lost) {
      return;
    }
    int first = n == 0 ? -1 : h.getUnsignedByte(o + 0);
    if (pending == 0) {
      if (first != 0xff) {
        lost = true; // an unsolicited ERR (server shutdown, connection killed) is allowed; nothing
        // else
      }
      return;
    }
    int command = queue[queueHead];
    headAnswered = true;
    switch (phase) {
      case FIRST -> first(command, first, length, h, o, n);
      case COLUMNS -> {
        if (first == 0xff) {
          complete(command, true);
        } else if (--remaining == 0) {
          phase = deprecateEof ? Phase.ROWS : Phase.COLUMNS_EOF;
        }
      }
      case COLUMNS_EOF -> {
        if (first == 0xff) {
          complete(command, true);
          return;
        }
        readStatus(length, h, o, n);
        phase = Phase.ROWS;
        if (command == MySqlPackets.COM_STMT_EXECUTE
            && (status & MySqlPackets.SERVER_STATUS_CURSOR_EXISTS) != 0) {
          complete(command, false); // rows come with MySqlPackets.COM_STMT_FETCH
        }
      }
      case ROWS -> {
        if (first == 0xff) {
          complete(command, true);
        } else if (isEnd(first, length)) {
          endOfResult(command, length, h, o, n);
        }
      }
      case PREPARE_PARAMS -> {
        if (--remaining == 0) {
          if (deprecateEof) {
            prepareColumnsOrDone(command);
          } else {
            phase = Phase.PREPARE_PARAMS_EOF;
          }
        }
      }
      case PREPARE_PARAMS_EOF -> prepareColumnsOrDone(command);
      case PREPARE_COLUMNS -> {
        if (--remaining == 0) {
          if (deprecateEof) {
            complete(command, false);
          } else {
            phase = Phase.PREPARE_COLUMNS_EOF;
          }
        }
      }
      case PREPARE_COLUMNS_EOF -> complete(command, false);
      case FIELD_LIST -> {
        if (first == 0xff) {
          complete(command, true);
        } else if (isEnd(first, length)) {
          readStatus(length, h, o, n);
          complete(command, false);
        }
      }
      case AUTH -> {
        if (first == 0x00 || first == 0xff) {
          if (first == 0x00) {
            readStatus(length, h, o, n);
            openStatements = 0;
          }
          complete(command, first == 0xff);
        } else {
          // auth switch (0xFE) or more data (0x01); fast-auth success (0x01 0x03) needs no reply
          clientAuth = !(first == 0x01 && n >= 2 && h.getByte(o + 1) == 0x03);
        }
      }
      case ONE -> {
        if (first == 0x00 || (first == 0xfe && length < 9)) {
          readStatus(length, h, o, n);
          if (first == 0x00 && command == MySqlPackets.COM_RESET_CONNECTION) {
            openStatements = 0;
          }
        }
        complete(command, first == 0xff);
      }
      default -> lost = true;
    }
  }

  private void first(int command, int first, int length, ByteBuf h, int o, int n) {
    if (command == MySqlPackets.COM_STMT_PREPARE) {
      if (first == 0x00 && n >= 9) {
        openStatements++;
        int columns = (h.getUnsignedByte(o + 5)) | (h.getUnsignedByte(o + 6)) << 8;
        int params = (h.getUnsignedByte(o + 7)) | (h.getUnsignedByte(o + 8)) << 8;
        prepareColumns = columns;
        if (params > 0) {
          remaining = params;
          phase = Phase.PREPARE_PARAMS;
        } else {
          prepareColumnsOrDone(command);
        }
      } else {
        complete(command, true);
      }
      return;
    }
    switch (first) {
      case 0x00 -> {
        readStatus(length, h, o, n);
        if ((status & MySqlPackets.SERVER_MORE_RESULTS_EXISTS) == 0) {
          complete(command, false);
        }
      }
      case 0xff -> complete(command, true);
      case 0xfb -> {
        if (command == MySqlPackets.COM_QUERY && length > 0) {
          infile = true; // the OK/ERR (a FIRST packet again) follows the file
        } else {
          lost = true;
        }
      }
      default -> {
        long columns = lenenc(h, o, 0, n);
        if (columns <= 0) {
          lost = true;
          return;
        }
        remaining = columns;
        phase = Phase.COLUMNS;
      }
    }
  }

  private void endOfResult(int command, int length, ByteBuf h, int o, int n) {
    readStatus(length, h, o, n);
    if ((status & MySqlPackets.SERVER_MORE_RESULTS_EXISTS) != 0
        && command != MySqlPackets.COM_STMT_FETCH) {
      phase = Phase.FIRST;
    } else {
      complete(command, false);
    }
  }

  private void prepareColumnsOrDone(int command) {
    if (prepareColumns > 0) {
      remaining = prepareColumns;
      phase = Phase.PREPARE_COLUMNS;
    } else {
      complete(command, false);
    }
  }

  private boolean isEnd(int first, int length) {
    return first == 0xfe && length < MySqlPacket.MAX_WIRE_PAYLOAD && (deprecateEof || length < 9);
  }

  private void enqueue(int command) {
    if (pending == MAX_PENDING) {
      lost = true;
      return;
    }
    if (pending == queue.length) {
      int[] bigger = new int[queue.length * 2];
      for (int i = 0; i < pending; i++) {
        bigger[i] = queue[(queueHead + i) % queue.length];
      }
      queue = bigger;
      queueHead = 0;
    }
    queue[(queueHead + pending) % queue.length] = command;
    if (pending++ == 0) {
      startResponse(command);
    }
    if (listener != null) {
      listener.commandSent(command);
    }
  }

  private void startResponse(int command) {
    headAnswered = false;
    insertId = false;
    warnings = false;
    phase =
        switch (command) {
          case MySqlPackets.COM_QUERY,
              MySqlPackets.COM_STMT_EXECUTE,
              MySqlPackets.COM_PROCESS_INFO,
              MySqlPackets.COM_STMT_PREPARE ->
              Phase.FIRST;
          case MySqlPackets.COM_STMT_FETCH -> Phase.ROWS;
          case MySqlPackets.COM_FIELD_LIST -> Phase.FIELD_LIST;
          case MySqlPackets.COM_CHANGE_USER -> Phase.AUTH;
          default -> Phase.ONE;
        };
  }

  private void complete(int command, boolean error) {
    queueHead = (queueHead + 1) % queue.length;
    pending--;
    if (pending > 0) {
      startResponse(queue[queueHead]);
    } else {
      phase = Phase.FIRST;
    }
    if (listener != null) {
      listener.responseComplete(command, error, status);
    }
  }

  /**
   * Whether an OK of the response that just completed (asked from {@link
   * Listener#responseComplete}) carried a last insert id: the connection's {@code LAST_INSERT_ID()}
   * may have changed.
   */
  public boolean insertId() {
    return insertId;
  }

  /**
   * Whether an OK or EOF of the response that just completed reported warnings: the connection's
   * {@code SHOW WARNINGS} now lists them.
   */
  public boolean warnings() {
    return warnings;
  }

  /**
   * Status flags of an OK (header 0x00 or 0xFE: affected rows and last insert id as length-encoded
   * integers, then status int2) or of a classic EOF (0xFE, warnings int2, status int2; 5 bytes).
   */
  private void readStatus(int length, ByteBuf h, int o, int n) {
    if (n == 0) {
      return;
    }
    if ((h.getUnsignedByte(o + 0)) == 0xfe && length <= 5) {
      if (n >= 5) {
        warnings |= h.getUnsignedShortLE(o + 1) != 0;
        status = (h.getUnsignedByte(o + 3)) | (h.getUnsignedByte(o + 4)) << 8;
      }
      return;
    }
    int i = 1;
    i += lenencSize(h, o, i, n);
    if (h.getUnsignedByte(o) == 0x00 && lenenc(h, o, i, n) > 0) {
      insertId = true; // an OK (not a 0xFE end of rows) saying an AUTO_INCREMENT value was made
    }
    i += lenencSize(h, o, i, n);
    if (i + 2 <= n) {
      status = (h.getUnsignedByte(o + i)) | (h.getUnsignedByte(o + i + 1)) << 8;
    }
    if (i + 4 <= n) {
      warnings |= h.getUnsignedShortLE(o + i + 2) != 0;
    }
  }

  private static int lenencSize(ByteBuf h, int o, int i, int n) {
    if (i >= n) {
      return 1;
    }
    return switch (h.getUnsignedByte(o + i)) {
      case 0xfc -> 3;
      case 0xfd -> 4;
      case 0xfe -> 9;
      default -> 1;
    };
  }

  /** A length-encoded integer at {@code i}; -1 when it does not fit in the head or is invalid. */
  private static long lenenc(ByteBuf h, int o, int i, int n) {
    int size = lenencSize(h, o, i, n);
    if (i + size > n) {
      return -1;
    }
    int first = h.getUnsignedByte(o + i);
    if (first < 0xfb) {
      return first;
    }
    if (first == 0xfb || first == 0xff) {
      return -1;
    }
    long v = 0;
    for (int k = size - 1; k >= 1; k--) {
      v = v << 8 | (h.getUnsignedByte(o + i + k));
    }
    return v;
  }

  /**
   * Walks packet headers of one direction. A packet's first bytes are read where they lie when the
   * buffer holds them (the common case: no copy at all); only a head split across reads is gathered
   * into a small array.
   */
  private final class Walker {
    private final byte[] header = new byte[4];
    private final byte[] head = new byte[HEAD];
    private final ByteBuf headBuf = Unpooled.wrappedBuffer(head);
    private int headerFill;
    private long remaining;
    private int length;
    private boolean continuation;
    private boolean nextIsContinuation;
    private int headFill;
    private int headWant;
    private long logical;

    boolean atBoundary() {
      return headerFill == 0 && remaining == 0 && !nextIsContinuation;
    }

    void reset() {
      headerFill = 0;
      remaining = 0;
      nextIsContinuation = false;
      headFill = 0;
      headWant = 0;
    }

    void walk(ByteBuf buf, boolean fromClient) {
      int i = buf.readerIndex();
      int end = buf.writerIndex();
      while (i < end) {
        if (headerFill < 4 && remaining == 0 && headFill == headWant) {
          if (headerFill == 0 && end - i >= 4) {
            length = buf.getUnsignedMediumLE(i);
            i += 4;
          } else {
            header[headerFill++] = buf.getByte(i++);
            if (headerFill < 4) {
              continue;
            }
            length = (header[0] & 0xff) | (header[1] & 0xff) << 8 | (header[2] & 0xff) << 16;
          }
          headerFill = 4;
          startPacket(fromClient);
          if (headWant > 0 && end - i >= headWant) {
            // the whole head is in this buffer: look at it in place
            headFill = headWant;
            deliver(fromClient, buf, i, headWant);
            i += headWant;
            remaining -= headWant;
          }
        } else if (headFill < headWant) {
          int take = Math.min(headWant - headFill, end - i);
          buf.getBytes(i, head, headFill, take);
          headFill += take;
          i += take;
          remaining -= take;
          if (headFill == headWant) {
            deliver(fromClient, headBuf, 0, headFill);
          }
        } else {
          long skip = Math.min(remaining, end - i);
          i += (int) skip;
          remaining -= skip;
        }
        if (remaining == 0 && headFill == headWant) {
          headerFill = 0;
        }
      }
    }

    private void startPacket(boolean fromClient) {
      continuation = nextIsContinuation;
      nextIsContinuation = length == MySqlPacket.MAX_WIRE_PAYLOAD;
      logical = continuation ? logical + length : length;
      if (fromClient && logical > maxClientPacket) {
        clientOverLimit = true;
      }
      remaining = length;
      headFill = 0;
      headWant = continuation ? 0 : Math.min(length, HEAD);
      if (!continuation && headWant == 0) {
        deliver(fromClient, headBuf, 0, 0); // an empty packet
      }
      if (remaining == 0) {
        headerFill = 0;
      }
    }

    private void deliver(boolean fromClient, ByteBuf b, int offset, int n) {
      if (fromClient) {
        clientPacket(length, b, offset, n);
      } else {
        serverPacket(length, b, offset, n);
      }
    }
  }
}

package io.halo.proxy.mysql.packet;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import java.nio.charset.StandardCharsets;

/**
 * Encoders for the MySQL packets Halo writes itself (handshake, OK, ERR), and the protocol's
 * integer and string encodings. Payloads only; {@link #frame} adds the 4-byte header.
 */
public final class MySqlPackets {

  // Server status flags and command bytes: defined here once for the whole MySQL adapter.
  public static final int SERVER_STATUS_IN_TRANS = 0x0001;
  public static final int SERVER_STATUS_AUTOCOMMIT = 0x0002;

  /** The session's sql_mode has NO_BACKSLASH_ESCAPES: strings have no escapes. */
  public static final int SERVER_STATUS_NO_BACKSLASH_ESCAPES = 0x0200;

  public static final int SERVER_MORE_RESULTS_EXISTS = 0x0008;
  public static final int SERVER_STATUS_CURSOR_EXISTS = 0x0040;
  public static final int SERVER_STATUS_LAST_ROW_SENT = 0x0080;

  public static final int COM_QUIT = 0x01;
  public static final int COM_INIT_DB = 0x02;
  public static final int COM_QUERY = 0x03;
  public static final int COM_FIELD_LIST = 0x04;
  public static final int COM_PROCESS_INFO = 0x0a;
  public static final int COM_PING = 0x0e;
  public static final int COM_CHANGE_USER = 0x11;
  public static final int COM_BINLOG_DUMP = 0x12;
  public static final int COM_STMT_PREPARE = 0x16;
  public static final int COM_STMT_EXECUTE = 0x17;
  public static final int COM_STMT_SEND_LONG_DATA = 0x18;
  public static final int COM_STMT_CLOSE = 0x19;
  public static final int COM_STMT_RESET = 0x1a;
  public static final int COM_SET_OPTION = 0x1b;
  public static final int COM_STMT_FETCH = 0x1c;
  public static final int COM_BINLOG_DUMP_GTID = 0x1e;
  public static final int COM_RESET_CONNECTION = 0x1f;

  public static final int CLIENT_LONG_PASSWORD = 1;
  public static final int CLIENT_FOUND_ROWS = 1 << 1;
  public static final int CLIENT_LONG_FLAG = 1 << 2;
  public static final int CLIENT_CONNECT_WITH_DB = 1 << 3;
  public static final int CLIENT_NO_SCHEMA = 1 << 4;
  public static final int CLIENT_COMPRESS = 1 << 5;
  public static final int CLIENT_ODBC = 1 << 6;
  public static final int CLIENT_LOCAL_FILES = 1 << 7;
  public static final int CLIENT_IGNORE_SPACE = 1 << 8;
  public static final int CLIENT_PROTOCOL_41 = 1 << 9;
  public static final int CLIENT_INTERACTIVE = 1 << 10;
  public static final int CLIENT_SSL = 1 << 11;
  public static final int CLIENT_IGNORE_SIGPIPE = 1 << 12;
  public static final int CLIENT_TRANSACTIONS = 1 << 13;
  public static final int CLIENT_RESERVED = 1 << 14;
  public static final int CLIENT_SECURE_CONNECTION = 1 << 15;
  public static final int CLIENT_MULTI_STATEMENTS = 1 << 16;
  public static final int CLIENT_MULTI_RESULTS = 1 << 17;
  public static final int CLIENT_PS_MULTI_RESULTS = 1 << 18;
  public static final int CLIENT_PLUGIN_AUTH = 1 << 19;
  public static final int CLIENT_CONNECT_ATTRS = 1 << 20;
  public static final int CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA = 1 << 21;
  public static final int CLIENT_CAN_HANDLE_EXPIRED_PASSWORDS = 1 << 22;
  public static final int CLIENT_SESSION_TRACK = 1 << 23;
  public static final int CLIENT_DEPRECATE_EOF = 1 << 24;
  public static final int CLIENT_OPTIONAL_RESULTSET_METADATA = 1 << 25;
  public static final int CLIENT_ZSTD_COMPRESSION = 1 << 26;
  public static final int CLIENT_QUERY_ATTRIBUTES = 1 << 27;
  public static final int CLIENT_MULTI_FACTOR_AUTH = 1 << 28;

  /** MariaDB's CLIENT_PROGRESS_OBSOLETE (bit 29). */
  public static final int CLIENT_PROGRESS_OBSOLETE = 1 << 29;

  public static final int CLIENT_SSL_VERIFY_SERVER_CERT = 1 << 30;
  public static final int CLIENT_REMEMBER_OPTIONS = 1 << 31;

  /**
   * MariaDB's name for bit 0 ({@link #CLIENT_LONG_PASSWORD}): a MariaDB 10.2+ server clears it in
   * its greeting and then puts its extended (MARIADB_CLIENT_*) capabilities in the last 4 bytes of
   * the greeting's 10-byte filler; a client that clears it puts its own in the last 4 bytes of the
   * handshake response's 23-byte filler.
   */
  public static final int CLIENT_MYSQL = CLIENT_LONG_PASSWORD;

  /** MariaDB extended capabilities (the upper 32 bits of MariaDB's 64-bit capability word). */
  public static final int MARIADB_CLIENT_PROGRESS = 1;

  public static final int MARIADB_CLIENT_COM_MULTI = 1 << 1;
  public static final int MARIADB_CLIENT_STMT_BULK_OPERATIONS = 1 << 2;
  public static final int MARIADB_CLIENT_EXTENDED_METADATA = 1 << 3;
  public static final int MARIADB_CLIENT_CACHE_METADATA = 1 << 4;
  public static final int MARIADB_CLIENT_BULK_UNIT_RESULTS = 1 << 5;

  private MySqlPackets() {}

  /** Puts a payload of less than 16 MB into one wire packet with {@code sequenceId}. */
  public static ByteBuf frame(ByteBufAllocator alloc, int sequenceId, ByteBuf payload) {
    if (payload.readableBytes() >= MySqlPacket.MAX_WIRE_PAYLOAD) {
      throw new IllegalArgumentException(
          "payload of " + payload.readableBytes() + " bytes needs splitting");
    }
    ByteBuf header = alloc.buffer(4);
    header.writeMediumLE(payload.readableBytes()).writeByte(sequenceId);
    return alloc.compositeBuffer(2).addComponents(true, header, payload);
  }

  /**
   * Initial handshake (protocol 10) offering {@code authPlugin} with a 20-byte scramble.
   *
   * <pre>
   * 0x0a | server version NUL | connection id int4 | scramble[0..8] | 0x00 | caps low int2 |
   * charset | status int2 | caps high int2 | 21 | 10 x 0x00 | scramble[8..20] NUL | plugin NUL
   * </pre>
   */
  public static ByteBuf handshakeV10(
      ByteBufAllocator alloc,
      String serverVersion,
      int connectionId,
      byte[] scramble,
      int capabilities,
      int charset,
      String authPlugin) {
    return handshakeV10(
        alloc, serverVersion, connectionId, scramble, capabilities, 0, charset, authPlugin);
  }

  /**
   * As above; without {@link #CLIENT_MYSQL} in {@code capabilities} the filler's last 4 bytes carry
   * MariaDB's extended capabilities {@code mariaDbCapabilities} (as a MariaDB server writes them).
   */
  public static ByteBuf handshakeV10(
      ByteBufAllocator alloc,
      String serverVersion,
      int connectionId,
      byte[] scramble,
      int capabilities,
      int mariaDbCapabilities,
      int charset,
      String authPlugin) {
    if (scramble.length != 20) {
      throw new IllegalArgumentException("scramble must be 20 bytes");
    }
    ByteBuf b = alloc.buffer(96);
    b.writeByte(10);
    cstring(b, serverVersion);
    b.writeIntLE(connectionId);
    b.writeBytes(scramble, 0, 8);
    b.writeByte(0);
    b.writeShortLE(capabilities & 0xffff);
    b.writeByte(charset);
    b.writeShortLE(SERVER_STATUS_AUTOCOMMIT);
    b.writeShortLE(capabilities >>> 16);
    b.writeByte(21);
    b.writeZero(6);
    b.writeIntLE((capabilities & CLIENT_MYSQL) == 0 ? mariaDbCapabilities : 0);
    b.writeBytes(scramble, 8, 12);
    b.writeByte(0);
    cstring(b, authPlugin);
    return b;
  }

  public static ByteBuf ok(
      ByteBufAllocator alloc, long affectedRows, long lastInsertId, int status, int warnings) {
    ByteBuf b = alloc.buffer(16);
    b.writeByte(0);
    lenenc(b, affectedRows);
    lenenc(b, lastInsertId);
    b.writeShortLE(status);
    b.writeShortLE(warnings);
    return b;
  }

  /** ERR packet (protocol 4.1): code, '#', a 5-character SQLSTATE, message. */
  public static ByteBuf err(ByteBufAllocator alloc, int code, String sqlState, String message) {
    if (sqlState.length() != 5) {
      throw new IllegalArgumentException("SQLSTATE must have 5 characters: " + sqlState);
    }
    ByteBuf b = alloc.buffer(16 + message.length());
    b.writeByte(0xff);
    b.writeShortLE(code);
    b.writeByte('#');
    b.writeCharSequence(sqlState, StandardCharsets.US_ASCII);
    b.writeCharSequence(message, StandardCharsets.UTF_8);
    return b;
  }

  /** Length-encoded integer. */
  public static void lenenc(ByteBuf b, long v) {
    if (v < 251) {
      b.writeByte((int) v);
    } else if (v < (1 << 16)) {
      b.writeByte(0xfc).writeShortLE((int) v);
    } else if (v < (1 << 24)) {
      b.writeByte(0xfd).writeMediumLE((int) v);
    } else {
      b.writeByte(0xfe).writeLongLE(v);
    }
  }

  /** The readable bytes of {@code b}, consumed. */
  public static byte[] readAll(ByteBuf b) {
    byte[] out = new byte[b.readableBytes()];
    b.readBytes(out);
    return out;
  }

  public static long readLenenc(ByteBuf b) {
    int first = b.readUnsignedByte();
    return switch (first) {
      case 0xfb -> -1;
      case 0xfc -> b.readUnsignedShortLE();
      case 0xfd -> b.readUnsignedMediumLE();
      case 0xfe -> b.readLongLE();
      default -> first;
    };
  }

  public static String readCString(ByteBuf b) {
    int end = b.indexOf(b.readerIndex(), b.writerIndex(), (byte) 0);
    if (end < 0) {
      throw new IllegalArgumentException("string is not NUL-terminated");
    }
    String s = b.toString(b.readerIndex(), end - b.readerIndex(), StandardCharsets.UTF_8);
    b.readerIndex(end + 1);
    return s;
  }

  private static void cstring(ByteBuf b, String s) {
    b.writeCharSequence(s, StandardCharsets.UTF_8);
    b.writeByte(0);
  }
}

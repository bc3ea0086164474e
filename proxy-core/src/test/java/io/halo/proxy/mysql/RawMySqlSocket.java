package io.halo.proxy.mysql;

import io.halo.proxy.mysql.auth.MySqlAuth;
import io.halo.proxy.mysql.auth.MySqlScramble;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * A minimal MySQL client over a plain socket, for what drivers do not expose: COM_CHANGE_USER
 * (Connector/J's changeUser is internal) and COM_RESET_CONNECTION. Text protocol only, with
 * CLIENT_DEPRECATE_EOF; logs in with mysql_native_password and follows auth switches.
 */
final class RawMySqlSocket implements AutoCloseable {

  /** An ERR packet from the server. */
  static final class ServerError extends IOException {
    final int code;
    final String sqlState;

    ServerError(int code, String sqlState, String message) {
      super(code + " (" + sqlState + "): " + message);
      this.code = code;
      this.sqlState = sqlState;
    }
  }

  private static final int CAPS =
      1 | 1 << 3 | 1 << 9 | 1 << 13 | 1 << 15 | 1 << 17 | 1 << 19 | 1 << 24;

  private final Socket socket;
  private final DataInputStream in;
  private final OutputStream out;
  private final byte[] scramble;
  private int seq = -1;

  /** The server status flags of the login's OK. */
  private int loginStatus;

  int loginStatus() {
    return loginStatus;
  }

  private RawMySqlSocket(Socket socket) throws IOException {
    this.socket = socket;
    socket.setSoTimeout(15_000);
    this.in = new DataInputStream(socket.getInputStream());
    this.out = socket.getOutputStream();
    byte[] greeting = read();
    int i = 1;
    while (greeting[i] != 0) {
      i++;
    }
    i += 1 + 4;
    byte[] s = new byte[20];
    System.arraycopy(greeting, i, s, 0, 8);
    i += 8 + 1 + 2 + 1 + 2 + 2 + 1 + 10;
    System.arraycopy(greeting, i, s, 8, 12);
    this.scramble = s;
  }

  static RawMySqlSocket login(int port, String user, String password, String database)
      throws IOException {
    return login(port, user, password, database, 45); // utf8mb4_general_ci
  }

  /** A login whose connection character set is {@code collation}'s (8: latin1_swedish_ci). */
  static RawMySqlSocket login(
      int port, String user, String password, String database, int collation) throws IOException {
    return login(port, user, password, database, collation, CAPS);
  }

  /** A login that also offers CLIENT_LOCAL_FILES: it may send LOAD DATA LOCAL INFILE. */
  static RawMySqlSocket loginWithLocalFiles(int port, String user, String password, String database)
      throws IOException {
    return login(port, user, password, database, 45, CAPS | 1 << 7);
  }

  private static RawMySqlSocket login(
      int port, String user, String password, String database, int collation, int caps)
      throws IOException {
    RawMySqlSocket r = new RawMySqlSocket(new Socket("127.0.0.1", port));
    ByteArrayOutputStream p = new ByteArrayOutputStream();
    int4(p, caps);
    int4(p, 1 << 24);
    p.write(collation);
    p.write(new byte[23]);
    cstring(p, user);
    byte[] token = MySqlScramble.nativeToken(password, r.scramble);
    p.write(token.length);
    p.write(token);
    cstring(p, database);
    cstring(p, MySqlAuth.NATIVE);
    r.write(p.toByteArray());
    r.authReply(password);
    return r;
  }

  /** COM_CHANGE_USER with a mysql_native_password token computed from the handshake scramble. */
  void changeUser(String user, String password, String database) throws IOException {
    ByteArrayOutputStream p = new ByteArrayOutputStream();
    p.write(0x11);
    cstring(p, user);
    byte[] token = MySqlScramble.nativeToken(password, scramble);
    p.write(token.length);
    p.write(token);
    cstring(p, database);
    p.write(45);
    p.write(0);
    cstring(p, MySqlAuth.NATIVE);
    seq = -1;
    write(p.toByteArray());
    authReply(password);
  }

  /**
   * LOAD DATA LOCAL INFILE: sends {@code sql}, answers the server's request for the file with
   * {@code file} in packets of {@code chunk} bytes (their sequence ids go on past 255 to 0, as
   * PyMySQL's and Go's drivers send them), then the empty packet that ends it. Returns the payload
   * of the server's answer (an OK; an ERR is returned, not thrown).
   */
  byte[] loadLocal(String sql, byte[] file, int chunk) throws IOException {
    seq = -1;
    ByteArrayOutputStream p = new ByteArrayOutputStream();
    p.write(0x03);
    p.write(sql.getBytes(StandardCharsets.UTF_8));
    write(p.toByteArray());
    byte[] request = read();
    if ((request[0] & 0xff) != 0xfb) {
      return request;
    }
    ByteArrayOutputStream all = new ByteArrayOutputStream();
    for (int at = 0; at < file.length; at += chunk) {
      byte[] part = Arrays.copyOfRange(file, at, Math.min(file.length, at + chunk));
      seq = (seq + 1) & 0xff;
      all.write(new byte[] {(byte) part.length, (byte) (part.length >> 8), 0, (byte) seq});
      all.write(part);
    }
    seq = (seq + 1) & 0xff;
    all.write(new byte[] {0, 0, 0, (byte) seq});
    out.write(all.toByteArray());
    out.flush();
    return read();
  }

  /** Sends an empty command packet (length 0) and returns the payload of the answer. */
  byte[] emptyCommand() throws IOException {
    seq = -1;
    write(new byte[0]);
    return read();
  }

  /** Sends a command packet without reading an answer (several may be sent before reading). */
  void send(byte[] payload) throws IOException {
    seq = -1;
    write(payload);
  }

  /** Sends whole packets as they are (several commands in one write, each its own sequence). */
  void sendPackets(byte[] packets) throws IOException {
    out.write(packets);
    out.flush();
  }

  /** Reads the next packet's payload (an ERR is returned, not thrown). */
  byte[] next() throws IOException {
    return read();
  }

  /** Reads the first packet of the next reply (after pipelined commands). */
  byte[] nextReply() throws IOException {
    seq = 0;
    return read();
  }

  /** The error code of an ERR packet's payload, or -1 when it is not one. */
  static int errorCode(byte[] payload) {
    return (payload[0] & 0xff) == 0xff ? (payload[1] & 0xff) | (payload[2] & 0xff) << 8 : -1;
  }

  /** COM_RESET_CONNECTION. */
  void resetConnection() throws IOException {
    seq = -1;
    write(new byte[] {0x1f});
    byte[] r = read();
    check(r);
  }

  private void authReply(String password) throws IOException {
    while (true) {
      byte[] r = read();
      int first = r[0] & 0xff;
      if (first == 0x00) {
        // OK: affected rows and last insert id (one byte each after a login), then the status
        loginStatus = (r[3] & 0xff) | (r[4] & 0xff) << 8;
        return;
      }
      check(r);
      if (first == 0xfe) {
        int end = 1;
        while (r[end] != 0) {
          end++;
        }
        String plugin = new String(r, 1, end - 1, StandardCharsets.US_ASCII);
        byte[] salt = Arrays.copyOfRange(r, end + 1, end + 21);
        write(MySqlAuth.token(plugin, password, salt));
      } else if (first == 0x01 && r.length == 2 && r[1] == 0x03) {
        continue; // fast auth success; the OK follows
      } else {
        throw new IOException("unexpected auth packet 0x" + Integer.toHexString(first));
      }
    }
  }

  /** Runs a query; rows of strings (null for NULL), empty for an OK. */
  List<List<String>> query(String sql) throws IOException {
    seq = -1;
    ByteArrayOutputStream p = new ByteArrayOutputStream();
    p.write(0x03);
    p.write(sql.getBytes(StandardCharsets.UTF_8));
    write(p.toByteArray());
    byte[] first = read();
    check(first);
    List<List<String>> rows = new ArrayList<>();
    if (first[0] == 0x00) {
      return rows;
    }
    int columns = first[0] & 0xff;
    for (int i = 0; i < columns; i++) {
      read();
    }
    while (true) {
      byte[] r = read();
      check(r);
      if ((r[0] & 0xff) == 0xfe && r.length < 0xffffff) {
        return rows;
      }
      List<String> row = new ArrayList<>();
      int i = 0;
      for (int c = 0; c < columns; c++) {
        int len = r[i++] & 0xff;
        if (len == 0xfb) {
          row.add(null);
          continue;
        }
        if (len == 0xfc) {
          len = (r[i] & 0xff) | (r[i + 1] & 0xff) << 8;
          i += 2;
        }
        row.add(new String(r, i, len, StandardCharsets.UTF_8));
        i += len;
      }
      rows.add(row);
    }
  }

  String value(String sql) throws IOException {
    return query(sql).get(0).get(0);
  }

  /** Whether the server closed the connection (reads until EOF, bounded by the socket timeout). */
  boolean closedByServer() {
    try {
      return in.read() < 0;
    } catch (IOException e) {
      return true;
    }
  }

  private static void check(byte[] r) throws ServerError {
    if ((r[0] & 0xff) == 0xff) {
      int code = (r[1] & 0xff) | (r[2] & 0xff) << 8;
      String state = new String(r, 4, 5, StandardCharsets.US_ASCII);
      throw new ServerError(code, state, new String(r, 9, r.length - 9, StandardCharsets.UTF_8));
    }
  }

  private byte[] read() throws IOException {
    int len = in.readUnsignedByte() | in.readUnsignedByte() << 8 | in.readUnsignedByte() << 16;
    int s = in.readUnsignedByte();
    if (seq >= 0 && s != ((seq + 1) & 0xff)) {
      throw new IOException("packet out of order: sequence " + s + " after " + seq);
    }
    seq = s;
    byte[] b = new byte[len];
    in.readFully(b);
    if (len == 0) {
      throw new EOFException("empty packet");
    }
    return b;
  }

  private void write(byte[] payload) throws IOException {
    seq = (seq + 1) & 0xff;
    byte[] h = {
      (byte) payload.length, (byte) (payload.length >> 8), (byte) (payload.length >> 16), (byte) seq
    };
    byte[] packet = Arrays.copyOf(h, 4 + payload.length); // one write: no Nagle wait per packet
    System.arraycopy(payload, 0, packet, 4, payload.length);
    out.write(packet);
    out.flush();
  }

  private static void int4(ByteArrayOutputStream p, int v) {
    p.write(v);
    p.write(v >> 8);
    p.write(v >> 16);
    p.write(v >> 24);
  }

  private static void cstring(ByteArrayOutputStream p, String s) throws IOException {
    p.write(s.getBytes(StandardCharsets.UTF_8));
    p.write(0);
  }

  @Override
  public void close() throws IOException {
    socket.close();
  }
}

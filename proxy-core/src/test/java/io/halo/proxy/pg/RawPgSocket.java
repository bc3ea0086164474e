package io.halo.proxy.pg;

import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.Map;

/** A bare socket that speaks just enough PostgreSQL protocol to send bad input and read replies. */
public final class RawPgSocket implements AutoCloseable {

  private final Socket socket;
  private final DataInputStream in;

  public RawPgSocket(InetSocketAddress at, int readTimeoutMs) throws IOException {
    socket = new Socket();
    socket.connect(at, 5000);
    socket.setSoTimeout(readTimeoutMs);
    in = new DataInputStream(socket.getInputStream());
  }

  public void send(byte[] bytes) throws IOException {
    socket.getOutputStream().write(bytes);
    socket.getOutputStream().flush();
  }

  public static byte[] startup(String user, String database) {
    return startup(user, database, new String[0]);
  }

  /** A StartupMessage with more parameters, as name, value pairs. */
  public static byte[] startup(String user, String database, String... more) {
    java.util.List<String> all =
        new java.util.ArrayList<>(java.util.List.of("user", user, "database", database));
    all.addAll(java.util.List.of(more));
    all.add("");
    ByteArrayOutputStream body = new ByteArrayOutputStream();
    for (String s : all) {
      body.writeBytes(s.getBytes(StandardCharsets.UTF_8));
      body.write(0);
    }
    byte[] b = body.toByteArray();
    return ByteBuffer.allocate(8 + b.length).putInt(8 + b.length).putInt(196608).put(b).array();
  }

  /** A typed message: its type, length and {@code body}. */
  public static byte[] message(char type, byte[] body) {
    return ByteBuffer.allocate(5 + body.length)
        .put((byte) type)
        .putInt(4 + body.length)
        .put(body)
        .array();
  }

  /** NUL-terminated strings, one after the other. */
  static byte[] cstrings(String... parts) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    for (String p : parts) {
      out.writeBytes(p.getBytes(StandardCharsets.UTF_8));
      out.write(0);
    }
    return out.toByteArray();
  }

  /** Messages (or any bytes) one after the other. */
  public static byte[] concat(byte[]... parts) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    for (byte[] p : parts) {
      out.writeBytes(p);
    }
    return out.toByteArray();
  }

  /** A FunctionCall of the function {@code oid} with one bigint argument, binary both ways. */
  public static byte[] functionCall(int oid, long argument) {
    ByteBuffer call = ByteBuffer.allocate(4 + 2 + 2 + 2 + 4 + 8 + 2);
    call.putInt(oid).putShort((short) 1).putShort((short) 1); // one argument format: binary
    call.putShort((short) 1).putInt(8).putLong(argument).putShort((short) 1); // binary result
    return message('F', call.array());
  }

  public static byte[] query(String sql) {
    return message('Q', cstrings(sql));
  }

  /** Parse of {@code sql} as statement {@code name}, no parameter types. */
  public static byte[] parse(String name, String sql) {
    byte[] texts = cstrings(name, sql);
    return message(
        'P', ByteBuffer.allocate(texts.length + 2).put(texts).putShort((short) 0).array());
  }

  /** Bind of statement {@code name} to the unnamed portal: no parameters, text results. */
  public static byte[] bind(String name) {
    byte[] texts = cstrings("", name);
    return message(
        'B',
        ByteBuffer.allocate(texts.length + 6)
            .put(texts)
            .putShort((short) 0)
            .putShort((short) 0)
            .putShort((short) 0)
            .array());
  }

  /** Execute of the unnamed portal, all rows. */
  public static byte[] execute() {
    byte[] portal = cstrings("");
    return message('E', ByteBuffer.allocate(portal.length + 4).put(portal).putInt(0).array());
  }

  public static byte[] sync() {
    return message('S', new byte[0]);
  }

  public static byte[] flush() {
    return message('H', new byte[0]);
  }

  /** One typed message: type and body. */
  public record Message(char type, byte[] body) {
    Map<Character, String> fields() {
      Map<Character, String> f = new HashMap<>();
      int i = 0;
      while (i < body.length && body[i] != 0) {
        char code = (char) body[i++];
        int end = i;
        while (body[end] != 0) {
          end++;
        }
        f.put(code, new String(body, i, end - i, StandardCharsets.UTF_8));
        i = end + 1;
      }
      return f;
    }
  }

  public Message read() throws IOException {
    char type = (char) in.readUnsignedByte();
    int len = in.readInt();
    byte[] body = new byte[len - 4];
    in.readFully(body);
    return new Message(type, body);
  }

  /** Reads messages until an ErrorResponse; returns its fields. */
  public Map<Character, String> readError() throws IOException {
    while (true) {
      Message m = read();
      if (m.type() == 'E') {
        return m.fields();
      }
    }
  }

  /** Reads until ReadyForQuery. */
  public void readUntilReady() throws IOException {
    while (read().type() != 'Z') {
      // skip ParameterStatus, BackendKeyData, ...
    }
  }

  /** True when the server closed the connection (EOF) within the read timeout. */
  boolean closedByServer() throws IOException {
    InputStream s = socket.getInputStream();
    try {
      while (s.read() >= 0) {
        // drain
      }
      return true;
    } catch (EOFException e) {
      return true;
    } catch (SocketTimeoutException e) {
      return false;
    } catch (IOException e) {
      return e.getMessage() != null && e.getMessage().contains("reset");
    }
  }

  @Override
  public void close() throws IOException {
    socket.close();
  }
}

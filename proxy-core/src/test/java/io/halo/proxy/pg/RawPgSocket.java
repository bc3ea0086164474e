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

package io.halo.proxy.pg.message;

import io.halo.proxy.pg.SqlState;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;

/**
 * Encoders for the few PostgreSQL protocol messages Halo writes itself. Everything else is relayed
 * as received.
 *
 * <pre>
 * typed message:   +------+-----------------+-----------------+
 *                  | type | int32 length    | body            |
 *                  | 1 B  | incl. itself    | length - 4      |
 *                  +------+-----------------+-----------------+
 * startup packet:  +-----------------+-----------+------------+
 *                  | int32 length    | int32     | body       |
 *                  | incl. itself    | code      |            |
 *                  +-----------------+-----------+------------+
 * </pre>
 */
public final class PgMessages {

  public static final int PROTOCOL_3_0 = 196608;
  public static final int SSL_REQUEST_CODE = 80877103;
  public static final int GSSENC_REQUEST_CODE = 80877104;
  public static final int CANCEL_REQUEST_CODE = 80877102;

  /** PostgreSQL's own limit for a startup packet. */
  public static final int MAX_STARTUP_PACKET = 10_000;

  public static final int AUTH_OK = 0;
  public static final int AUTH_CLEARTEXT = 3;
  public static final int AUTH_MD5 = 5;
  public static final int AUTH_SASL = 10;
  public static final int AUTH_SASL_CONTINUE = 11;
  public static final int AUTH_SASL_FINAL = 12;

  private PgMessages() {}

  /** ErrorResponse with severity FATAL: the connection closes after it. */
  public static ByteBuf fatal(ByteBufAllocator alloc, SqlState state, String message) {
    return error(alloc, "FATAL", state.code(), message, null);
  }

  /** ErrorResponse with severity ERROR: the session goes on. */
  public static ByteBuf error(ByteBufAllocator alloc, SqlState state, String message) {
    return error(alloc, "ERROR", state.code(), message, null);
  }

  public static ByteBuf error(
      ByteBufAllocator alloc, String severity, String code, String message, String detail) {
    ByteBuf buf = alloc.buffer(64 + message.length());
    int start = beginTyped(buf, 'E');
    field(buf, 'S', severity);
    field(buf, 'V', severity);
    field(buf, 'C', code);
    field(buf, 'M', message);
    if (detail != null) {
      field(buf, 'D', detail);
    }
    buf.writeByte(0);
    return endTyped(buf, start);
  }

  public static ByteBuf authentication(ByteBufAllocator alloc, int code, byte[] data) {
    ByteBuf buf = alloc.buffer(9 + data.length);
    int start = beginTyped(buf, 'R');
    buf.writeInt(code);
    buf.writeBytes(data);
    return endTyped(buf, start);
  }

  /** AuthenticationSASL listing the mechanisms Halo offers. */
  public static ByteBuf authenticationSasl(ByteBufAllocator alloc, List<String> mechanisms) {
    ByteBuf buf = alloc.buffer(32);
    int start = beginTyped(buf, 'R');
    buf.writeInt(AUTH_SASL);
    for (String m : mechanisms) {
      cstring(buf, m);
    }
    buf.writeByte(0);
    return endTyped(buf, start);
  }

  public static ByteBuf backendKeyData(ByteBufAllocator alloc, int processId, int secret) {
    ByteBuf buf = alloc.buffer(13);
    buf.writeByte('K').writeInt(12).writeInt(processId).writeInt(secret);
    return buf;
  }

  public static ByteBuf readyForQuery(ByteBufAllocator alloc, byte status) {
    ByteBuf buf = alloc.buffer(6);
    buf.writeByte('Z').writeInt(5).writeByte(status);
    return buf;
  }

  /** NegotiateProtocolVersion: Halo speaks 3.0 and none of the listed {@code _pq_} options. */
  public static ByteBuf negotiateProtocolVersion(
      ByteBufAllocator alloc, int newestMinor, List<String> unsupportedOptions) {
    ByteBuf buf = alloc.buffer(16);
    int start = beginTyped(buf, 'v');
    buf.writeInt(newestMinor);
    buf.writeInt(unsupportedOptions.size());
    for (String o : unsupportedOptions) {
      cstring(buf, o);
    }
    return endTyped(buf, start);
  }

  /** StartupMessage (protocol 3.0) with the given parameters, in order. */
  public static ByteBuf startupMessage(ByteBufAllocator alloc, Map<String, String> parameters) {
    ByteBuf buf = alloc.buffer(128);
    buf.writeInt(0);
    buf.writeInt(PROTOCOL_3_0);
    parameters.forEach(
        (k, v) -> {
          cstring(buf, k);
          cstring(buf, v);
        });
    buf.writeByte(0);
    buf.setInt(0, buf.readableBytes());
    return buf;
  }

  public static ByteBuf cancelRequest(ByteBufAllocator alloc, int processId, int secret) {
    ByteBuf buf = alloc.buffer(16);
    buf.writeInt(16).writeInt(CANCEL_REQUEST_CODE).writeInt(processId).writeInt(secret);
    return buf;
  }

  /** PasswordMessage / SASLResponse: a 'p' message with the given body. */
  public static ByteBuf passwordMessage(ByteBufAllocator alloc, byte[] body) {
    ByteBuf buf = alloc.buffer(5 + body.length);
    buf.writeByte('p').writeInt(4 + body.length).writeBytes(body);
    return buf;
  }

  /** SASLInitialResponse: mechanism name, then the length-prefixed client-first-message. */
  public static ByteBuf saslInitialResponse(ByteBufAllocator alloc, String mechanism, byte[] data) {
    ByteBuf buf = alloc.buffer(64 + data.length);
    int start = beginTyped(buf, 'p');
    cstring(buf, mechanism);
    buf.writeInt(data.length);
    buf.writeBytes(data);
    return endTyped(buf, start);
  }

  /** A simple Query. */
  public static ByteBuf query(ByteBufAllocator alloc, String sql) {
    return query(alloc, sql.getBytes(StandardCharsets.UTF_8));
  }

  /** A simple Query of text already encoded. */
  public static ByteBuf query(ByteBufAllocator alloc, byte[] text) {
    ByteBuf q = alloc.buffer(6 + text.length);
    q.writeByte('Q').writeInt(5 + text.length).writeBytes(text).writeByte(0);
    return q;
  }

  /** ParameterStatus: a run-time parameter's value, as the server reports it. */
  public static ByteBuf parameterStatus(ByteBufAllocator alloc, String name, String value) {
    byte[] n = name.getBytes(StandardCharsets.UTF_8);
    byte[] v = value.getBytes(StandardCharsets.UTF_8);
    ByteBuf buf = alloc.buffer(7 + n.length + v.length);
    buf.writeByte('S').writeInt(6 + n.length + v.length);
    buf.writeBytes(n).writeByte(0).writeBytes(v).writeByte(0);
    return buf;
  }

  /**
   * {@code messages} (whole messages from a login) without the ParameterStatus of {@code name}.
   * Releases {@code messages}.
   */
  public static ByteBuf withoutParameterStatus(
      ByteBufAllocator alloc, ByteBuf messages, String name) {
    byte[] wanted = name.getBytes(StandardCharsets.UTF_8);
    ByteBuf out = alloc.buffer(messages.readableBytes());
    try {
      int i = messages.readerIndex();
      int end = messages.writerIndex();
      for (int length; (length = wholeMessage(messages, i, end)) > 0; i += 1 + length) {
        if (!isParameterStatus(messages, i, length, wanted)) {
          out.writeBytes(messages, i, 1 + length);
        } // (not whole messages: the rest is left out, as no client could read it)
      }
    } finally {
      messages.release();
    }
    return out;
  }

  /**
   * The value of the ParameterStatus of {@code name} among {@code messages} (whole messages from a
   * login, not consumed), or null when none is there.
   */
  public static String parameterStatusValue(ByteBuf messages, String name) {
    byte[] wanted = name.getBytes(StandardCharsets.UTF_8);
    int end = messages.writerIndex();
    for (int i = messages.readerIndex(), length;
        (length = wholeMessage(messages, i, end)) > 0;
        i += 1 + length) {
      if (isParameterStatus(messages, i, length, wanted)) {
        int from = i + 5 + wanted.length + 1;
        int nul = messages.indexOf(from, i + 1 + length, (byte) 0);
        return nul < 0 ? null : messages.toString(from, nul - from, StandardCharsets.UTF_8);
      }
    }
    return null;
  }

  /** The length field of the whole message at {@code i} (before {@code end}), else 0. */
  private static int wholeMessage(ByteBuf messages, int i, int end) {
    if (i + 5 > end) {
      return 0;
    }
    int length = messages.getInt(i + 1);
    return length < 4 || i + 1 + length > end ? 0 : length;
  }

  private static boolean isParameterStatus(ByteBuf messages, int i, int length, byte[] name) {
    if (messages.getByte(i) != 'S'
        || length - 4 <= name.length
        || messages.getByte(i + 5 + name.length) != 0) {
      return false;
    }
    for (int k = 0; k < name.length; k++) {
      if (messages.getByte(i + 5 + k) != name[k]) {
        return false;
      }
    }
    return true;
  }

  /** NoticeResponse with severity WARNING (may be sent between any two messages). */
  public static ByteBuf warning(ByteBufAllocator alloc, String code, String message) {
    ByteBuf buf = error(alloc, "WARNING", code, message, null);
    buf.setByte(0, 'N');
    return buf;
  }

  public static ByteBuf sync(ByteBufAllocator alloc) {
    ByteBuf buf = alloc.buffer(5);
    buf.writeByte('S').writeInt(4);
    return buf;
  }

  public static ByteBuf terminate(ByteBufAllocator alloc) {
    ByteBuf buf = alloc.buffer(5);
    buf.writeByte('X').writeInt(4);
    return buf;
  }

  /** Reads a NUL-terminated UTF-8 string at the reader index and moves past the NUL. */
  public static String readCString(ByteBuf buf) {
    int end = buf.indexOf(buf.readerIndex(), buf.writerIndex(), (byte) 0);
    if (end < 0) {
      throw new IllegalArgumentException("string is not NUL-terminated");
    }
    String s = buf.toString(buf.readerIndex(), end - buf.readerIndex(), StandardCharsets.UTF_8);
    buf.readerIndex(end + 1);
    return s;
  }

  private static int beginTyped(ByteBuf buf, char type) {
    buf.writeByte(type);
    int start = buf.writerIndex();
    buf.writeInt(0);
    return start;
  }

  private static ByteBuf endTyped(ByteBuf buf, int lengthAt) {
    buf.setInt(lengthAt, buf.writerIndex() - lengthAt);
    return buf;
  }

  private static void field(ByteBuf buf, char code, String value) {
    buf.writeByte(code);
    cstring(buf, value);
  }

  private static void cstring(ByteBuf buf, String s) {
    buf.writeCharSequence(s, StandardCharsets.UTF_8);
    buf.writeByte(0);
  }
}

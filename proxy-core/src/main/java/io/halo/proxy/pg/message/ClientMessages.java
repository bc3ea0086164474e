package io.halo.proxy.pg.message;

import io.netty.buffer.ByteBuf;
import java.nio.charset.StandardCharsets;

/**
 * What Halo reads of a client's extended-protocol and query messages, decoded in one place: the
 * names and SQL text that routing, statement capture and replay need, nothing else. Each method
 * takes a message body (after the type byte and length), never moves its indices, checks every
 * terminator against the bytes present, and answers null for a malformed body instead of reading
 * past it.
 */
public final class ClientMessages {

  /** What a Close message closes: a statement ('S') or a portal ('P'), and its name. */
  public record CloseTarget(boolean statement, String name) {}

  private ClientMessages() {}

  /** A NUL-terminated UTF-8 string starting at {@code from}, or null when it has no NUL. */
  public static String cstring(ByteBuf body, int from) {
    if (from < body.readerIndex() || from > body.writerIndex()) {
      return null;
    }
    int end = body.indexOf(from, body.writerIndex(), (byte) 0);
    return end < 0 ? null : body.toString(from, end - from, StandardCharsets.UTF_8);
  }

  /** Parse: the statement name ("" for the unnamed statement). */
  public static String parseName(ByteBuf body) {
    return cstring(body, body.readerIndex());
  }

  /** Parse: the SQL text, after the statement name. */
  public static String parseText(ByteBuf body) {
    int nameEnd = body.indexOf(body.readerIndex(), body.writerIndex(), (byte) 0);
    return nameEnd < 0 ? null : cstring(body, nameEnd + 1);
  }

  /**
   * Query: the SQL text. A Query is its text and the NUL that ends it, so the text is read without
   * looking for the NUL byte by byte (a scan through the message's slice cost more than the
   * classification it feeds). A NUL inside the text makes the message malformed and the server
   * rejects it without running any of it ("invalid message format"); the text returned then holds
   * the NUL.
   */
  public static String queryText(ByteBuf body) {
    int last = body.writerIndex() - 1;
    if (last >= body.readerIndex() && body.getByte(last) == 0) {
      return body.toString(body.readerIndex(), last - body.readerIndex(), StandardCharsets.UTF_8);
    }
    return cstring(body, body.readerIndex());
  }

  /** Bind: the statement it binds ("" for the unnamed one), after the portal name. */
  public static String bindStatement(ByteBuf body) {
    int portalEnd = body.indexOf(body.readerIndex(), body.writerIndex(), (byte) 0);
    return portalEnd < 0 ? null : cstring(body, portalEnd + 1);
  }

  /** Close (and Describe): what it names. */
  public static CloseTarget closeTarget(ByteBuf body) {
    if (!body.isReadable()) {
      return null;
    }
    byte kind = body.getByte(body.readerIndex());
    if (kind != 'S' && kind != 'P') {
      return null;
    }
    String name = cstring(body, body.readerIndex() + 1);
    return name == null ? null : new CloseTarget(kind == 'S', name);
  }
}

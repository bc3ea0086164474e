package io.halo.proxy.mysql;

import io.halo.proxy.mysql.packet.MySqlPackets;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import java.nio.charset.StandardCharsets;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * {@code KILL [QUERY | CONNECTION] id} with Halo's connection ids. Clients only know the id Halo
 * gave them in its handshake (Connector/J's {@code Statement.cancel()} and {@code setQueryTimeout}
 * send {@code KILL QUERY id} on a second connection), so the statement is rewritten to the
 * backend's thread id before it is forwarded. KILL only acts on the server it runs on: when the
 * target session is on another backend than the killing session, the client gets ERR 1094 saying
 * where the target runs.
 *
 * <p>Recognised only as a whole COM_QUERY packet in one read (as drivers send it); anything else
 * passes unchanged.
 */
public final class MySqlKill {

  private static final Pattern KILL =
      Pattern.compile("(?is)^\\s*KILL\\s+(QUERY\\s+|CONNECTION\\s+)?(\\d{1,10})\\s*;?\\s*$");
  private static final int COM_QUERY = 0x03;

  /** A session a KILL may name: where it runs. */
  public interface Target {
    String backendName();

    long backendThreadId();
  }

  private MySqlKill() {}

  /** The KILL in {@code buf}: its kind ("QUERY " or "CONNECTION " or "") and Halo connection id. */
  record Request(String kind, int connectionId) {}

  static Optional<Request> parse(ByteBuf buf) {
    int r = buf.readerIndex();
    if (buf.readableBytes() < 10 || buf.getUnsignedByte(r + 3) != 0 || buf.getUnsignedByte(r + 4) != COM_QUERY) {
      return Optional.empty();
    }
    int length = buf.getUnsignedMediumLE(r);
    if (length != buf.readableBytes() - 4 || length > 64) {
      return Optional.empty();
    }
    int first = r + 5;
    while (first < r + 4 + length && buf.getByte(first) == ' ') {
      first++;
    }
    if (first == r + 4 + length || (buf.getByte(first) | 0x20) != 'k') {
      return Optional.empty(); // not a KILL: no string, no regex on the query path
    }
    Matcher m = KILL.matcher(buf.toString(r + 5, length - 1, StandardCharsets.US_ASCII));
    if (!m.matches()) {
      return Optional.empty();
    }
    long id = Long.parseLong(m.group(2));
    if (id > Integer.MAX_VALUE) {
      return Optional.empty();
    }
    String kind = m.group(1) == null ? "" : m.group(1).trim().toUpperCase() + " ";
    return Optional.of(new Request(kind, (int) id));
  }

  /** The rewritten COM_QUERY packet naming the backend thread. */
  static ByteBuf rewrite(ByteBufAllocator alloc, Request k, long threadId) {
    byte[] sql = ("KILL " + k.kind() + threadId).getBytes(StandardCharsets.US_ASCII);
    ByteBuf b = alloc.buffer(5 + sql.length);
    b.writeMediumLE(1 + sql.length).writeByte(0).writeByte(COM_QUERY).writeBytes(sql);
    return b;
  }

  /** ERR 1094 (ER_NO_SUCH_THREAD) as the reply to the KILL (sequence id 1). */
  static ByteBuf unknownThread(ByteBufAllocator alloc, int id, String why) {
    return MySqlPackets.frame(alloc, 1, MySqlPackets.err(alloc, 1094, "HY000", "Unknown thread id: " + id + why));
  }
}

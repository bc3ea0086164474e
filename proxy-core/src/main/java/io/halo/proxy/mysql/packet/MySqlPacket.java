package io.halo.proxy.mysql.packet;

import io.netty.buffer.ByteBuf;
import io.netty.util.AbstractReferenceCounted;
import io.netty.util.ReferenceCounted;

/**
 * One logical MySQL packet: its payload (joined when it was split into 16 MB wire packets) and
 * the sequence id of its first wire packet.
 *
 * <pre>
 * wire packet:  +---------------------+-------------+------------------+
 *               | payload length      | sequence id | payload          |
 *               | int&lt;3&gt; little endian | int&lt;1&gt;      | length bytes     |
 *               +---------------------+-------------+------------------+
 * A payload of exactly 0xFFFFFF bytes continues in the next wire packet (sequence id + 1), up to
 * one shorter than that, possibly empty.
 * </pre>
 */
public final class MySqlPacket extends AbstractReferenceCounted {

  public static final int MAX_WIRE_PAYLOAD = 0xFFFFFF;

  private final int sequenceId;
  private final ByteBuf payload;
  private final int wirePackets;

  public MySqlPacket(int sequenceId, ByteBuf payload, int wirePackets) {
    this.sequenceId = sequenceId;
    this.payload = payload;
    this.wirePackets = wirePackets;
  }

  public int sequenceId() {
    return sequenceId;
  }

  public ByteBuf payload() {
    return payload;
  }

  /** How many wire packets carried it (1 unless it was 16 MB or more). */
  public int wirePackets() {
    return wirePackets;
  }

  @Override
  protected void deallocate() {
    payload.release();
  }

  @Override
  public ReferenceCounted touch(Object hint) {
    payload.touch(hint);
    return this;
  }
}

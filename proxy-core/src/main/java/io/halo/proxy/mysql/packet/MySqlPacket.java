package io.halo.proxy.mysql.packet;

import io.halo.proxy.transport.WireMessage;
import io.netty.buffer.ByteBuf;
import io.netty.util.ReferenceCounted;

/**
 * One logical MySQL packet: its payload (joined when it was split into 16 MB wire packets) and the
 * sequence id of its first wire packet.
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
public final class MySqlPacket extends WireMessage {

  public static final int MAX_WIRE_PAYLOAD = 0xFFFFFF;

  private final int sequenceId;
  private final ByteBuf payload;
  private final int wirePackets;

  /**
   * The whole wire packet (header included) of a single-packet payload, or null; owns the payload.
   */
  private final ByteBuf wire;

  /** Several whole wire packets, passed on as they came (see {@link MySqlPacketDecoder}). */
  private final boolean run;

  public MySqlPacket(int sequenceId, ByteBuf payload, int wirePackets) {
    this.sequenceId = sequenceId;
    this.payload = payload;
    this.wirePackets = wirePackets;
    this.wire = null;
    this.run = false;
  }

  /**
   * A payload that came in one wire packet, from that packet's bytes; takes ownership of {@code
   * wire}.
   */
  public static MySqlPacket ofWire(ByteBuf wire) {
    return new MySqlPacket(wire, false);
  }

  /**
   * Whole wire packets that their reader passes on without looking at them one by one; takes
   * ownership of {@code wire}. Its payload and sequence id are the first packet's.
   */
  static MySqlPacket run(ByteBuf wire) {
    return new MySqlPacket(wire, true);
  }

  private MySqlPacket(ByteBuf wire, boolean run) {
    this.wire = wire;
    this.sequenceId = wire.getUnsignedByte(wire.readerIndex() + 3);
    // a run's payload is its first packet's (by that packet's header); one packet's is the rest
    int length = run ? wire.getUnsignedMediumLE(wire.readerIndex()) : wire.readableBytes() - 4;
    this.payload = wire.slice(wire.readerIndex() + 4, length);
    this.wirePackets = 1;
    this.run = run;
  }

  /** Whether this is a run of whole wire packets rather than one packet. */
  public boolean isRun() {
    return run;
  }

  /** The wire packet as received, retained for the caller, or null when the payload was joined. */
  public ByteBuf retainedWire() {
    return wire == null ? null : wire.retainedDuplicate();
  }

  /**
   * The wire packet as received with this packet's own reference, or null when the payload was
   * joined (then nothing changes); the packet is spent, as if released. Costs no atomic update when
   * nothing else holds the packet ({@link WireMessage#takeWireBytes}).
   */
  public ByteBuf takeWire() {
    return takeWireBytes();
  }

  @Override
  protected ByteBuf wireBytes() {
    return wire;
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
    (wire != null ? wire : payload).release();
  }

  @Override
  public ReferenceCounted touch(Object hint) {
    (wire != null ? wire : payload).touch(hint);
    return this;
  }
}

package io.halo.proxy.mysql.packet;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.DecoderException;
import org.junit.jupiter.api.Test;

class MySqlPacketDecoderTest {

  private static ByteBuf wire(int sequence, int length, byte fill) {
    ByteBuf b = Unpooled.buffer(4 + length);
    b.writeMediumLE(length).writeByte(sequence);
    for (int i = 0; i < length; i++) {
      b.writeByte(fill);
    }
    return b;
  }

  @Test
  void frames_small_packets_fed_byte_by_byte() {
    EmbeddedChannel ch = new EmbeddedChannel(new MySqlPacketDecoder(1 << 20));
    ByteBuf all =
        Unpooled.wrappedBuffer(
            wire(0, 3, (byte) 'a'), wire(1, 0, (byte) 0), wire(2, 5, (byte) 'b'));
    while (all.isReadable()) {
      ch.writeInbound(all.readRetainedSlice(1));
    }
    all.release();
    MySqlPacket p0 = ch.readInbound();
    MySqlPacket p1 = ch.readInbound();
    MySqlPacket p2 = ch.readInbound();
    assertThat(p0.sequenceId()).isZero();
    assertThat(p0.payload().readableBytes()).isEqualTo(3);
    assertThat(p1.payload().readableBytes()).isZero();
    assertThat(p2.sequenceId()).isEqualTo(2);
    assertThat(p2.payload().toString(java.nio.charset.StandardCharsets.US_ASCII))
        .isEqualTo("bbbbb");
    p0.release();
    p1.release();
    p2.release();
    assertThat(ch.finishAndReleaseAll()).isFalse();
  }

  @Test
  void joins_a_16_mb_payload_and_its_empty_trailing_packet() {
    EmbeddedChannel ch = new EmbeddedChannel(new MySqlPacketDecoder(64L << 20));
    ch.writeInbound(wire(3, MySqlPacket.MAX_WIRE_PAYLOAD, (byte) 'x'));
    Object none = ch.readInbound();
    assertThat(none).as("waits for the end of the payload").isNull();
    ch.writeInbound(wire(4, 0, (byte) 0));
    MySqlPacket p = ch.readInbound();
    assertThat(p.sequenceId()).isEqualTo(3);
    assertThat(p.wirePackets()).isEqualTo(2);
    assertThat(p.payload().readableBytes()).isEqualTo(MySqlPacket.MAX_WIRE_PAYLOAD);
    p.release();
    ch.finishAndReleaseAll();
  }

  @Test
  void rejects_a_continuation_with_the_wrong_sequence_id() {
    EmbeddedChannel ch = new EmbeddedChannel(new MySqlPacketDecoder(64L << 20));
    ch.writeInbound(wire(0, MySqlPacket.MAX_WIRE_PAYLOAD, (byte) 'x'));
    assertThatThrownBy(() -> ch.writeInbound(wire(5, 1, (byte) 'y')))
        .isInstanceOf(DecoderException.class)
        .hasMessageContaining("expected 1");
    ch.finishAndReleaseAll();
  }

  @Test
  void rejects_a_packet_over_the_limit_before_reading_it() {
    EmbeddedChannel ch = new EmbeddedChannel(new MySqlPacketDecoder(1024));
    ByteBuf header = Unpooled.buffer().writeMediumLE(5000).writeByte(0);
    assertThatThrownBy(() -> ch.writeInbound(header)).hasMessageContaining("more than 1024 bytes");
    ch.finishAndReleaseAll();
  }

  @Test
  void a_passthrough_turns_consecutive_passing_packets_into_one_run_and_stops_after_a_framed_one() {
    // Given a decoder whose owner lets packets pass until one whose payload starts with 0xfe
    MySqlPacketDecoder decoder = new MySqlPacketDecoder(1 << 20);
    java.util.List<Integer> asked = new java.util.ArrayList<>();
    decoder.passthrough(
        (buf, index, length) -> {
          int first = length == 0 ? -1 : buf.getUnsignedByte(index);
          asked.add(first);
          return first != 0xfe;
        });
    EmbeddedChannel ch = new EmbeddedChannel(decoder);
    // When rows, an end marker and the start of the next reply arrive in one read
    ByteBuf read =
        Unpooled.wrappedBuffer(
            wire(1, 3, (byte) 1),
            wire(2, 5, (byte) 2),
            wire(3, 5, (byte) 3),
            wire(4, 7, (byte) 0xfe),
            wire(1, 2, (byte) 9));
    ch.writeInbound(read);
    // Then the three rows come as one run of their wire bytes, the marker framed, then the next
    MySqlPacket run = ch.readInbound();
    MySqlPacket end = ch.readInbound();
    MySqlPacket next = ch.readInbound();
    ByteBuf wire = run.retainedWire();
    assertThat(run.isRun()).isTrue();
    assertThat(wire.readableBytes()).isEqualTo(7 + 9 + 9);
    assertThat(run.sequenceId()).isEqualTo(1);
    assertThat(end.isRun()).isFalse();
    assertThat(end.sequenceId()).isEqualTo(4);
    assertThat(next.isRun()).isTrue();
    assertThat(asked).containsExactly(1, 2, 3, 0xfe, 9);
    wire.release();
    run.release();
    end.release();
    next.release();
    assertThat(ch.finishAndReleaseAll()).isFalse();
  }

  @Test
  void a_broken_packet_after_passing_ones_comes_after_their_run() {
    MySqlPacketDecoder decoder = new MySqlPacketDecoder(64L << 20);
    decoder.passthrough((buf, index, length) -> true);
    EmbeddedChannel ch = new EmbeddedChannel(decoder);
    assertThatThrownBy(
            () ->
                ch.writeInbound(
                    Unpooled.wrappedBuffer(
                        wire(1, 3, (byte) 1),
                        // a 16 MB first part, then a continuation with the wrong sequence id
                        wire(2, MySqlPacket.MAX_WIRE_PAYLOAD, (byte) 2),
                        wire(9, 1, (byte) 3))))
        .isInstanceOf(DecoderException.class)
        .hasMessageContaining("sequence id 9");
    MySqlPacket run = ch.readInbound();
    assertThat(run.isRun()).isTrue();
    assertThat(run.payload().readableBytes()).isEqualTo(3);
    run.release();
    ch.finishAndReleaseAll();
  }

  @Test
  void a_taken_wire_packet_carries_the_packets_reference_and_the_packet_is_spent() {
    // Given two packets read together (one buffer, as a relay reads them)
    EmbeddedChannel ch = new EmbeddedChannel(new MySqlPacketDecoder(1 << 20));
    ByteBuf a = wire(0, 3, (byte) 'a');
    ByteBuf b = wire(1, 2, (byte) 'b');
    ByteBuf read = Unpooled.buffer().writeBytes(a).writeBytes(b); // (contiguous: not copied)
    a.release();
    b.release();
    ch.writeInbound(read);
    MySqlPacket one = ch.readInbound();
    MySqlPacket two = ch.readInbound();
    int held = read.refCnt();

    // When the first packet's wire bytes are taken (its only holder), the second's while shared
    ByteBuf w1 = one.takeWire();
    two.retain();
    ByteBuf w2 = two.takeWire();

    // Then the first packet is spent and its wire bytes are the whole packet with its reference
    assertThat(one.refCnt()).isZero();
    assertThat(w1.readableBytes()).isEqualTo(4 + 3);
    assertThat(w1.getByte(w1.readerIndex() + 4)).isEqualTo((byte) 'a');
    assertThat(read.refCnt()).isEqualTo(held + 1); // the duplicate of the shared one
    // and the shared packet keeps its other holder's reference
    assertThat(two.refCnt()).isEqualTo(1);
    assertThat(w2.readableBytes()).isEqualTo(4 + 2);
    w1.release();
    w2.release();
    two.release();
    assertThat(read.refCnt()).isZero(); // every reference went back: the read buffer is freed
    assertThat(ch.finishAndReleaseAll()).isFalse();
  }
}

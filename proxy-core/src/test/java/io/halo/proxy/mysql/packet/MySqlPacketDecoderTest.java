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
}

package io.halo.proxy.mysql.packet;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import org.junit.jupiter.api.Test;

/**
 * A client's SSL request and the start of its TLS handshake often arrive in one read (libmariadb
 * sends both at once): the handshake decoder frames the SSL request and leaves the TLS bytes for
 * the SslHandler instead of reading a TLS record header as a MySQL packet length.
 */
class MySqlSslRequestFramingTest {

  /** The 32-byte SSL request with sequence id 1. */
  private static ByteBuf sslRequest() {
    ByteBuf b = Unpooled.buffer();
    b.writeMediumLE(32).writeByte(1);
    b.writeIntLE(MySqlPackets.CLIENT_SSL | MySqlPackets.CLIENT_PROTOCOL_41);
    b.writeIntLE(1 << 24).writeByte(45).writeZero(23);
    return b;
  }

  /** The first bytes of a TLS ClientHello record (type 0x16, version 3.1, length 0x0200). */
  private static final byte[] CLIENT_HELLO = {
    0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, (byte) 0xfc
  };

  @Test
  void frames_the_ssl_request_and_keeps_the_tls_bytes_behind_it() {
    MySqlPacketDecoder decoder = MySqlPacketDecoder.forClientHandshake(8 * 1024);
    EmbeddedChannel ch = new EmbeddedChannel(decoder);

    ch.writeInbound(Unpooled.wrappedBuffer(sslRequest(), Unpooled.wrappedBuffer(CLIENT_HELLO)));

    MySqlPacket p = ch.readInbound();
    assertThat(p.sequenceId()).isEqualTo(1);
    assertThat(p.payload().readableBytes()).isEqualTo(32);
    p.release();
    Object none = ch.readInbound();
    assertThat(none).isNull();
    ByteBuf rest = decoder.takeBuffered();
    assertThat(ByteBufUtil.getBytes(rest)).isEqualTo(CLIENT_HELLO);
    rest.release();
    ch.checkException();
    ch.finishAndReleaseAll();
  }

  @Test
  void frames_on_after_the_buffered_bytes_are_taken() {
    MySqlPacketDecoder decoder = MySqlPacketDecoder.forClientHandshake(8 * 1024);
    EmbeddedChannel ch = new EmbeddedChannel(decoder);
    ch.writeInbound(sslRequest());
    MySqlPacket ssl = ch.readInbound();
    ssl.release();
    assertThat(decoder.takeBuffered()).isNull();

    // The handshake response, decrypted, with sequence id 2.
    ByteBuf response =
        Unpooled.buffer().writeMediumLE(3).writeByte(2).writeBytes(new byte[] {1, 2, 3});
    ch.writeInbound(response);

    MySqlPacket p = ch.readInbound();
    assertThat(p.sequenceId()).isEqualTo(2);
    p.release();
    ch.finishAndReleaseAll();
  }
}

package io.halo.proxy.pg.message;

import static org.assertj.core.api.Assertions.assertThat;

import io.halo.proxy.pg.SqlState;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import java.util.Map;
import org.junit.jupiter.api.Test;

class PgFrameDecoderTest {

  private static ByteBuf sslRequest() {
    return Unpooled.buffer().writeInt(8).writeInt(PgMessages.SSL_REQUEST_CODE);
  }

  private static ByteBuf startup() {
    return PgMessages.startupMessage(Unpooled.buffer().alloc(), Map.of("user", "app"));
  }

  private static ByteBuf query(String sql) {
    byte[] b = (sql + "\0").getBytes(java.nio.charset.StandardCharsets.UTF_8);
    return Unpooled.buffer().writeByte('Q').writeInt(4 + b.length).writeBytes(b);
  }

  @Test
  void frames_ssl_request_startup_and_a_typed_message_fed_byte_by_byte() {
    // Given a client stream: SSLRequest, StartupMessage, then a Query, delivered one byte at a time
    EmbeddedChannel ch = new EmbeddedChannel(PgFrameDecoder.forClient(1 << 20));
    ByteBuf all = Unpooled.wrappedBuffer(sslRequest(), startup(), query("select 1"));
    while (all.isReadable()) {
      ch.writeInbound(all.readRetainedSlice(1));
    }
    all.release();
    // Then three frames come out: two untyped startup packets, then a typed 'Q'
    PgFrame ssl = ch.readInbound();
    PgFrame start = ch.readInbound();
    PgFrame q = ch.readInbound();
    assertThat(ssl.isStartup()).isTrue();
    assertThat(ssl.body().getInt(0)).isEqualTo(PgMessages.SSL_REQUEST_CODE);
    assertThat(start.isStartup()).isTrue();
    assertThat(start.body().getInt(0)).isEqualTo(PgMessages.PROTOCOL_3_0);
    assertThat(q.type()).isEqualTo((byte) 'Q');
    assertThat(q.body().toString(java.nio.charset.StandardCharsets.UTF_8)).isEqualTo("select 1\0");
    ssl.release();
    start.release();
    q.release();
    assertThat(ch.finishAndReleaseAll()).isFalse();
  }

  @Test
  void reports_an_oversized_message_once_and_discards_the_rest() {
    EmbeddedChannel ch = new EmbeddedChannel(PgFrameDecoder.forBackend(1024));
    ch.writeInbound(Unpooled.buffer().writeByte('Q').writeInt(5000).writeBytes(new byte[100]));
    ch.writeInbound(query("select 1"));
    PgFrameError err = ch.readInbound();
    assertThat(err.state()).isEqualTo(SqlState.PROTOCOL_VIOLATION);
    assertThat(err.message()).contains("5000").contains("1024");
    Object next = ch.readInbound();
    assertThat(next).isNull();
    ch.finishAndReleaseAll();
  }

  @Test
  void reports_a_startup_packet_with_an_impossible_length() {
    EmbeddedChannel ch = new EmbeddedChannel(PgFrameDecoder.forClient(1 << 20));
    ch.writeInbound(
        Unpooled.wrappedBuffer(
            "GET / HTTP/1.1\r\n\r\n".getBytes(java.nio.charset.StandardCharsets.UTF_8)));
    PgFrameError err = ch.readInbound();
    assertThat(err.state()).isEqualTo(SqlState.PROTOCOL_VIOLATION);
    assertThat(err.message()).startsWith("invalid length of startup packet");
    ch.finishAndReleaseAll();
  }
}

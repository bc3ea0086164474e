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

  private static ByteBuf typed(char type, int bodyLength) {
    return Unpooled.buffer().writeByte(type).writeInt(4 + bodyLength).writeZero(bodyLength);
  }

  @Test
  void
      a_passthrough_turns_consecutive_passing_messages_into_one_run_and_stops_after_a_framed_one() {
    // Given a backend decoder whose owner lets rows and descriptions pass, and asks anew each time
    PgFrameDecoder decoder = PgFrameDecoder.forBackend(1 << 20);
    java.util.List<Character> asked = new java.util.ArrayList<>();
    decoder.passthrough(
        type -> {
          asked.add((char) type);
          return type != 'Z';
        });
    EmbeddedChannel ch = new EmbeddedChannel(decoder);
    // When a reply (T, D, D, C, Z) and the start of the next (T) arrive in one read
    ByteBuf read =
        Unpooled.wrappedBuffer(
            typed('T', 6),
            typed('D', 10),
            typed('D', 10),
            typed('C', 9),
            typed('Z', 1),
            typed('T', 6));
    int total = read.readableBytes();
    ch.writeInbound(read);
    // Then the four messages before Z come as one run of their bytes, Z framed, then the T
    PgFrame run = ch.readInbound();
    PgFrame z = ch.readInbound();
    PgFrame t = ch.readInbound();
    assertThat(run.isRun()).isTrue();
    assertThat(run.length()).isEqualTo(11 + 15 + 15 + 14);
    assertThat(z.isRun()).isFalse();
    assertThat(z.type()).isEqualTo((byte) 'Z');
    assertThat(z.source()).isSameAs(run.source());
    assertThat(z.sourceIndex()).as("adjacent in the buffer read").isEqualTo(run.length());
    assertThat(t.isRun()).isTrue();
    assertThat(run.length() + z.length() + t.length()).isEqualTo(total);
    assertThat(asked).containsExactly('T', 'D', 'D', 'C', 'Z', 'T');
    run.release();
    z.release();
    t.release();
    assertThat(ch.finishAndReleaseAll()).isFalse();
  }

  @Test
  void a_broken_message_after_passing_ones_comes_after_their_run() {
    PgFrameDecoder decoder = PgFrameDecoder.forBackend(1 << 20);
    decoder.passthrough(type -> true);
    EmbeddedChannel ch = new EmbeddedChannel(decoder);
    ch.writeInbound(
        Unpooled.wrappedBuffer(
            typed('D', 10), Unpooled.buffer().writeByte('D').writeInt(2).writeZero(4)));
    PgFrame run = ch.readInbound();
    PgFrameError err = ch.readInbound();
    assertThat(run.isRun()).isTrue();
    assertThat(run.length()).isEqualTo(15);
    assertThat(err.message()).contains("invalid message length 2");
    run.release();
    ch.finishAndReleaseAll();
  }

  @Test
  void without_a_passthrough_every_message_is_framed() {
    EmbeddedChannel ch = new EmbeddedChannel(PgFrameDecoder.forBackend(1 << 20));
    ch.writeInbound(Unpooled.wrappedBuffer(typed('D', 3), typed('C', 4), typed('Z', 1)));
    for (char type : new char[] {'D', 'C', 'Z'}) {
      PgFrame f = ch.readInbound();
      assertThat(f.isRun()).isFalse();
      assertThat(f.type()).isEqualTo((byte) type);
      f.release();
    }
    assertThat(ch.finishAndReleaseAll()).isFalse();
  }

  @Test
  void a_taken_message_carries_the_frames_reference_and_the_frame_is_spent() {
    // Given two framed queries read together (one buffer, as a relay reads them)
    EmbeddedChannel ch = new EmbeddedChannel(PgFrameDecoder.forClient(1 << 20));
    ch.writeInbound(startup());
    ((PgFrame) ch.readInbound()).release();
    ByteBuf both = Unpooled.wrappedBuffer(query("select 1"), query("select 2"));
    ch.writeInbound(both);
    PgFrame one = ch.readInbound();
    PgFrame two = ch.readInbound();
    ByteBuf source = one.source();
    int held = source.refCnt();

    // When the first frame's message is taken (its only holder), the second's while shared
    ByteBuf m1 = one.takeMessage();
    two.retain();
    ByteBuf m2 = two.takeMessage();

    // Then the first frame is spent, its message is the whole 'Q' with the frame's reference
    assertThat(one.refCnt()).isZero();
    assertThat(m1.readByte()).isEqualTo((byte) 'Q');
    assertThat(source.refCnt()).isEqualTo(held + 1); // the duplicate of the shared one
    // and the shared frame keeps its other holder's reference
    assertThat(two.refCnt()).isEqualTo(1);
    assertThat(m2.getByte(m2.readerIndex())).isEqualTo((byte) 'Q');
    m1.release();
    m2.release();
    two.release();
    assertThat(source.refCnt()).isZero(); // every reference went back: the read buffer is freed
    assertThat(ch.finishAndReleaseAll()).isFalse();
  }
}

package io.halo.proxy.mysql.packet;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import org.junit.jupiter.api.Test;

class MySqlPacketsTest {

  @Test
  void err_packet_is_byte_exact() {
    ByteBuf err = MySqlPackets.err(Unpooled.buffer().alloc(), 1045, "28000", "Access denied");
    assertThat(ByteBufUtil.hexDump(err)).isEqualTo("ff1504" + "23" + "3238303030" + ByteBufUtil.hexDump("Access denied".getBytes(java.nio.charset.StandardCharsets.UTF_8)));
    err.release();
  }

  @Test
  void handshake_carries_the_scramble_in_two_parts_and_the_plugin_name() {
    byte[] scramble = "abcdefghijklmnopqrst".getBytes(StandardCharsets.US_ASCII);
    ByteBuf h = MySqlPackets.handshakeV10(Unpooled.buffer().alloc(), "11.4.5-halo", 42, scramble,
        MySqlPackets.CLIENT_PROTOCOL_41 | MySqlPackets.CLIENT_PLUGIN_AUTH | MySqlPackets.CLIENT_SECURE_CONNECTION, 45,
        "mysql_native_password");
    assertThat(h.readByte()).isEqualTo((byte) 10);
    assertThat(MySqlPackets.readCString(h)).isEqualTo("11.4.5-halo");
    assertThat(h.readIntLE()).isEqualTo(42);
    byte[] part1 = new byte[8];
    h.readBytes(part1);
    h.skipBytes(1);
    int capsLow = h.readUnsignedShortLE();
    h.skipBytes(1 + 2);
    int capsHigh = h.readUnsignedShortLE();
    assertThat((int) h.readUnsignedByte()).isEqualTo(21);
    h.skipBytes(10);
    byte[] part2 = new byte[12];
    h.readBytes(part2);
    h.skipBytes(1);
    assertThat(new String(part1, StandardCharsets.US_ASCII) + new String(part2, StandardCharsets.US_ASCII))
        .isEqualTo("abcdefghijklmnopqrst");
    assertThat(capsLow | capsHigh << 16).isEqualTo(
        MySqlPackets.CLIENT_PROTOCOL_41 | MySqlPackets.CLIENT_PLUGIN_AUTH | MySqlPackets.CLIENT_SECURE_CONNECTION);
    assertThat(MySqlPackets.readCString(h)).isEqualTo("mysql_native_password");
    h.release();
  }

  @Test
  void decodes_a_handshake_response_with_database_plugin_and_attributes() {
    int caps = MySqlPackets.CLIENT_PROTOCOL_41 | MySqlPackets.CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA
        | MySqlPackets.CLIENT_CONNECT_WITH_DB | MySqlPackets.CLIENT_PLUGIN_AUTH | MySqlPackets.CLIENT_CONNECT_ATTRS;
    ByteBuf p = Unpooled.buffer();
    p.writeIntLE(caps).writeIntLE(1 << 24).writeByte(45).writeZero(23);
    p.writeBytes("app\0".getBytes(java.nio.charset.StandardCharsets.UTF_8));
    MySqlPackets.lenenc(p, 3);
    p.writeBytes(new byte[] {1, 2, 3});
    p.writeBytes("shop\0caching_sha2_password\0".getBytes(java.nio.charset.StandardCharsets.UTF_8));
    ByteBuf attrs = Unpooled.buffer();
    MySqlPackets.lenenc(attrs, 4);
    attrs.writeBytes("_pid".getBytes(java.nio.charset.StandardCharsets.UTF_8));
    MySqlPackets.lenenc(attrs, 2);
    attrs.writeBytes("77".getBytes(java.nio.charset.StandardCharsets.UTF_8));
    MySqlPackets.lenenc(p, attrs.readableBytes());
    p.writeBytes(attrs);
    HandshakeResponse r = HandshakeResponse.decode(p);
    assertThat(r.user()).isEqualTo("app");
    assertThat(r.authResponse()).containsExactly(1, 2, 3);
    assertThat(r.database()).isEqualTo("shop");
    assertThat(r.authPlugin()).isEqualTo("caching_sha2_password");
    assertThat(r.attributes()).isEqualTo(Map.of("_pid", "77"));
    p.release();
    attrs.release();
  }

  @Test
  void length_encoded_integers_round_trip_at_every_width() {
    ByteBuf b = Unpooled.buffer();
    long[] values = {0, 250, 251, 65535, 65536, (1 << 24) - 1, 1 << 24, Long.MAX_VALUE};
    for (long v : values) {
      MySqlPackets.lenenc(b, v);
    }
    for (long v : values) {
      assertThat(MySqlPackets.readLenenc(b)).isEqualTo(v);
    }
    b.release();
  }
}

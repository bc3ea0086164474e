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
    assertThat(ByteBufUtil.hexDump(err))
        .isEqualTo(
            "ff1504"
                + "23"
                + "3238303030"
                + ByteBufUtil.hexDump(
                    "Access denied".getBytes(java.nio.charset.StandardCharsets.UTF_8)));
    err.release();
  }

  @Test
  void handshake_carries_the_scramble_in_two_parts_and_the_plugin_name() {
    byte[] scramble = "abcdefghijklmnopqrst".getBytes(StandardCharsets.US_ASCII);
    ByteBuf h =
        MySqlPackets.handshakeV10(
            Unpooled.buffer().alloc(),
            "11.4.5-halo",
            42,
            scramble,
            MySqlPackets.CLIENT_PROTOCOL_41
                | MySqlPackets.CLIENT_PLUGIN_AUTH
                | MySqlPackets.CLIENT_SECURE_CONNECTION,
            45,
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
    assertThat(
            new String(part1, StandardCharsets.US_ASCII)
                + new String(part2, StandardCharsets.US_ASCII))
        .isEqualTo("abcdefghijklmnopqrst");
    assertThat(capsLow | capsHigh << 16)
        .isEqualTo(
            MySqlPackets.CLIENT_PROTOCOL_41
                | MySqlPackets.CLIENT_PLUGIN_AUTH
                | MySqlPackets.CLIENT_SECURE_CONNECTION);
    assertThat(MySqlPackets.readCString(h)).isEqualTo("mysql_native_password");
    h.release();
  }

  @Test
  void decodes_a_handshake_response_with_database_plugin_and_attributes() {
    int caps =
        MySqlPackets.CLIENT_PROTOCOL_41
            | MySqlPackets.CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA
            | MySqlPackets.CLIENT_CONNECT_WITH_DB
            | MySqlPackets.CLIENT_PLUGIN_AUTH
            | MySqlPackets.CLIENT_CONNECT_ATTRS;
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

  @Test
  void a_greeting_without_client_mysql_carries_mariadb_capabilities_and_decodes_back() {
    byte[] scramble = "abcdefghijklmnopqrst".getBytes(StandardCharsets.US_ASCII);
    int caps = MySqlCapabilities.LOGIN | MySqlPackets.CLIENT_IGNORE_SPACE; // CLIENT_MYSQL clear
    ByteBuf h =
        MySqlPackets.handshakeV10(
            Unpooled.buffer().alloc(),
            "11.4.5-MariaDB-halo",
            42,
            scramble,
            caps,
            MySqlPackets.MARIADB_CLIENT_EXTENDED_METADATA,
            45,
            "caching_sha2_password");
    // the 4 bytes after the 6 zero bytes of the filler (as MariaDB's sql_acl.cc writes them)
    int fillerAt = 1 + "11.4.5-MariaDB-halo".length() + 1 + 4 + 8 + 1 + 2 + 1 + 2 + 2 + 1;
    assertThat(ByteBufUtil.hexDump(h, fillerAt, 10)).isEqualTo("000000000000" + "08000000");
    ServerGreeting g = ServerGreeting.decode(h);
    assertThat(g.serverVersion()).isEqualTo("11.4.5-MariaDB-halo");
    assertThat(g.threadId()).isEqualTo(42);
    assertThat(g.capabilities()).isEqualTo(caps);
    assertThat(g.mariaDbCapabilities()).isEqualTo(MySqlPackets.MARIADB_CLIENT_EXTENDED_METADATA);
    assertThat(new String(g.scramble(), StandardCharsets.US_ASCII))
        .isEqualTo("abcdefghijklmnopqrst");
    assertThat(g.authPlugin()).isEqualTo("caching_sha2_password");
    h.release();
  }

  @Test
  void a_greeting_with_client_mysql_set_has_no_mariadb_capabilities_whatever_the_filler_holds() {
    byte[] scramble = "abcdefghijklmnopqrst".getBytes(StandardCharsets.US_ASCII);
    ByteBuf h =
        MySqlPackets.handshakeV10(
            Unpooled.buffer().alloc(),
            "8.0.36",
            7,
            scramble,
            MySqlCapabilities.LOGIN | MySqlPackets.CLIENT_MYSQL,
            MySqlPackets.MARIADB_CLIENT_EXTENDED_METADATA,
            45,
            "mysql_native_password");
    assertThat(ServerGreeting.decode(h).mariaDbCapabilities()).isZero();
    h.release();
  }

  @Test
  void every_truncation_of_a_greeting_is_a_malformed_packet_not_an_index_error() {
    byte[] scramble = "abcdefghijklmnopqrst".getBytes(StandardCharsets.US_ASCII);
    ByteBuf h =
        MySqlPackets.handshakeV10(
            Unpooled.buffer().alloc(),
            "11.4.5-MariaDB",
            7,
            scramble,
            MySqlCapabilities.LOGIN,
            0,
            45,
            "mysql_native_password");
    int whole = h.readableBytes();
    // up to the scramble's end: the plugin name is optional, as in old servers' greetings
    int pluginAt = whole - "mysql_native_password".length() - 1;
    for (int n = 0; n < pluginAt; n++) {
      ByteBuf cut = h.retainedSlice(0, n);
      try {
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> ServerGreeting.decode(cut))
            .as("first %d bytes", n)
            .isInstanceOf(IllegalArgumentException.class);
      } finally {
        cut.release();
      }
    }
    h.release();
  }

  @Test
  void
      a_handshake_response_without_client_mysql_carries_mariadb_capabilities_in_the_fillers_last_4_bytes() {
    ByteBuf p = Unpooled.buffer();
    p.writeIntLE(MySqlPackets.CLIENT_PROTOCOL_41 | MySqlPackets.CLIENT_SECURE_CONNECTION)
        .writeIntLE(1 << 24)
        .writeByte(45)
        .writeZero(19)
        .writeIntLE(MySqlPackets.MARIADB_CLIENT_EXTENDED_METADATA);
    p.writeBytes("app\0".getBytes(java.nio.charset.StandardCharsets.UTF_8));
    p.writeByte(0);
    assertThat(HandshakeResponse.decode(p).mariaDbCapabilities())
        .isEqualTo(MySqlPackets.MARIADB_CLIENT_EXTENDED_METADATA);
    p.release();
  }

  @Test
  void the_greeting_offers_what_the_backend_offers_except_what_halo_cannot_relay() {
    int offered = MySqlCapabilities.offered(-1); // a backend offering every capability bit
    for (int dropped : MySqlCapabilities.DROPPED.keySet()) {
      assertThat(offered & dropped).as("0x%08x", dropped).isZero();
    }
    assertThat(offered & MySqlPackets.CLIENT_IGNORE_SPACE).isNotZero();
    assertThat(offered & MySqlPackets.CLIENT_INTERACTIVE).isNotZero();
    assertThat(offered & MySqlPackets.CLIENT_MYSQL).isNotZero();
    // a backend without IGNORE_SPACE: not offered; Halo's own login capabilities whatever the
    // backend
    int bare = MySqlPackets.CLIENT_PROTOCOL_41;
    assertThat(MySqlCapabilities.offered(bare)).isEqualTo(MySqlCapabilities.LOGIN);
    assertThat(MySqlCapabilities.mariaDbOffered(0x3f))
        .isEqualTo(MySqlPackets.MARIADB_CLIENT_EXTENDED_METADATA);
    // every capability bit is either relayed, Halo's own, or dropped with a reason
    int known = MySqlCapabilities.RELAYED | MySqlCapabilities.LOGIN;
    for (int dropped : MySqlCapabilities.DROPPED.keySet()) {
      known |= dropped;
    }
    assertThat(known).isEqualTo(-1);
    int mariaDbKnown = MySqlCapabilities.MARIADB_RELAYED;
    for (int dropped : MySqlCapabilities.MARIADB_DROPPED.keySet()) {
      mariaDbKnown |= dropped;
    }
    assertThat(mariaDbKnown).isEqualTo(0x3f);
  }
}

package io.halo.proxy.mysql.packet;

import io.netty.buffer.ByteBuf;

/**
 * A server's initial handshake packet (protocol 10), as a backend sends it to Halo:
 *
 * <pre>
 * 0x0a | server version NUL | thread id int4 | scramble[0..8] | 0x00 | caps low int2 | charset |
 * status int2 | caps high int2 | auth data length | 6 x 0x00 | MariaDB caps int4 (or 4 x 0x00) |
 * scramble[8..] (max(13, length - 8) bytes, NUL-terminated) | auth plugin NUL
 * </pre>
 *
 * {@link #decode} checks every length before it reads and throws IllegalArgumentException on a
 * malformed packet.
 *
 * @param mariaDbCapabilities MariaDB's extended capabilities; 0 unless the server cleared {@link
 *     MySqlPackets#CLIENT_MYSQL}
 * @param authPlugin the plugin the server starts with; mysql_native_password when it names none
 */
public record ServerGreeting(
    String serverVersion,
    long threadId,
    byte[] scramble,
    int capabilities,
    int mariaDbCapabilities,
    String authPlugin) {

  /** What Halo's own greeting takes over from a backend's. */
  public record Info(String serverVersion, int capabilities, int mariaDbCapabilities) {}

  public Info info() {
    return new Info(serverVersion, capabilities, mariaDbCapabilities);
  }

  /** Longest server version Halo takes over (MariaDB's is at most 60 bytes). */
  static final int MAX_VERSION = 100;

  public static ServerGreeting decode(ByteBuf b) {
    need(b, 1, "protocol version");
    if (b.readUnsignedByte() != 10) {
      throw new IllegalArgumentException("server does not speak protocol 10");
    }
    int nul =
        b.indexOf(
            b.readerIndex(),
            Math.min(b.writerIndex(), b.readerIndex() + MAX_VERSION + 1),
            (byte) 0);
    if (nul < 0) {
      throw new IllegalArgumentException(
          "server version is not NUL-terminated within " + MAX_VERSION + " bytes");
    }
    String version = MySqlPackets.readCString(b);
    need(b, 4 + 8 + 1 + 2, "thread id, scramble and capabilities");
    long threadId = b.readUnsignedIntLE();
    byte[] part1 = new byte[8];
    b.readBytes(part1);
    b.skipBytes(1);
    int caps = b.readUnsignedShortLE();
    need(b, 1 + 2 + 2 + 1 + 10, "charset, status, capabilities and filler");
    b.skipBytes(1 + 2); // charset, status
    caps |= b.readUnsignedShortLE() << 16;
    int authLen = b.readUnsignedByte();
    b.skipBytes(6);
    int ext = b.readIntLE();
    if ((caps & MySqlPackets.CLIENT_MYSQL) != 0) {
      ext = 0;
    }
    int part2Len = Math.max(13, authLen - 8) - 1;
    need(b, part2Len + 1, "the scramble's second part");
    byte[] scramble = new byte[8 + part2Len];
    System.arraycopy(part1, 0, scramble, 0, 8);
    b.readBytes(scramble, 8, part2Len);
    b.skipBytes(1);
    String plugin =
        (caps & MySqlPackets.CLIENT_PLUGIN_AUTH) != 0 && b.isReadable()
            ? MySqlPackets.readCString(b)
            : "mysql_native_password";
    return new ServerGreeting(version, threadId, scramble, caps, ext, plugin);
  }

  private static void need(ByteBuf b, int n, String what) {
    if (b.readableBytes() < n) {
      throw new IllegalArgumentException(
          "server greeting too short for "
              + what
              + ": "
              + b.readableBytes()
              + " bytes left, "
              + n
              + " needed");
    }
  }
}

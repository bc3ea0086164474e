package io.halo.proxy.mysql.packet;

import io.netty.buffer.ByteBuf;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The client's HandshakeResponse41: capabilities, user, auth response, database, plugin and
 * connection attributes, and MariaDB's extended capabilities (the filler's last 4 bytes, when the
 * client cleared {@link MySqlPackets#CLIENT_MYSQL}; 0 otherwise). {@link #decode} throws
 * IllegalArgumentException on a malformed packet.
 */
public record HandshakeResponse(
    int capabilities,
    int maxPacketSize,
    int charset,
    String user,
    byte[] authResponse,
    String database,
    String authPlugin,
    Map<String, String> attributes,
    int mariaDbCapabilities) {

  public HandshakeResponse(
      int capabilities,
      int maxPacketSize,
      int charset,
      String user,
      byte[] authResponse,
      String database,
      String authPlugin,
      Map<String, String> attributes) {
    this(
        capabilities,
        maxPacketSize,
        charset,
        user,
        authResponse,
        database,
        authPlugin,
        attributes,
        0);
  }

  /** The same login with another user, charset and database (COM_CHANGE_USER, KILL elsewhere). */
  public HandshakeResponse with(String newUser, int newCharset, String newDatabase) {
    return new HandshakeResponse(
        capabilities,
        maxPacketSize,
        newCharset,
        newUser,
        authResponse,
        newDatabase,
        authPlugin,
        attributes,
        mariaDbCapabilities);
  }

  public static HandshakeResponse decode(ByteBuf p) {
    try {
      int caps = p.readIntLE();
      if ((caps & MySqlPackets.CLIENT_PROTOCOL_41) == 0) {
        throw new IllegalArgumentException("client does not speak protocol 4.1");
      }
      int maxPacket = p.readIntLE();
      int charset = p.readUnsignedByte();
      p.skipBytes(19);
      int ext = p.readIntLE();
      if ((caps & MySqlPackets.CLIENT_MYSQL) != 0) {
        ext = 0;
      }
      String user = MySqlPackets.readCString(p);
      byte[] auth;
      if ((caps & MySqlPackets.CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA) != 0) {
        auth = bytes(p, MySqlPackets.readLenenc(p));
      } else if ((caps & MySqlPackets.CLIENT_SECURE_CONNECTION) != 0) {
        auth = bytes(p, p.readUnsignedByte());
      } else {
        auth = MySqlPackets.readCString(p).getBytes(StandardCharsets.UTF_8);
      }
      String db = null;
      if ((caps & MySqlPackets.CLIENT_CONNECT_WITH_DB) != 0 && p.isReadable()) {
        db = MySqlPackets.readCString(p);
      }
      String plugin = null;
      if ((caps & MySqlPackets.CLIENT_PLUGIN_AUTH) != 0 && p.isReadable()) {
        plugin = MySqlPackets.readCString(p);
      }
      Map<String, String> attrs = new LinkedHashMap<>();
      if ((caps & MySqlPackets.CLIENT_CONNECT_ATTRS) != 0 && p.isReadable()) {
        int end = p.readerIndex() + present(p, MySqlPackets.readLenenc(p));
        while (p.readerIndex() < end) {
          String k = string(p, MySqlPackets.readLenenc(p));
          String v = string(p, MySqlPackets.readLenenc(p));
          attrs.put(k, v);
        }
      }
      return new HandshakeResponse(caps, maxPacket, charset, user, auth, db, plugin, attrs, ext);
    } catch (IndexOutOfBoundsException e) {
      throw new IllegalArgumentException("malformed handshake response: " + e.getMessage(), e);
    }
  }

  /**
   * A length field checked against the bytes present, before anything is allocated: a length near
   * 2^31 or a negative one (a lenenc of 0xff.. or 0xfe + 8 bytes) is a malformed packet.
   */
  private static int present(ByteBuf p, long n) {
    if (n < 0 || n > p.readableBytes()) {
      throw new IllegalArgumentException(
          "malformed handshake response: length "
              + n
              + " but "
              + p.readableBytes()
              + " bytes left");
    }
    return (int) n;
  }

  private static byte[] bytes(ByteBuf p, long length) {
    byte[] b = new byte[present(p, length)];
    p.readBytes(b);
    return b;
  }

  private static String string(ByteBuf p, long n) {
    return new String(bytes(p, n), StandardCharsets.UTF_8);
  }
}

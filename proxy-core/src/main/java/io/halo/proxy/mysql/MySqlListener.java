package io.halo.proxy.mysql;

import io.halo.proxy.mysql.packet.MySqlPacketDecoder;
import io.halo.proxy.mysql.packet.MySqlPackets;
import io.halo.proxy.session.AcceptGate;
import io.halo.proxy.transport.ServerTls;
import io.netty.channel.socket.SocketChannel;

/**
 * Sets up each accepted MySQL client connection. The {@link AcceptGate} decides first: a connection
 * over a limit gets ERR 1040 in place of the greeting, as a full MySQL server sends, one from an
 * address outside the listener's {@code allow:} list ERR 1130.
 */
public final class MySqlListener
    extends io.halo.proxy.session.ClientInitializer<MySqlListenerContext> {

  /**
   * Largest handshake-phase packet accepted from a client (the response with attributes is far
   * smaller).
   */
  static final long MAX_HANDSHAKE_PACKET = 8 * 1024;

  public MySqlListener(MySqlListenerContext context, AcceptGate gate) {
    this(context, gate, ServerTls.NONE);
  }

  public MySqlListener(MySqlListenerContext context, AcceptGate gate, ServerTls tls) {
    super(context, gate, tls);
  }

  @Override
  protected io.netty.buffer.ByteBuf refusal(
      io.netty.buffer.ByteBufAllocator alloc, AcceptGate.Refusal why, String message) {
    if (why == AcceptGate.Refusal.ADDRESS_NOT_ALLOWED) {
      // What a MySQL server sends in place of the greeting to a host no account matches.
      return MySqlPackets.frame(
          alloc,
          0,
          MySqlPackets.err(
              alloc,
              MySqlError.HOST_NOT_ALLOWED.code(),
              MySqlError.HOST_NOT_ALLOWED.sqlState(),
              "Host '" + message + "' is not allowed to connect to this server"));
    }
    return MySqlPackets.frame(
        alloc,
        0,
        MySqlPackets.err(
            alloc,
            MySqlError.TOO_MANY_CONNECTIONS.code(),
            MySqlError.TOO_MANY_CONNECTIONS.sqlState(),
            message));
  }

  @Override
  protected void pipeline(SocketChannel ch) {
    // Handshake packets are small; the relay enforces max_message_size afterwards.
    ch.pipeline()
        .addLast(
            "frames",
            MySqlPacketDecoder.forClientHandshake(
                Math.min(MAX_HANDSHAKE_PACKET, context.server().maxMessageSize())));
    ch.pipeline().addLast("frontend", new MySqlFrontendHandler(context, tls));
  }
}

package io.halo.proxy.mysql;

import io.halo.proxy.mysql.packet.MySqlPacketDecoder;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.socket.SocketChannel;

/** Sets up each accepted MySQL client connection and counts it against the listener's limit. */
public final class MySqlListener extends ChannelInitializer<SocketChannel> {

  /** Largest handshake-phase packet accepted from a client (the response with attributes is far smaller). */
  static final long MAX_HANDSHAKE_PACKET = 8 * 1024;

  private final MySqlListenerContext context;

  public MySqlListener(MySqlListenerContext context) {
    this.context = context;
  }

  @Override
  protected void initChannel(SocketChannel ch) {
    int count = context.clientConnections().incrementAndGet();
    ch.closeFuture().addListener(f -> context.clientConnections().decrementAndGet());
    boolean overLimit = count > context.listener().maxClientConnections();
    // Handshake packets are small; the relay enforces max_message_size afterwards.
    ch.pipeline().addLast("frames", new MySqlPacketDecoder(Math.min(MAX_HANDSHAKE_PACKET, context.server().maxMessageSize())));
    ch.pipeline().addLast("frontend", new MySqlFrontendHandler(context, overLimit));
  }
}

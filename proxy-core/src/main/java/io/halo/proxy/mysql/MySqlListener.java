package io.halo.proxy.mysql;

import io.halo.proxy.mysql.packet.MySqlPacketDecoder;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.socket.SocketChannel;

/** Sets up each accepted MySQL client connection and counts it against the listener's limit. */
public final class MySqlListener extends ChannelInitializer<SocketChannel> {

  private final MySqlListenerContext context;

  public MySqlListener(MySqlListenerContext context) {
    this.context = context;
  }

  @Override
  protected void initChannel(SocketChannel ch) {
    int count = context.clientConnections().incrementAndGet();
    ch.closeFuture().addListener(f -> context.clientConnections().decrementAndGet());
    boolean overLimit = count > context.listener().maxClientConnections();
    ch.pipeline().addLast("frames", new MySqlPacketDecoder(context.server().maxMessageSize()));
    ch.pipeline().addLast("frontend", new MySqlFrontendHandler(context, overLimit));
  }
}

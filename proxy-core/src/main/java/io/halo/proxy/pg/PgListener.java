package io.halo.proxy.pg;

import io.halo.proxy.pg.message.PgFrameDecoder;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.socket.SocketChannel;

/**
 * Sets up each accepted PostgreSQL client connection and counts it against the listener's
 * {@code max_client_connections}. A connection over the limit is still read up to its startup
 * packet, so that the client gets a proper 53300 ErrorResponse instead of a reset.
 */
public final class PgListener extends ChannelInitializer<SocketChannel> {

  private final PgListenerContext context;

  public PgListener(PgListenerContext context) {
    this.context = context;
  }

  @Override
  protected void initChannel(SocketChannel ch) {
    int count = context.clientConnections().incrementAndGet();
    ch.closeFuture().addListener(f -> context.clientConnections().decrementAndGet());
    boolean overLimit = count > context.listener().maxClientConnections();
    ch.pipeline().addLast("frames", PgFrameDecoder.forClient((int) context.server().maxMessageSize()));
    ch.pipeline().addLast("frontend", new PgFrontendHandler(context, overLimit));
  }
}

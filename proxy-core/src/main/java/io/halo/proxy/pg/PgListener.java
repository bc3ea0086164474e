package io.halo.proxy.pg;

import io.halo.proxy.pg.message.PgFrameDecoder;
import io.halo.proxy.pg.message.PgMessages;
import io.halo.proxy.session.AcceptGate;
import io.halo.proxy.transport.ServerTls;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.socket.SocketChannel;

/**
 * Sets up each accepted PostgreSQL client connection. The {@link AcceptGate} decides first: a
 * connection over a limit gets FATAL 53300 at once and never reaches a frontend.
 */
public final class PgListener extends ChannelInitializer<SocketChannel> {

  private final PgListenerContext context;
  private final AcceptGate gate;
  private final ServerTls tls;

  public PgListener(PgListenerContext context, AcceptGate gate) {
    this(context, gate, ServerTls.NONE);
  }

  public PgListener(PgListenerContext context, AcceptGate gate, ServerTls tls) {
    this.context = context;
    this.gate = gate;
    this.tls = tls;
  }

  @Override
  protected void initChannel(SocketChannel ch) {
    if (!gate.admit(
        ch,
        context.name(),
        context.clientConnections(),
        context.listener().maxClientConnections(),
        context.rejections(),
        (alloc, why, message) -> PgMessages.fatal(alloc, SqlState.TOO_MANY_CONNECTIONS, message))) {
      return;
    }
    if (tls.enabled()) {
      ch.pipeline().addLast("direct-tls", new PgDirectTls(tls, context.name()));
    }
    ch.pipeline()
        .addLast("frames", PgFrameDecoder.forClient((int) context.server().maxMessageSize()));
    ch.pipeline().addLast("frontend", new PgFrontendHandler(context, tls));
  }
}

package io.halo.proxy.pg;

import io.halo.proxy.pg.message.PgFrameDecoder;
import io.halo.proxy.pg.message.PgMessages;
import io.halo.proxy.session.AcceptGate;
import io.halo.proxy.transport.ServerTls;
import io.netty.channel.socket.SocketChannel;

/**
 * Sets up each accepted PostgreSQL client connection. The {@link AcceptGate} decides first: a
 * connection over a limit gets FATAL 53300 at once and never reaches a frontend.
 */
public final class PgListener extends io.halo.proxy.session.ClientInitializer<PgListenerContext> {

  public PgListener(PgListenerContext context, AcceptGate gate) {
    this(context, gate, ServerTls.NONE);
  }

  public PgListener(PgListenerContext context, AcceptGate gate, ServerTls tls) {
    super(context, gate, tls);
  }

  @Override
  protected io.netty.buffer.ByteBuf refusal(
      io.netty.buffer.ByteBufAllocator alloc, String message) {
    return PgMessages.fatal(alloc, SqlState.TOO_MANY_CONNECTIONS, message);
  }

  @Override
  protected void pipeline(SocketChannel ch) {
    if (tls.enabled()) {
      ch.pipeline().addLast("direct-tls", new PgDirectTls(tls, context.name()));
    }
    ch.pipeline()
        .addLast("frames", PgFrameDecoder.forClient((int) context.server().maxMessageSize()));
    ch.pipeline().addLast("frontend", new PgFrontendHandler(context, tls));
  }
}

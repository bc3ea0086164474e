package io.halo.proxy.pg;

import io.halo.proxy.pg.message.PgFrameDecoder;
import io.halo.proxy.pg.message.PgMessages;
import io.halo.proxy.session.AcceptGate;
import io.halo.proxy.transport.ServerTls;
import io.netty.channel.socket.SocketChannel;

/**
 * Sets up each accepted PostgreSQL client connection. The {@link AcceptGate} decides first: a
 * connection over a limit gets FATAL 53300 at once, one from an address outside the listener's
 * {@code allow:} list FATAL 28000, and neither reaches a frontend.
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
      io.netty.buffer.ByteBufAllocator alloc, AcceptGate.Refusal why, String message) {
    return PgMessages.fatal(alloc, SqlState.TOO_MANY_CONNECTIONS, message);
  }

  /**
   * A client outside the listener's {@code allow:} list reads its FATAL 28000 after its startup
   * packet, as PostgreSQL sends a pg_hba.conf refusal (SSLRequest answered {@code N} meanwhile).
   */
  @Override
  protected boolean installsRefusal(SocketChannel ch, AcceptGate.Refusal why, String message) {
    if (why != AcceptGate.Refusal.ADDRESS_NOT_ALLOWED) {
      return false;
    }
    ch.pipeline().addLast("frames", PgFrameDecoder.forClient(PgFrameDecoder.MAX_PRE_AUTH_MESSAGE));
    ch.pipeline()
        .addLast(
            "refuse", new PgHbaRefusal(message, context.name(), context.server().startupTimeout()));
    return true;
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

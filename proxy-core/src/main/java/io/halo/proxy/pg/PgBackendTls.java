package io.halo.proxy.pg;

import io.halo.proxy.pg.message.PgMessages;
import io.halo.proxy.transport.BackendTls;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.ssl.SslHandler;

/**
 * Asks a PostgreSQL backend for TLS before the StartupMessage, as libpq does: an SSLRequest, then
 * one byte. {@code S}: this handler makes way for an SslHandler and the startup goes on once the
 * handshake is done. {@code N}: plaintext under {@code mode: prefer}, the connection refused
 * otherwise. Tells the startup handler by a {@link Ready} or {@link Refused} event; it sends
 * nothing before one.
 *
 * <p>Bytes behind the {@code S} arrived before the handshake and so unencrypted: a man in the
 * middle could have put them there (CVE-2021-23222 in libpq), so they end the connection.
 */
final class PgBackendTls extends ChannelInboundHandlerAdapter {

  /** TLS is up (or, under prefer, the backend declined and the session goes on in plaintext). */
  enum Ready {
    INSTANCE
  }

  /** The backend cannot be used as configured. */
  record Refused(String message) {}

  private final BackendTls.Backend tls;
  private final String backend;
  private final String host;
  private final int port;

  PgBackendTls(BackendTls.Backend tls, String backend, String host, int port) {
    this.tls = tls;
    this.backend = backend;
    this.host = host;
    this.port = port;
  }

  @Override
  public void channelActive(ChannelHandlerContext ctx) {
    ctx.writeAndFlush(Unpooled.buffer(8).writeInt(8).writeInt(PgMessages.SSL_REQUEST_CODE));
    ctx.fireChannelActive();
  }

  @Override
  public void channelRead(ChannelHandlerContext ctx, Object msg) {
    ByteBuf in = (ByteBuf) msg;
    try {
      if (!in.isReadable()) {
        return;
      }
      byte answer = in.readByte();
      if (answer == 'S') {
        if (in.isReadable()) {
          refuse(ctx, "backend " + backend + " sent unencrypted data after accepting TLS");
          return;
        }
        SslHandler ssl = tls.newHandler(ctx.alloc(), host, port);
        ctx.pipeline().replace(this, "tls", ssl);
        ssl.handshakeFuture()
            .addListener(
                f -> {
                  if (f.isSuccess()) {
                    ctx.channel().pipeline().fireUserEventTriggered(Ready.INSTANCE);
                  }
                  // A failure reaches the startup handler as an exception.
                });
      } else if (answer == 'N' && !tls.required()) {
        ctx.pipeline().remove(this);
        ctx.channel().pipeline().fireUserEventTriggered(Ready.INSTANCE);
      } else if (answer == 'N') {
        refuse(
            ctx,
            "backend "
                + backend
                + " does not accept TLS, and its tls mode is "
                + tls.config().mode().yamlName());
      } else {
        refuse(
            ctx, "backend " + backend + " answered the SSL request with '" + (char) answer + "'");
      }
    } finally {
      in.release();
    }
  }

  private void refuse(ChannelHandlerContext ctx, String message) {
    ctx.pipeline().remove(this);
    ctx.channel().pipeline().fireUserEventTriggered(new Refused(message));
  }
}

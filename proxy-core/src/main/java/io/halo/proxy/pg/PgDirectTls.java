package io.halo.proxy.pg;

import io.halo.proxy.transport.ServerTls;
import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.ssl.SslHandler;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * PostgreSQL 17's direct TLS ({@code sslnegotiation=direct}): the client starts with a TLS
 * ClientHello instead of an SSLRequest. The first byte tells (0x16, a TLS handshake record; no
 * startup packet starts so, its length would exceed the limit): then TLS goes in front at once, and
 * the handshake must select ALPN {@code postgresql}, as PostgreSQL requires of direct connections
 * (so that a TLS connection meant for another protocol is not read as PostgreSQL). Otherwise this
 * handler leaves and the bytes go on as before.
 */
final class PgDirectTls extends ChannelInboundHandlerAdapter {

  private static final Logger log = LoggerFactory.getLogger(PgDirectTls.class);

  static final String ALPN = "postgresql";

  private static final int TLS_HANDSHAKE_RECORD = 0x16;

  private final ServerTls tls;
  private final String listener;

  PgDirectTls(ServerTls tls, String listener) {
    this.tls = tls;
    this.listener = listener;
  }

  @Override
  public void channelRead(ChannelHandlerContext ctx, Object msg) {
    ByteBuf in = (ByteBuf) msg;
    if (!in.isReadable()) {
      in.release();
      return;
    }
    if (in.getUnsignedByte(in.readerIndex()) != TLS_HANDSHAKE_RECORD) {
      ctx.pipeline().remove(this);
      ctx.fireChannelRead(in);
      return;
    }
    SslHandler ssl = tls.newHandler(ctx.alloc());
    ctx.pipeline().replace(this, "tls", ssl);
    ssl.handshakeFuture()
        .addListener(
            f -> {
              if (f.isSuccess() && !ALPN.equals(ssl.applicationProtocol())) {
                log.info(
                    "[{}] client {}: direct TLS without ALPN '{}' refused",
                    listener,
                    ctx.channel().remoteAddress(),
                    ALPN);
                ctx.channel().close();
              }
            });
    // From the head: the SslHandler is first now (the accept gate's startup timer left at the
    // first read, before this handler).
    ctx.pipeline().fireChannelRead(in);
  }
}

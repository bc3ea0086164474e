package io.halo.proxy.pg;

import io.halo.proxy.pg.message.PgFrame;
import io.halo.proxy.pg.message.PgMessages;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.ScheduledFuture;
import java.time.Duration;
import java.util.concurrent.TimeUnit;

/**
 * The whole pipeline of a connection whose address the listener's {@code allow:} list refused at
 * accept: it answers SSLRequest and GSSENCRequest {@code N}, reads the startup packet (at most 8
 * kB, by the frame decoder before it) only for the user and database names, and sends FATAL 28000
 * as PostgreSQL sends a pg_hba.conf refusal, then closes. Sent any earlier, libpq (15.8 and later)
 * would show only "server sent an error response during SSL exchange". Bounded by {@code
 * server.startup_timeout} from accept; nothing is routed, nothing authenticated.
 */
final class PgHbaRefusal extends ChannelInboundHandlerAdapter {

  private final String host;
  private final String listener;
  private final Duration timeout;
  private ScheduledFuture<?> timer;
  private boolean done;

  /** SSLRequests and GSSENCRequests answered (each answer a byte written: bounded). */
  private int encryptionAsked;

  PgHbaRefusal(String host, String listener, Duration timeout) {
    this.host = host;
    this.listener = listener;
    this.timeout = timeout;
  }

  @Override
  public void handlerAdded(ChannelHandlerContext ctx) {
    timer = ctx.executor().schedule(() -> ctx.close(), timeout.toMillis(), TimeUnit.MILLISECONDS);
    ctx.channel().closeFuture().addListener(f -> timer.cancel(false));
  }

  @Override
  public void channelRead(ChannelHandlerContext ctx, Object msg) {
    try {
      if (done) {
        return;
      }
      if (!(msg instanceof PgFrame frame) || !frame.isStartup()) {
        refuse(ctx, null, null);
        return;
      }
      ByteBuf body = frame.body();
      int code = body.readInt();
      if (code == PgMessages.SSL_REQUEST_CODE || code == PgMessages.GSSENC_REQUEST_CODE) {
        if (++encryptionAsked > 2) {
          done = true; // (one of each at most, as PostgreSQL takes them)
          ctx.close();
          return;
        }
        ctx.writeAndFlush(Unpooled.wrappedBuffer(new byte[] {'N'}));
        return;
      }
      if (code == PgMessages.CANCEL_REQUEST_CODE) {
        done = true;
        ctx.close();
        return;
      }
      String user = null;
      String database = null;
      try {
        while (body.isReadable()) {
          String key = PgMessages.readCString(body);
          if (key.isEmpty()) {
            break;
          }
          String value = PgMessages.readCString(body);
          if (key.equals("user")) {
            user = value;
          } else if (key.equals("database")) {
            database = value;
          }
        }
      } catch (RuntimeException malformed) {
        // The names only decorate the message; a malformed packet is refused all the same.
      }
      refuse(ctx, user, database == null ? user : database);
    } finally {
      ReferenceCountUtil.release(msg);
    }
  }

  private void refuse(ChannelHandlerContext ctx, String user, String database) {
    done = true;
    ctx.channel().config().setAutoRead(false);
    String message =
        "no Halo rule allows host \""
            + host
            + "\""
            + (user == null ? "" : ", user \"" + user + "\", database \"" + database + "\"")
            + " on listener "
            + listener;
    ctx.writeAndFlush(PgMessages.fatal(ctx.alloc(), SqlState.INVALID_AUTHORIZATION, message))
        .addListener(ChannelFutureListener.CLOSE);
  }

  @Override
  public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
    ctx.close();
  }
}

package io.halo.proxy.mysql;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import java.io.IOException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Relays one direction of a MySQL session, forwarding each received buffer whole (no copy, no
 * framing), flushing once per read burst, with the same writability backpressure as the
 * PostgreSQL relay. Client side it walks the 4-byte packet headers to enforce the maximum packet
 * size. Sequence ids pass unchanged: Halo neither injects nor drops packets once relaying.
 *
 * <p>Not yet: transaction state from OK/EOF status flags, KILL translation, and the session
 * hand-over needed for switchover (they need a response parser per command).
 */
final class MySqlRelayHandler extends ChannelInboundHandlerAdapter {

  private static final Logger log = LoggerFactory.getLogger(MySqlRelayHandler.class);

  private final String name;
  private final boolean fromClient;
  private final Channel peer;
  /** Client side: Halo's connection ids, to translate KILL; this session's backend. */
  private final io.halo.proxy.session.CancelRegistry<MySqlKill.Target> ids;
  private final MySqlKill.Target self;
  private final long maxPacket;
  private final byte[] header = new byte[4];
  private int headerFill;
  private long remaining;
  /** Size so far of a logical packet split over 16 MB wire packets. */
  private long logical;

  MySqlRelayHandler(String name, boolean fromClient, Channel peer, long maxPacket,
      io.halo.proxy.session.CancelRegistry<MySqlKill.Target> ids, MySqlKill.Target self) {
    this.name = name;
    this.fromClient = fromClient;
    this.peer = peer;
    this.maxPacket = maxPacket;
    this.ids = ids;
    this.self = self;
  }

  @Override
  public void channelRead(ChannelHandlerContext ctx, Object msg) {
    ByteBuf buf = (ByteBuf) msg;
    boolean atBoundary = headerFill == 0 && remaining == 0;
    if (fromClient && !withinLimit(buf)) {
      buf.release();
      log.info("[{}] closing a session: client packet over max_message_size {}", name, maxPacket);
      ctx.close();
      return;
    }
    if (fromClient && atBoundary) {
      var kill = MySqlKill.parse(buf);
      if (kill.isPresent()) {
        buf = translate(ctx, buf, kill.get());
        if (buf == null) {
          return;
        }
      }
    }
    peer.write(buf, peer.voidPromise());
    if (!peer.isWritable()) {
      ctx.channel().config().setAutoRead(false);
    }
  }

  /** The KILL rewritten to the backend thread id, or null when Halo answered it itself. */
  private ByteBuf translate(ChannelHandlerContext ctx, ByteBuf buf, MySqlKill.Request kill) {
    MySqlKill.Target target = ids.target(kill.connectionId()).orElse(null);
    if (target == null || target.backendName() == null) {
      buf.release();
      ctx.writeAndFlush(MySqlKill.unknownThread(ctx.alloc(), kill.connectionId(), ""));
      return null;
    }
    if (!target.backendName().equals(self.backendName())) {
      buf.release();
      ctx.writeAndFlush(MySqlKill.unknownThread(ctx.alloc(), kill.connectionId(),
          " (it runs on backend " + target.backendName() + ", this session on " + self.backendName() + ")"));
      return null;
    }
    buf.release();
    log.debug("[{}] KILL {}{} -> backend thread {}", name, kill.kind(), kill.connectionId(), target.backendThreadId());
    return MySqlKill.rewrite(ctx.alloc(), kill, target.backendThreadId());
  }

  /** Walks packet headers; false when one announces more than the maximum. */
  private boolean withinLimit(ByteBuf buf) {
    int i = buf.readerIndex();
    int end = buf.writerIndex();
    while (i < end) {
      if (remaining > 0) {
        long skip = Math.min(remaining, end - i);
        i += (int) skip;
        remaining -= skip;
        continue;
      }
      header[headerFill++] = buf.getByte(i++);
      if (headerFill == 4) {
        headerFill = 0;
        remaining = (header[0] & 0xff) | (header[1] & 0xff) << 8 | (header[2] & 0xff) << 16;
        logical += remaining;
        if (logical > maxPacket) {
          return false;
        }
        if (remaining < 0xFFFFFF) {
          logical = 0; // the logical packet ends with this wire packet
        }
      }
    }
    return true;
  }

  @Override
  public void channelReadComplete(ChannelHandlerContext ctx) {
    peer.flush();
  }

  @Override
  public void channelWritabilityChanged(ChannelHandlerContext ctx) {
    if (ctx.channel().isWritable()) {
      peer.config().setAutoRead(true);
    }
    ctx.fireChannelWritabilityChanged();
  }

  @Override
  public void channelInactive(ChannelHandlerContext ctx) {
    if (peer.isActive()) {
      peer.writeAndFlush(Unpooled.EMPTY_BUFFER).addListener(ChannelFutureListener.CLOSE);
    }
    ctx.fireChannelInactive();
  }

  @Override
  public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
    if (cause instanceof IOException) {
      log.debug("[{}] {} connection failed: {}", name, fromClient ? "client" : "backend", cause.toString());
    } else {
      log.warn("[{}] {} connection failed", name, fromClient ? "client" : "backend", cause);
    }
    ctx.close();
  }
}

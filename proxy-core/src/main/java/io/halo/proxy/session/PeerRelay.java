package io.halo.proxy.session;

import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import java.io.IOException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One direction of a plain session's zero-copy relay (client to backend, or backend to client),
 * what both engines share: buffers are handed on whole to the peer channel, flushed once per read
 * burst, and reading stops while the peer's outbound buffer is above its high watermark. A held
 * session's backend direction does not wake the client. The engine's subclass scans what passes.
 */
public abstract class PeerRelay extends ChannelInboundHandlerAdapter {

  private static final Logger log = LoggerFactory.getLogger(PeerRelay.class);

  private final HeldSession session;
  protected final boolean fromClient;
  protected Channel peer;

  protected PeerRelay(HeldSession session, boolean fromClient, Channel peer) {
    this.session = session;
    this.fromClient = fromClient;
    this.peer = peer;
  }

  /** The channel this handler writes to (a moved session gets a new backend). */
  public final void peer(Channel next) {
    this.peer = next;
  }

  /** Handles one buffer read from this handler's channel (it owns it). */
  protected abstract void relay(ChannelHandlerContext ctx, ByteBuf buf);

  @Override
  public final void channelRead(ChannelHandlerContext ctx, Object msg) {
    if (!(msg instanceof ByteBuf buf)) {
      ctx.fireChannelRead(msg);
      return;
    }
    relay(ctx, buf);
  }

  @Override
  public void channelReadComplete(ChannelHandlerContext ctx) {
    peer.flush();
  }

  @Override
  public void channelWritabilityChanged(ChannelHandlerContext ctx) {
    // this channel drained below its low watermark: the peer may read (and write here) again,
    // except that a held session's client stays unread until the release
    if (ctx.channel().isWritable() && (fromClient || !session.held())) {
      peer.config().setAutoRead(true);
    }
    writabilityChanged(ctx);
    ctx.fireChannelWritabilityChanged();
  }

  /** More to do when this channel's writability changed. */
  protected void writabilityChanged(ChannelHandlerContext ctx) {}

  @Override
  public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
    String side = fromClient ? "client" : "backend";
    if (cause instanceof IOException) {
      log.debug(
          "[{}] {} connection of {} failed: {}",
          session.listenerContext().name(),
          side,
          session,
          cause.toString());
    } else {
      log.warn(
          "[{}] {} connection of {} failed",
          session.listenerContext().name(),
          side,
          session,
          cause);
    }
    ctx.close();
  }
}

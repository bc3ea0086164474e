package io.halo.proxy.mysql;

import io.halo.proxy.mysql.packet.MySqlResponseTracker;
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
 * PostgreSQL relay. Both directions feed the session's {@link MySqlResponseTracker} before
 * forwarding, which walks packet headers in place (and enforces the client packet size limit).
 *
 * <p>Client side, where a buffer starts a command (the tracker says the client is at a command
 * boundary: not inside a packet, not sending a LOCAL INFILE file, not answering an auth request)
 * Halo may act instead of forwarding: hold it during a switchover, answer it for a session Halo
 * ended, take over COM_CHANGE_USER ({@link MySqlChangeUser}), or translate a KILL
 * ({@link MySqlKill}). Sequence ids pass unchanged otherwise.
 */
final class MySqlRelayHandler extends ChannelInboundHandlerAdapter {

  private static final Logger log = LoggerFactory.getLogger(MySqlRelayHandler.class);

  private final MySqlSession session;
  private final boolean fromClient;
  private Channel peer;

  MySqlRelayHandler(MySqlSession session, boolean fromClient, Channel peer) {
    this.session = session;
    this.fromClient = fromClient;
    this.peer = peer;
  }

  /** The channel this handler writes to (a moved session gets a new backend). */
  void peer(Channel peer) {
    this.peer = peer;
  }

  @Override
  public void channelRead(ChannelHandlerContext ctx, Object msg) {
    if (!(msg instanceof ByteBuf buf)) {
      ctx.fireChannelRead(msg);
      return;
    }
    if (!fromClient) {
      session.tracker().serverBytes(buf);
      peer.write(buf, peer.voidPromise());
      session.publish();
      if (!peer.isWritable()) {
        ctx.channel().config().setAutoRead(false);
      }
      return;
    }
    if (session.held()) {
      session.hold(buf);
      return;
    }
    MySqlResponseTracker tracker = session.tracker();
    if (tracker.expectingCommand()) {
      if (session.doomed()) {
        session.answerDoomed(buf);
        return;
      }
      if (session.mustHold()) {
        session.hold(buf);
        return;
      }
      if (startsCommand(buf, MySqlResponseTracker.COM_CHANGE_USER)) {
        MySqlChangeUser.start(session, ctx, buf);
        return;
      }
      var kill = MySqlKill.parse(buf);
      if (kill.isPresent()) {
        buf = MySqlKill.translate(session, ctx, buf, kill.get());
        if (buf == null) {
          return;
        }
      }
    }
    forwardClient(buf);
    if (!peer.isWritable()) {
      ctx.channel().config().setAutoRead(false);
    }
  }

  /** Tracks and writes one client buffer to the backend (no flush). Event loop only. */
  void forwardClient(ByteBuf buf) {
    if (!session.tracker().clientBytes(buf)) {
      buf.release();
      log.info("[{}] closing {}: client packet over max_message_size {}", session.listener().name(), session,
          session.listener().server().maxMessageSize());
      session.client().close();
      return;
    }
    peer.write(buf, peer.voidPromise());
    session.publish();
  }

  private static boolean startsCommand(ByteBuf buf, int command) {
    return buf.readableBytes() >= 5 && buf.getUnsignedByte(buf.readerIndex() + 4) == command;
  }

  @Override
  public void channelReadComplete(ChannelHandlerContext ctx) {
    peer.flush();
  }

  @Override
  public void channelWritabilityChanged(ChannelHandlerContext ctx) {
    // a held session's client stays unread until release
    if (ctx.channel().isWritable() && (fromClient || !session.held())) {
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
      log.debug("[{}] {} connection failed: {}", session.listener().name(), fromClient ? "client" : "backend",
          cause.toString());
    } else {
      log.warn("[{}] {} connection failed", session.listener().name(), fromClient ? "client" : "backend", cause);
    }
    ctx.close();
  }
}

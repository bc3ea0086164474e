package io.halo.proxy.pg;

import io.halo.proxy.pg.message.PgMessages;
import io.halo.proxy.pg.message.PgStreamScanner;
import io.halo.proxy.session.SessionState;
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
 * Relays one direction of an established session: client to backend, or backend to client.
 * There is one instance on each of the two channels, which share an event loop.
 *
 * <p>Design memo. Each received buffer is forwarded whole (no copy, no per-message framing) and
 * flushed once per read burst ({@code channelReadComplete}). A {@link PgStreamScanner} walks the
 * message headers on the way: client side it enforces the message size limit and sees
 * Terminate; backend side it reads the transaction status of ReadyForQuery. Backpressure uses
 * writability instead of read-after-write (Netty's proxy example): reading stops when the peer's
 * outbound buffer passes its high watermark and resumes when it drains below the low one, which
 * bounds the memory a session can hold at about one read plus the watermark, with one flush per
 * burst instead of one listener per message.
 */
final class PgRelayHandler extends ChannelInboundHandlerAdapter implements PgStreamScanner.Listener {

  private static final Logger log = LoggerFactory.getLogger(PgRelayHandler.class);

  private final PgSession session;
  private final boolean fromClient;
  private final Channel peer;
  private final PgStreamScanner scanner = new PgStreamScanner(this);
  private final long maxMessageSize;
  /** The other direction's handler, to know whether Halo may inject a message to the client. */
  private PgRelayHandler other;
  private String violation;
  private boolean terminated;

  PgRelayHandler(PgSession session, boolean fromClient, Channel peer, long maxMessageSize) {
    this.session = session;
    this.fromClient = fromClient;
    this.peer = peer;
    this.maxMessageSize = maxMessageSize;
  }

  static void pair(PgRelayHandler a, PgRelayHandler b) {
    a.other = b;
    b.other = a;
  }

  @Override
  public void channelRead(ChannelHandlerContext ctx, Object msg) {
    if (!(msg instanceof ByteBuf buf)) {
      ctx.fireChannelRead(msg);
      return;
    }
    if (violation != null || !scanner.scan(buf)) {
      buf.release();
      if (violation != null) {
        rejectClient(violation);
      }
      return;
    }
    peer.write(buf, peer.voidPromise());
    if (!peer.isWritable()) {
      ctx.channel().config().setAutoRead(false);
    }
  }

  @Override
  public boolean onMessage(byte type, int length) {
    if (!fromClient) {
      return true;
    }
    if (length < 4 || length > maxMessageSize) {
      violation =
          length < 4
              ? "invalid message length " + length
              : "message of type '" + (char) type + "' is " + length + " bytes, more than the limit of "
                  + maxMessageSize;
      return false;
    }
    if (type == 'X') {
      terminated = true;
    }
    return true;
  }

  @Override
  public void onReadyForQuery(byte status) {
    session.state(SessionState.fromTransactionStatus(status));
  }

  @Override
  public void channelReadComplete(ChannelHandlerContext ctx) {
    peer.flush();
    if (terminated && fromClient) {
      // The backend ends the session on Terminate; the client closes its side. Nothing to wait for.
      session.state(SessionState.CLOSING);
      peer.writeAndFlush(Unpooled.EMPTY_BUFFER).addListener(ChannelFutureListener.CLOSE);
    }
  }

  @Override
  public void channelWritabilityChanged(ChannelHandlerContext ctx) {
    // Our channel drained below its low watermark: the peer may read (and write to us) again.
    if (ctx.channel().isWritable()) {
      peer.config().setAutoRead(true);
    }
    ctx.fireChannelWritabilityChanged();
  }

  @Override
  public void channelInactive(ChannelHandlerContext ctx) {
    session.unregister();
    if (fromClient) {
      if (!terminated) {
        log.debug("[{}] client of {} closed without Terminate", session.listener().name(), session);
      }
      closeAfterFlush(peer);
    } else if (peer.isActive()) {
      if (session.state() != SessionState.CLOSING && other.scannerOfClientBound().atBoundary()) {
        log.warn(
            "[{}] backend {} ({}) closed the connection of {}",
            session.listener().name(), session.backendName(), session.backendAddress(), session);
        peer.writeAndFlush(
                PgMessages.fatal(
                    peer.alloc(),
                    SqlState.CONNECTION_FAILURE,
                    "backend " + session.backendName() + " (" + session.backendAddress()
                        + ") closed the connection unexpectedly"))
            .addListener(ChannelFutureListener.CLOSE);
      } else {
        closeAfterFlush(peer);
      }
    }
    session.state(SessionState.CLOSING);
    ctx.fireChannelInactive();
  }

  /** Whether Halo may inject a whole message into the client-bound stream now. */
  boolean clientStreamAtBoundary() {
    return scannerOfClientBound().atBoundary();
  }

  /** The scanner of the backend-to-client stream (this handler's when it is the backend side). */
  private PgStreamScanner scannerOfClientBound() {
    return fromClient ? other.scanner : scanner;
  }

  private void rejectClient(String reason) {
    Channel client = fromClient ? session.client() : peer;
    log.info("[{}] closing session {}: {}", session.listener().name(), session, reason);
    session.state(SessionState.CLOSING);
    session.backend().close();
    if (scannerOfClientBound().atBoundary()) {
      client
          .writeAndFlush(PgMessages.fatal(client.alloc(), SqlState.PROTOCOL_VIOLATION, reason))
          .addListener(ChannelFutureListener.CLOSE);
    } else {
      client.close();
    }
  }

  @Override
  public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
    String side = fromClient ? "client" : "backend " + session.backendName();
    if (cause instanceof IOException) {
      log.debug("[{}] {} connection of {} failed: {}", session.listener().name(), side, session, cause.toString());
    } else {
      log.warn("[{}] {} connection of {} failed", session.listener().name(), side, session, cause);
    }
    ctx.close();
  }

  private static void closeAfterFlush(Channel ch) {
    if (ch.isActive()) {
      ch.writeAndFlush(Unpooled.EMPTY_BUFFER).addListener(ChannelFutureListener.CLOSE);
    }
  }
}

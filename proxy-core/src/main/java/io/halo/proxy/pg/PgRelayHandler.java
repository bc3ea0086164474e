package io.halo.proxy.pg;

import io.halo.proxy.pg.message.PgMessages;
import io.halo.proxy.pg.message.PgStreamScanner;
import io.halo.proxy.session.SessionState;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Relays one direction of an established session: client to backend, or backend to client. There is
 * one instance on each of the two channels, which share an event loop.
 *
 * <p>Design memo. Each received buffer is forwarded whole (no copy, no per-message framing) and
 * flushed once per read burst ({@code channelReadComplete}). A {@link PgStreamScanner} walks the
 * message headers on the way. Client side it enforces the message size limit, sees Terminate,
 * counts requests that will be answered by a ReadyForQuery, and captures named Parse/Close messages
 * (so a session can be moved to another backend with its prepared statements). Backend side it
 * reads the transaction status of each ReadyForQuery. Backpressure uses writability instead of
 * read-after-write (Netty's proxy example): reading stops when the peer's outbound buffer passes
 * its high watermark and resumes when it drains below the low one, which bounds the memory a
 * session can hold at about one read plus the watermark, with one flush per burst instead of one
 * listener per message. During a switchover, a client buffer that would start new work while the
 * session is between transactions is held, not forwarded.
 */
final class PgRelayHandler extends io.halo.proxy.session.PeerRelay
    implements PgStreamScanner.Listener {

  private static final Logger log = LoggerFactory.getLogger(PgRelayHandler.class);

  /** Parse/Close messages larger than this are not captured; the session then cannot move. */
  private static final int MAX_CAPTURE = 64 * 1024;

  private final PgSession session;
  private final PgStreamScanner scanner;
  private final long maxMessageSize;

  /** The other direction's handler, to know whether Halo may inject a message to the client. */
  private PgRelayHandler other;

  private String violation;
  private boolean rejected;
  private boolean terminated;

  /**
   * Backend direction: the type of the last whole message. A backend that closes right after an
   * ErrorResponse (no ReadyForQuery) has said FATAL itself; Halo adds no second error.
   */
  private byte lastFromBackend;

  /** Backend side: the ErrorResponse of an idle session's dying backend, kept from the client. */
  private static final int MAX_LAST_WORDS = 16 * 1024;

  /** Backend side: where in the buffer being scanned an idle session's ErrorResponse begins. */
  private int cutAt = -1;

  /**
   * Backend side: the FATAL an idle session's backend sent before closing (a crash, a shutdown, a
   * terminated connection), withheld from the client: if the session survives (a failover moves
   * it), the client never sees it; otherwise it gets it as from a direct connection.
   */
  private ByteBuf lastWords;

  /**
   * Client side, pooled listener: where in the buffer being scanned the client's Terminate begins;
   * it is kept from the backend, whose connection may go back to the pool.
   */
  private int terminateAt = -1;

  /** Client side: the client's Terminate was kept from the backend. */
  private boolean terminateKept;

  PgRelayHandler(PgSession session, boolean fromClient, Channel peer, long maxMessageSize) {
    super(session, fromClient, peer);
    this.session = session;
    this.maxMessageSize = maxMessageSize;
    this.scanner = new PgStreamScanner(this, fromClient ? peer.alloc() : null);
  }

  static void pair(PgRelayHandler a, PgRelayHandler b) {
    a.other = b;
    b.other = a;
  }

  @Override
  protected void relay(ChannelHandlerContext ctx, ByteBuf buf) {
    if (fromClient) {
      if (!session.admitClientBuffer(buf, scanner.atBoundary())) {
        return;
      }
      io.halo.proxy.session.RelayHooks.admitted(buf);
    }
    forward(buf);
    if (!peer.isWritable()) {
      ctx.channel().config().setAutoRead(false);
    }
  }

  /** Scans and writes one buffer to the peer (no flush). Event loop only. */
  void forward(ByteBuf buf) {
    if (rejected) {
      buf.release();
      return;
    }
    if (lastWords != null) {
      keepLastWords(buf, buf.readerIndex());
      return;
    }
    if (violation != null || !scanner.scan(buf)) {
      buf.release();
      rejected = true;
      if (fromClient) {
        rejectClient(violation != null ? violation : "malformed message stream");
      } else {
        log.warn(
            "[{}] backend {} sent a malformed message stream; closing {}",
            session.listener().name(),
            session.backendName(),
            session);
        session.terminate(
            SqlState.PROTOCOL_VIOLATION,
            "backend " + session.backendName() + " broke the protocol; the session is closed");
      }
      return;
    }
    if (terminateAt >= 0) {
      int at = terminateAt;
      terminateAt = -1;
      terminateKept = true;
      if (at > buf.readerIndex()) {
        peer.write(
            buf.retainedSlice(buf.readerIndex(), at - buf.readerIndex()), peer.voidPromise());
      }
      buf.release(); // the Terminate, and whatever a client sends after it
      return;
    }
    if (cutAt >= 0) {
      int at = cutAt;
      cutAt = -1;
      if (at > buf.readerIndex()) {
        peer.write(
            buf.retainedSlice(buf.readerIndex(), at - buf.readerIndex()), peer.voidPromise());
      }
      lastWords = buf.alloc().buffer(Math.min(MAX_LAST_WORDS, buf.writerIndex() - at));
      keepLastWords(buf, at);
      return;
    }
    peer.write(buf, peer.voidPromise());
  }

  /** Keeps the backend's last words from {@code from} on (bounded) and releases {@code buf}. */
  private void keepLastWords(ByteBuf buf, int from) {
    int n = Math.min(buf.writerIndex() - from, MAX_LAST_WORDS - lastWords.readableBytes());
    if (n > 0) {
      lastWords.writeBytes(buf, from, n);
    }
    buf.release();
  }

  @Override
  public boolean onMessage(byte type, int length) {
    if (!fromClient) {
      lastFromBackend = type;
      if (type == 'E'
          && lastWords == null
          && length < MAX_LAST_WORDS
          && scanner.headerStart() >= 0
          && session.survivable()) {
        // An ErrorResponse to an idle session is a FATAL on its way out: keep it until the session
        // knows whether it outlives its backend.
        cutAt = scanner.headerStart();
      }
      return true;
    }
    if (length < 4 || length > maxMessageSize) {
      violation =
          length < 4
              ? "invalid message length " + length
              : "message of type '"
                  + (char) type
                  + "' is "
                  + length
                  + " bytes, more than the limit of "
                  + maxMessageSize;
      return false;
    }
    switch (type) {
      case 'Q', 'F' -> session.requestSent();
      case 'S' -> session.syncSent();
      case 'P', 'B', 'E', 'D', 'C', 'H' -> session.extendedStarted();
      case 'X' -> {
        terminated = true;
        if (session.listener().pool().enabled() && scanner.headerStart() >= 0) {
          terminateAt = scanner.headerStart();
        }
      }
      default -> {}
    }
    return true;
  }

  @Override
  public boolean capture(byte type, int length, int firstBodyByte) {
    if (length > MAX_CAPTURE) {
      return false;
    }
    // Parse with a name (an unnamed statement's first body byte is the empty name's NUL),
    // Close of a statement ('S').
    return (type == 'P' && firstBodyByte != 0) || (type == 'C' && firstBodyByte != 'P');
  }

  @Override
  public void onCaptured(ByteBuf message) {
    session.captured(message);
  }

  @Override
  public void onReadyForQuery(byte status) {
    session.replyReceived(status);
  }

  @Override
  public void channelReadComplete(ChannelHandlerContext ctx) {
    super.channelReadComplete(ctx);
    if (terminated && fromClient) {
      if (terminateKept && session.giveBack()) {
        ctx.close(); // the backend connection went back to the pool
        return;
      }
      if (terminateKept) {
        peer.write(PgMessages.terminate(peer.alloc()));
      }
      // The backend ends the session on Terminate; the client closes its side. Nothing to wait for.
      session.state(SessionState.CLOSING);
      peer.writeAndFlush(Unpooled.EMPTY_BUFFER).addListener(ChannelFutureListener.CLOSE);
    }
  }

  @Override
  protected void writabilityChanged(ChannelHandlerContext ctx) {
    if (fromClient && ctx.channel().isWritable() && session.refusing()) {
      // the client drained the errors Halo wrote for refused work: read it again
      ctx.channel().config().setAutoRead(true);
    }
  }

  @Override
  public void channelInactive(ChannelHandlerContext ctx) {
    scanner.discard();
    if (!fromClient && session.state() != SessionState.CLOSING) {
      session.listener().sessions().suspect(session.backendName());
      if ((lastWords != null || scanner.atBoundary()) && session.outlive(lastWords)) {
        lastWords = null; // the session keeps them
        ctx.fireChannelInactive();
        return;
      }
      session.backendLost();
    }
    session.unregister();
    if (fromClient) {
      if (!terminated) {
        log.debug("[{}] client of {} closed without Terminate", session.listener().name(), session);
      }
      if (!session.pooledAway() && !session.giveBack()) {
        closeAfterFlush(peer);
      }
    } else if (peer.isActive()) {
      if (lastWords != null && session.state() != SessionState.CLOSING) {
        peer.writeAndFlush(lastWords).addListener(ChannelFutureListener.CLOSE);
        lastWords = null;
      } else if (session.state() != SessionState.CLOSING
          && scanner.atBoundary()
          && lastFromBackend != 'E') {
        log.warn(
            "[{}] backend {} ({}) closed the connection of {}",
            session.listener().name(),
            session.backendName(),
            session.backendAddress(),
            session);
        peer.writeAndFlush(
                PgMessages.fatal(
                    peer.alloc(),
                    SqlState.CONNECTION_FAILURE,
                    "backend " + session.backendName() + " closed the connection unexpectedly"))
            .addListener(ChannelFutureListener.CLOSE);
      } else {
        closeAfterFlush(peer);
      }
    }
    if (lastWords != null) {
      lastWords.release();
      lastWords = null;
    }
    session.state(SessionState.CLOSING);
    ctx.fireChannelInactive();
  }

  @Override
  public void handlerRemoved(ChannelHandlerContext ctx) {
    if (lastWords != null) {
      lastWords.release(); // the session moved on without them
      lastWords = null;
    }
  }

  /** The client-to-backend stream is between messages (client side only). */
  boolean atBoundary() {
    return scanner.atBoundary();
  }

  /** Whether Halo may inject a whole message into the client-bound stream now. */
  boolean clientStreamAtBoundary() {
    return fromClient ? other.scanner.atBoundary() : scanner.atBoundary();
  }

  private void rejectClient(String reason) {
    Channel client = session.client();
    log.info("[{}] closing session {}: {}", session.listener().name(), session, reason);
    session.state(SessionState.CLOSING);
    session.backend().close();
    if (clientStreamAtBoundary()) {
      client
          .writeAndFlush(PgMessages.fatal(client.alloc(), SqlState.PROTOCOL_VIOLATION, reason))
          .addListener(ChannelFutureListener.CLOSE);
    } else {
      client.close();
    }
  }

  private static void closeAfterFlush(Channel ch) {
    if (ch.isActive()) {
      ch.writeAndFlush(Unpooled.EMPTY_BUFFER).addListener(ChannelFutureListener.CLOSE);
    }
  }
}

package io.halo.proxy.mysql;

import io.halo.proxy.mysql.packet.MySqlPackets;
import io.halo.proxy.mysql.packet.MySqlResponseTracker;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Relays one direction of a MySQL session, forwarding each received buffer whole (no copy, no
 * framing), flushing once per read burst, with the same writability backpressure as the PostgreSQL
 * relay. Both directions feed the session's {@link MySqlResponseTracker} before forwarding, which
 * walks packet headers in place (and enforces the client packet size limit).
 *
 * <p>Client side, where a buffer starts a command (the tracker says the client is at a command
 * boundary: not inside a packet, not sending a LOCAL INFILE file, not answering an auth request)
 * Halo may act instead of forwarding: hold it during a switchover, answer it for a session Halo
 * ended, take over COM_CHANGE_USER ({@link MySqlChangeUser}), or translate a KILL ({@link
 * MySqlKill}). Sequence ids pass unchanged otherwise.
 */
final class MySqlRelayHandler extends io.halo.proxy.session.PeerRelay {

  private static final Logger log = LoggerFactory.getLogger(MySqlRelayHandler.class);

  private final MySqlSession session;
  private ChannelHandlerContext ctx;

  /** Client side: the start of a command split over reads, bounded (see clientRead). */
  private ByteBuf partial;

  /** Bytes of a refused command still to come from the client (dropped). */
  private long discard;

  /** Client side: bytes that followed a KILL Halo answers itself, until it has answered. */
  private ByteBuf afterKill;

  /**
   * Backend side: the unsolicited ERR an idle session's backend sent before closing (connection
   * killed, server shutdown), withheld until the session knows whether it outlives the backend.
   */
  private ByteBuf lastWords;

  /** An unsolicited ERR larger than this is passed on as before. */
  private static final int MAX_LAST_WORDS = 1024;

  MySqlRelayHandler(MySqlSession session, boolean fromClient, Channel peer) {
    super(session, fromClient, peer);
    this.session = session;
  }

  @Override
  protected void relay(ChannelHandlerContext ctx, ByteBuf buf) {
    if (!fromClient) {
      if (lastWords != null) {
        buf.release(); // after its last words the server only closes
        return;
      }
      if (buf.readableBytes() >= 5
          && buf.readableBytes() <= MAX_LAST_WORDS
          && buf.getUnsignedByte(buf.readerIndex() + 4) == 0xff
          && session.survivable()
          && MySqlSession.Err.parse(buf) != null) {
        // An ERR to an idle session is a server on its way out: keep it until the session knows
        // whether it outlives its backend (the tracker never sees it).
        lastWords = buf;
        return;
      }
      session.tracker().serverBytes(buf);
      peer.write(buf, peer.voidPromise());
      session.publish();
      if (!peer.isWritable()) {
        ctx.channel().config().setAutoRead(false);
      }
      return;
    }
    if (partial != null) {
      buf = ctx.alloc().compositeBuffer(2).addComponents(true, partial, buf);
      partial = null;
    }
    clientRead(ctx, buf);
  }

  /**
   * Answers a command Halo does not admit (transaction limit, user rate) with ERR 1040 naming the
   * limit, as the server answers a failed statement: the session goes on. The command's bytes are
   * dropped, also those still to come; what follows it is read as usual.
   */
  private void refuse(ChannelHandlerContext ctx, ByteBuf buf, String message) {
    answer(ctx, buf, MySqlError.TOO_MANY_CONNECTIONS, message);
  }

  /**
   * Answers the command that starts {@code buf} with an ERR of its own, never sending it to the
   * backend; its bytes still to come are dropped, what follows it is read as usual.
   */
  private void answer(ChannelHandlerContext ctx, ByteBuf buf, MySqlError error, String message) {
    int r = buf.readerIndex();
    long total = 4L + buf.getUnsignedMediumLE(r);
    session
        .client()
        .writeAndFlush(
            MySqlPackets.frame(
                ctx.alloc(),
                (buf.getUnsignedByte(r + 3) + 1) & 0xff,
                MySqlPackets.err(ctx.alloc(), error.code(), error.sqlState(), message)));
    if (buf.readableBytes() > total) {
      ByteBuf rest = buf.retainedSlice(r + (int) total, buf.readableBytes() - (int) total);
      buf.release();
      clientRead(ctx, rest);
      return;
    }
    discard = total - buf.readableBytes();
    buf.release();
  }

  /**
   * Held buffers whose transaction permit was refused or given up: the first one's command is
   * answered with {@code error}.
   */
  void refuseHeld(java.util.List<ByteBuf> bufs, MySqlError error, String message) {
    for (int i = 0; i < bufs.size(); i++) {
      ByteBuf b = bufs.get(i);
      if (i == 0) {
        answer(ctx, b, error, message);
      } else {
        clientRead(ctx, b);
      }
    }
    peer.flush();
    if (!session.held() && !session.closing()) {
      session.client().config().setAutoRead(true);
    }
  }

  /**
   * A client buffer: where it starts a command, Halo may act on it. A command start split over
   * reads is gathered first — at most the 5 bytes that show the command, or a whole short COM_QUERY
   * that may be a KILL (68 bytes) — so that the decision never depends on TCP segments.
   */
  private void clientRead(ChannelHandlerContext ctx, ByteBuf buf) {
    if (reading) {
      more.add(buf); // what follows a command answered or sent in this read: read in the loop
      return;
    }
    reading = true;
    try {
      for (ByteBuf next = buf; next != null; next = more.poll()) {
        readOne(ctx, next);
      }
    } finally {
      reading = false;
      for (ByteBuf b; (b = more.poll()) != null; ) {
        b.release(); // (only when a read threw)
      }
    }
  }

  /**
   * {@link #clientRead} runs: a buffer handed to it meanwhile waits in {@link #more}. A read of
   * thousands of commands Halo answers itself (empty packets, KILLs) is a loop, not a recursion
   * that overflowed the event loop's stack at some 1,750 of them.
   */
  private boolean reading;

  private final java.util.ArrayDeque<ByteBuf> more = new java.util.ArrayDeque<>(2);

  private void readOne(ChannelHandlerContext ctx, ByteBuf buf) {
    if (discard > 0) {
      // the rest of a command Halo refused (it was never sent), also from held buffers
      int n = (int) Math.min(discard, buf.readableBytes());
      buf.skipBytes(n);
      discard -= n;
      if (!buf.isReadable()) {
        buf.release();
        return;
      }
    }
    MySqlResponseTracker tracker = session.tracker();
    if (session.orphaned()
        && !session.holdsWork()
        && tracker.expectingCommand()
        && buf.readableBytes() >= 5
        && buf.getUnsignedByte(buf.readerIndex() + 4) == MySqlPackets.COM_QUIT) {
      // the client leaves while the session has no backend: no login just to say goodbye
      buf.release();
      session.quitWhileOrphaned();
      return;
    }
    if (session.held()) {
      session.hold(buf);
      return;
    }
    if (tracker.expectingCommand()) {
      if (session.doomed()) {
        session.answerDoomed(buf);
        return;
      }
      if (session.transactionLost() && buf.readableBytes() >= 5) {
        int c = buf.getUnsignedByte(buf.readerIndex() + 4);
        if (c != MySqlPackets.COM_PING
            && c != MySqlPackets.COM_QUIT
            && c != MySqlPackets.COM_STMT_CLOSE
            && c != MySqlPackets.COM_STMT_SEND_LONG_DATA
            && session.takeTransactionLost()
            && !"ROLLBACK".equals(MySqlSessionState.keyword(buf))) {
          answer(
              ctx,
              buf,
              MySqlError.TRANSACTION_LOST,
              "Halo: backend "
                  + session.lostBackend()
                  + " was lost; this session now runs on "
                  + session.backendName()
                  + ", and its open transaction was rolled back: restart it");
          return;
        }
      }
      if (session.mustHold()) {
        session.hold(buf);
        return;
      }
      if (buf.readableBytes() >= 4 && buf.getUnsignedMediumLE(buf.readerIndex()) == 0) {
        // An empty command packet is whole at 4 bytes: waiting for a fifth would answer every
        // later command one late. The server would answer it with ERR 1047; so does Halo.
        answer(ctx, buf, MySqlError.UNKNOWN_COMMAND, "Unknown command");
        return;
      }
      if (buf.readableBytes() < 5) {
        partial = buf;
        return;
      }
      int r = buf.readerIndex();
      int length = buf.getUnsignedMediumLE(r);
      int command = buf.getUnsignedByte(r + 4);
      if (command == MySqlPackets.COM_CHANGE_USER) {
        MySqlChangeUser.start(session, ctx, buf);
        return;
      }
      if (command == MySqlPackets.COM_QUIT
          && length == 1
          && buf.readableBytes() == 5
          && session.giveBack()) {
        buf.release(); // the backend connection went back to the pool: it does not quit
        ctx.close();
        return;
      }
      if (command == MySqlPackets.COM_SET_OPTION) {
        session.loginChanged();
      }
      if (command == MySqlPackets.COM_QUERY
          && length <= MySqlKill.MAX_LENGTH
          && MySqlKill.mayBeKill(buf)) {
        if (buf.readableBytes() < 4 + length) {
          partial = buf;
          return;
        }
        boolean more = buf.readableBytes() > 4 + length;
        ByteBuf rest =
            more ? buf.retainedSlice(r + 4 + length, buf.readableBytes() - 4 - length) : null;
        ByteBuf packet = more ? buf.retainedSlice(r, 4 + length) : buf;
        if (more) {
          buf.release();
        }
        // What follows waits until Halo has answered a KILL it answers itself (perhaps later, from
        // another backend: then killAnswered() goes on with it).
        afterKill = rest;
        var kill = MySqlKill.parse(packet);
        ByteBuf out =
            kill.isPresent() ? MySqlKill.translate(session, ctx, packet, kill.get()) : packet;
        if (out == null) {
          return;
        }
        session.state().command(out);
        forwardClient(out);
        rest = afterKill;
        afterKill = null;
        if (rest != null) {
          clientRead(ctx, rest);
          return;
        }
        if (!peer.isWritable()) {
          ctx.channel().config().setAutoRead(false);
        }
        return;
      }
      if (command != MySqlPackets.COM_QUIT
          && command != MySqlPackets.COM_PING
          && command != MySqlPackets.COM_STMT_CLOSE
          && command != MySqlPackets.COM_STMT_SEND_LONG_DATA) {
        switch (session.admitCommand(buf)) {
          case HELD:
            return;
          case REFUSED:
            refuse(ctx, buf, session.refusal());
            return;
          default:
            break;
        }
      }
      session.state().command(buf);
    }
    forwardClient(buf);
    if (!peer.isWritable()) {
      ctx.channel().config().setAutoRead(false);
    }
  }

  /** Nothing half-read or waiting on the client side (a session may outlive its backend). */
  boolean quiet() {
    return partial == null && afterKill == null && discard == 0;
  }

  /** A buffer the session held, now let go (client side). */
  void resumed(ByteBuf buf) {
    clientRead(ctx, buf);
  }

  /** After Halo answered a KILL itself: reading goes on, starting with what followed it. */
  void killAnswered() {
    ByteBuf rest = afterKill;
    afterKill = null;
    if (rest != null) {
      clientRead(ctx, rest);
      peer.flush();
    }
    if (!session.held() && !session.closing()) {
      session.client().config().setAutoRead(true);
    }
  }

  @Override
  public void handlerAdded(ChannelHandlerContext ctx) {
    this.ctx = ctx;
  }

  @Override
  public void handlerRemoved(ChannelHandlerContext ctx) {
    if (partial != null) {
      partial.release();
      partial = null;
    }
    if (afterKill != null) {
      afterKill.release();
      afterKill = null;
    }
    if (lastWords != null) {
      lastWords.release();
      lastWords = null;
    }
  }

  /** Tracks and writes one client buffer to the backend (no flush). Event loop only. */
  void forwardClient(ByteBuf buf) {
    io.halo.proxy.session.RelayHooks.admitted(buf);
    if (!session.tracker().clientBytes(buf)) {
      buf.release();
      log.info(
          "[{}] closing {}: client packet over max_message_size {}",
          session.listener().name(),
          session,
          session.listener().server().maxMessageSize());
      session.client().close();
      return;
    }
    peer.write(buf, peer.voidPromise());
    session.publish();
  }

  @Override
  public void channelInactive(ChannelHandlerContext ctx) {
    if (fromClient && (session.pooledAway() || session.giveBack())) {
      // the client left between transactions: its backend connection went back to the pool
      ctx.fireChannelInactive();
      return;
    }
    if (!fromClient && session.held() && session.tracker().quiescent()) {
      // Held at a boundary by a switchover (whose switchover_command may stop the old primary):
      // the session is about to move; if it stays instead, resuming ends it with an ERR.
      log.debug("[{}] backend of held session {} closed", session.listener().name(), session);
      ctx.fireChannelInactive();
      return;
    }
    if (!fromClient && !session.closing() && !session.tracker().quit()) {
      // Not the close that answers the client's COM_QUIT: the health checker probes the backend
      // now instead of at its next interval (after COM_QUIT this cost a fresh probe login per
      // client disconnect, as much CPU as the relay itself under connection-per-query loads)
      session.listener().sessions().suspect(session.backendName());
      if ((lastWords != null || session.survivable())
          && session.outlive(lastWords == null ? null : MySqlSession.Err.parse(lastWords))) {
        // idle: the session waits for a new primary (or ends with these words if there is none)
        if (lastWords != null) {
          lastWords.release();
          lastWords = null;
        }
        ctx.fireChannelInactive();
        return;
      }
    }
    if (peer.isActive()) {
      if (lastWords != null) {
        peer.writeAndFlush(lastWords).addListener(ChannelFutureListener.CLOSE);
        lastWords = null;
      } else if (!fromClient && !session.closing() && session.tracker().awaitingReply()) {
        // a command went out and no reply came: the client is told, not left with a bare close
        // (MariaDB's code for a killed connection; a client-range code such as 2013 in an ERR
        // packet reads as a malformed packet to libmariadb)
        log.warn(
            "[{}] backend {} closed the connection of {} during a command",
            session.listener().name(),
            session.backendName(),
            session);
        peer.writeAndFlush(
                MySqlError.BACKEND_LOST.frame(
                    peer.alloc(),
                    1,
                    "backend "
                        + session.backendName()
                        + " closed the connection during the command: whether it took"
                        + " effect is unknown; reconnect"))
            .addListener(ChannelFutureListener.CLOSE);
      } else {
        peer.writeAndFlush(Unpooled.EMPTY_BUFFER).addListener(ChannelFutureListener.CLOSE);
      }
    }
    ctx.fireChannelInactive();
  }
}

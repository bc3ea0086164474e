package io.halo.proxy.pg;

import io.halo.health.state.BackendNode;
import io.halo.proxy.pg.message.PgMessages;
import io.halo.proxy.pg.message.PgStreamScanner;
import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.util.concurrent.Future;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Moves a session held at a transaction boundary to another backend (a switchover, or a failover
 * that found it with nothing in flight; see {@link io.halo.proxy.session.HeldSession}): log in
 * there with the session's user and startup parameters, replay its named prepared statements (Parse
 * messages, then one Sync; the replies are swallowed; a session that was inside a transaction gets
 * a failed one there), then swap the relay onto the new connection and let the held work go. What
 * is not carried over: SET changes, temporary tables, advisory locks, LISTEN, SQL-level PREPARE. A
 * session that cannot be moved ends with 57P01.
 */
final class PgSessionMove {

  private static final Logger log = LoggerFactory.getLogger(PgSessionMove.class);

  /** Fails the transaction a moved session finds itself in; its text shows in the server log. */
  static final String ABORT_SQL =
      "DO $halo$BEGIN RAISE EXCEPTION 'Halo: the backend of this transaction was lost; it was"
          + " rolled back' USING ERRCODE = '40001'; END$halo$";

  private PgSessionMove() {}

  static void start(PgSession session, BackendNode target) {
    PgListenerContext l = session.listener();
    Channel client = session.client();
    // On a pooled listener a connection from the pool will do, and a new one is kept for it.
    Future<PgBackendConnection> connecting =
        l.pool()
            .acquire(
                client.eventLoop(),
                target,
                session.backendParameters(),
                () ->
                    PgBackendConnector.connect(
                        client.eventLoop(),
                        l.transports(),
                        target,
                        userOf(session),
                        passwordOf(session),
                        session.backendParameters(),
                        l.server().backendConnectTimeout(),
                        (int) l.server().maxMessageSize(),
                        l.scramKeys()));
    connecting.addListener(
        f -> {
          if (!f.isSuccess()) {
            log.warn(
                "[{}] could not move {} to {}: {}",
                l.name(),
                session,
                target.name(),
                f.cause().getMessage());
            session.terminate(
                SqlState.ADMIN_SHUTDOWN,
                "could not move this session to " + target.name() + ": " + f.cause().getMessage());
            return;
          }
          PgBackendConnection next = connecting.getNow();
          next.startupMessages().forEach(ByteBuf::release); // the client has its parameters already
          if (!client.isActive()) {
            next.channel().close();
            return;
          }
          List<ByteBuf> replay = session.preparedForReplay();
          boolean abort = session.transactionLost();
          if (replay.isEmpty() && !abort) {
            session.rebind(next);
            log.debug("[{}] moved {} to {}", l.name(), session, target.name());
            return;
          }
          Channel ch = next.channel();
          Replay handler =
              new Replay(session, next, replay.size() + (abort ? 2 : 0), abort ? 1 : 0);
          ch.pipeline().addLast("replay", handler);
          // One Sync per Parse: a failed statement then skips nothing but itself.
          for (ByteBuf b : replay) {
            ch.write(b);
            ch.write(PgMessages.sync(ch.alloc()));
          }
          if (abort) {
            // The client is inside a transaction that died with its backend: open one here and
            // fail it, so that the server itself answers what follows as it would (25P02, COMMIT
            // answered ROLLBACK) and the session is usable again after ROLLBACK.
            ch.write(PgMessages.query(ch.alloc(), "BEGIN"));
            ch.write(PgMessages.query(ch.alloc(), ABORT_SQL));
          }
          ch.flush();
          ch.config().setAutoRead(true);
          long ms = l.server().backendConnectTimeout().toMillis();
          ch.eventLoop()
              .schedule(
                  () -> {
                    if (ch.pipeline().get(Replay.class) != null) {
                      ch.close();
                      session.terminate(
                          SqlState.ADMIN_SHUTDOWN,
                          target.name()
                              + " did not re-create this session's prepared statements within "
                              + ms
                              + " ms");
                    }
                  },
                  ms,
                  java.util.concurrent.TimeUnit.MILLISECONDS);
        });
  }

  private static String userOf(PgSession s) {
    return s.userConfig().backendUser();
  }

  private static String passwordOf(PgSession s) {
    return s.userConfig().backendPassword();
  }

  /** Swallows the replies to the replayed Parse messages up to the ReadyForQuery, then rebinds. */
  private static final class Replay extends ChannelInboundHandlerAdapter
      implements PgStreamScanner.Listener {
    private final PgSession session;
    private final PgBackendConnection next;
    private final int statements;
    private final int expectedErrors;
    private final PgStreamScanner scanner = new PgStreamScanner(this);
    private int errors;
    private int ready;

    Replay(PgSession session, PgBackendConnection next, int statements, int expectedErrors) {
      this.session = session;
      this.next = next;
      this.statements = statements;
      this.expectedErrors = expectedErrors;
    }

    @Override
    public boolean onMessage(byte type, int length) {
      if (type == 'E') {
        errors++;
      }
      return true;
    }

    @Override
    public void onReadyForQuery(byte status) {
      ready++;
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
      ByteBuf buf = (ByteBuf) msg;
      try {
        scanner.scan(buf);
      } finally {
        buf.release();
      }
      if (ready == statements) {
        ctx.channel().config().setAutoRead(false);
        ctx.pipeline().remove(this);
        if (errors > expectedErrors) {
          log.warn(
              "[{}] {}: {} of {} statements replayed failed on {}",
              session.listener().name(),
              session,
              errors - expectedErrors,
              statements - expectedErrors * 2,
              next.node().name());
        }
        session.rebind(next);
      }
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
      session.terminate(
          SqlState.ADMIN_SHUTDOWN,
          next.node().name() + " closed the connection while this session was being moved there");
      ctx.fireChannelInactive();
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
      ctx.close();
    }
  }
}

package io.halo.proxy.pg;

import io.halo.proxy.pg.message.PgMessages;
import io.halo.proxy.transport.Transports;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoop;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** Forwards a client's cancel request to the backend connection of its session. */
final class PgCancel {

  private static final Logger log = LoggerFactory.getLogger(PgCancel.class);
  private static final int CONNECT_TIMEOUT_MS = 5_000;

  private PgCancel() {}

  /**
   * The cancel request of {@code session}'s client, from a connection on {@code loop}: a request
   * waiting in Halo is answered as cancelled (PgSession#cancel); else it goes to the backend.
   */
  static void forward(EventLoop loop, Transports transports, PgSession session) {
    session.cancel(() -> toBackend(loop, transports, session));
  }

  /** On the session's event loop: to the backend connection that runs its work, if any. */
  private static void toBackend(EventLoop loop, Transports transports, PgSession session) {
    PgSession.CancelTarget target = session.cancelTarget();
    if (target.processId() == 0) {
      return; // the session has no backend connection now, so nothing runs
    }
    transports
        .connector(loop)
        .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, CONNECT_TIMEOUT_MS)
        .handler(new ChannelInboundHandlerAdapter())
        .connect(target.address().host(), target.address().port())
        .addListener(
            f -> {
              if (!f.isSuccess()) {
                log.warn(
                    "cancel for {} could not reach backend {}: {}",
                    session,
                    session.backendName(),
                    f.cause().toString());
                return;
              }
              Channel ch = ((io.netty.channel.ChannelFuture) f).channel();
              ch.writeAndFlush(
                      PgMessages.cancelRequest(ch.alloc(), target.processId(), target.secret()))
                  .addListener(ChannelFutureListener.CLOSE);
              log.debug("cancel forwarded for {}", session);
            });
  }
}

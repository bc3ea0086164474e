package io.halo.proxy.session;

import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One exchange of Halo's own with a pooled backend connection that no session has (the reset after
 * a session, the check after idleness), judged once: the engine's subclass reads the replies and
 * calls {@link #judge}; a close, an error or {@link #TIMEOUT_MS} without a verdict fail it. The
 * handler leaves the pipeline before {@link #judged} runs. Event loop of the connection only.
 */
public abstract class PoolExchange extends ChannelInboundHandlerAdapter {

  private static final Logger log = LoggerFactory.getLogger(PoolExchange.class);

  /** Longest wait for the replies before the connection is judged lost. */
  public static final long TIMEOUT_MS = 5_000;

  private boolean judged;
  private ScheduledFuture<?> timeout;

  /**
   * Adds this handler to {@code ch}, sends {@code requests} (owned here) and starts the timer; the
   * connection reads again (a pooled connection may have been left with reading off).
   */
  protected final void start(Channel ch, Object... requests) {
    ch.pipeline().addLast("pool-exchange", this);
    for (Object r : requests) {
      ch.write(r);
    }
    ch.flush();
    ch.config().setAutoRead(true);
    timeout =
        ch.eventLoop()
            .schedule(
                () -> {
                  log.debug("no answer to {} within {} ms; closing {}", this, TIMEOUT_MS, ch);
                  judge(ch, false);
                },
                TIMEOUT_MS,
                TimeUnit.MILLISECONDS);
  }

  /** Whether the verdict is in (anything read after it is dropped). */
  protected final boolean isJudged() {
    return judged;
  }

  /** The verdict, once; the handler leaves the pipeline, then {@link #judged} runs. */
  protected final void judge(Channel ch, boolean ok) {
    if (judged) {
      return;
    }
    judged = true;
    if (timeout != null) {
      timeout.cancel(false);
    }
    if (ch.pipeline().context(this) != null) {
      ch.pipeline().remove(this);
    }
    judged(ch, ok);
  }

  /** The engine's answer to its caller. */
  protected abstract void judged(Channel ch, boolean ok);

  /** Reads one message of the replies (owned here: released by the caller of this method). */
  protected abstract void read(ChannelHandlerContext ctx, Object msg);

  @Override
  public final void channelRead(ChannelHandlerContext ctx, Object msg) {
    if (judged) {
      ReferenceCountUtil.release(msg); // nothing may follow the verdict
      return;
    }
    try {
      read(ctx, msg);
    } finally {
      ReferenceCountUtil.release(msg);
    }
  }

  @Override
  public void channelInactive(ChannelHandlerContext ctx) {
    judge(ctx.channel(), false);
    ctx.fireChannelInactive();
  }

  @Override
  public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
    judge(ctx.channel(), false);
    ctx.close();
  }
}

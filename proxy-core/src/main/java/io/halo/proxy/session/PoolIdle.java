package io.halo.proxy.session;

import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.ScheduledFuture;
import java.util.ArrayDeque;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The handler of a pooled backend connection (both engines, both pooled modes): while the
 * connection waits in the pool, anything from the server (its error on the way out) or its close
 * drops it from the pool; while a session has it ({@link #pooled} false, transaction mode keeps the
 * handler across transactions), messages pass on to the session's handlers.
 */
public final class PoolIdle extends ChannelInboundHandlerAdapter {
  /** The pool's list of idle connections, as this handler needs it. */
  public interface Waiting {
    /** Takes {@code ch} out; false when it was not in the list. */
    boolean remove(Channel ch);

    boolean isEmpty();
  }

  private final Waiting pool;
  private final AtomicInteger idleCount;
  private final Runnable emptied;

  /** Closes the connection after {@code idle_timeout}; cancelled when it leaves the pool. */
  public ScheduledFuture<?> timeout;

  /** The connection waits in the pool (else a session has it). */
  public boolean pooled = true;

  /** When it went back to the pool ({@link System#nanoTime()}). */
  public long since = System.nanoTime();

  /**
   * @param pool the idle list the connection is kept in
   * @param idleCount the pool's count of idle connections, kept with {@code pool}
   */
  public PoolIdle(Waiting pool, AtomicInteger idleCount) {
    this(pool, idleCount, null);
  }

  /**
   * @param emptied runs when the last connection leaves {@code pool} through this handler (the
   *     owner drops the empty list: keys are the clients' to choose), or null
   */
  public PoolIdle(ArrayDeque<Channel> pool, AtomicInteger idleCount, Runnable emptied) {
    this(
        new Waiting() {
          @Override
          public boolean remove(Channel ch) {
            return pool.remove(ch);
          }

          @Override
          public boolean isEmpty() {
            return pool.isEmpty();
          }
        },
        idleCount,
        emptied);
  }

  private PoolIdle(Waiting pool, AtomicInteger idleCount, Runnable emptied) {
    this.pool = pool;
    this.idleCount = idleCount;
    this.emptied = emptied;
  }

  /** Takes {@code ch} out of the pool (it is closing). */
  public void leave(Channel ch) {
    if (pool.remove(ch)) {
      idleCount.decrementAndGet();
      if (pool.isEmpty() && emptied != null) {
        emptied.run();
      }
    }
  }

  @Override
  public void handlerRemoved(ChannelHandlerContext ctx) {
    if (timeout != null) {
      timeout.cancel(false); // taken by a session, or closed: no timer left behind
    }
  }

  @Override
  public void channelRead(ChannelHandlerContext ctx, Object msg) {
    if (!pooled) {
      ctx.fireChannelRead(msg);
      return;
    }
    ReferenceCountUtil.release(msg); // an error on its way out: not reused
    leave(ctx.channel());
    ctx.close();
  }

  @Override
  public void channelInactive(ChannelHandlerContext ctx) {
    leave(ctx.channel());
    ctx.fireChannelInactive();
  }

  @Override
  public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
    if (!pooled) {
      ctx.fireExceptionCaught(cause);
      return;
    }
    leave(ctx.channel());
    ctx.close();
  }
}

package io.halo.proxy.log;

import ch.qos.logback.classic.AsyncAppender;
import ch.qos.logback.classic.spi.ILoggingEvent;
import java.util.concurrent.atomic.LongAdder;

/**
 * Logback's {@link AsyncAppender} that never blocks the caller (Halo logs from Netty event loops)
 * and counts what it drops: when the queue is full, because stderr's reader stalls or a flood of
 * events outruns it, an event is dropped and counted instead of waiting. The count is the metric
 * {@code halo_log_events_dropped_total}.
 */
public final class DroppingAsyncAppender extends AsyncAppender {

  private static final LongAdder DROPPED = new LongAdder();

  public DroppingAsyncAppender() {
    setNeverBlock(true);
  }

  /** The instance started last (one per logging configuration). */
  private static volatile DroppingAsyncAppender current;

  @Override
  public void start() {
    super.start();
    current = this;
  }

  /**
   * Waits, at most {@code maxMillis}, until the events logged so far have been written: for a
   * command that prints to stdout after starting Halo ({@code halo demo}), so that its text does
   * not interleave with log lines still queued. Never call it on an event loop.
   */
  public static void awaitWritten(long maxMillis) throws InterruptedException {
    DroppingAsyncAppender a = current;
    long deadline =
        System.nanoTime() + java.util.concurrent.TimeUnit.MILLISECONDS.toNanos(maxMillis);
    while (a != null && a.isStarted() && a.getNumberOfElementsInQueue() > 0) {
      if (System.nanoTime() - deadline >= 0) {
        return;
      }
      Thread.sleep(5);
    }
    Thread.sleep(20); // the last event taken from the queue is being written
  }

  /** Events dropped since start, over every instance. */
  public static long dropped() {
    return DROPPED.sum();
  }

  @Override
  protected void append(ILoggingEvent event) {
    if (isStarted()) {
      int free = getRemainingCapacity();
      // super.append drops silently in two cases: a full queue, and below the discarding
      // threshold an event of level INFO or lower. Both are counted.
      if (free == 0 || (free < getDiscardingThreshold() && isDiscardable(event))) {
        DROPPED.increment();
      }
    }
    super.append(event);
  }
}

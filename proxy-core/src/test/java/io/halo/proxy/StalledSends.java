package io.halo.proxy;

import java.io.IOException;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A client that sends requests without reading its replies: a daemon thread sends batches until its
 * socket is closed, and {@link #untilStalled} waits until the sends stop being taken.
 */
public final class StalledSends {

  /** Sends one batch of requests (blocking while the peer does not read). */
  public interface Batch {
    void send() throws IOException;
  }

  private StalledSends() {}

  /**
   * Starts sending {@code batch} (of {@code perBatch} requests) over and over, and returns the
   * number of requests sent once no send has completed for 3 s; fails when the sends still go on
   * after 20 s (the peer reads the client as fast as it can answer, holding what it cannot send).
   * The sender ends when the caller closes the socket. Netty's leak tracking is off meanwhile: the
   * build's paranoid level records a stack trace per buffer touch, which slows the peer's event
   * loop so much that its sends would stall for that alone.
   */
  public static long untilStalled(Batch batch, int perBatch) throws InterruptedException {
    io.netty.util.ResourceLeakDetector.Level level = io.netty.util.ResourceLeakDetector.getLevel();
    io.netty.util.ResourceLeakDetector.setLevel(io.netty.util.ResourceLeakDetector.Level.DISABLED);
    try {
      return sendUntilStalled(batch, perBatch);
    } finally {
      io.netty.util.ResourceLeakDetector.setLevel(level);
    }
  }

  private static long sendUntilStalled(Batch batch, int perBatch) throws InterruptedException {
    AtomicLong sent = new AtomicLong();
    Thread sender =
        new Thread(
            () -> {
              try {
                while (true) {
                  batch.send();
                  sent.addAndGet(perBatch);
                }
              } catch (IOException closed) {
                // the test closed the socket
              }
            },
            "never-reads");
    sender.setDaemon(true);
    sender.start();
    long deadline = System.nanoTime() + 20_000_000_000L;
    long last = -1;
    long since = System.nanoTime();
    while (System.nanoTime() < deadline) {
      long now = sent.get();
      if (now != last) {
        last = now;
        since = System.nanoTime();
      } else if (System.nanoTime() - since > 3_000_000_000L) {
        return now;
      }
      Thread.sleep(100);
    }
    throw new AssertionError("the client's sends never stalled: " + last + " requests sent");
  }
}

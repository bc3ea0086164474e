package io.halo.proxy.transport;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * Watches the TLS files of every listener for changes, on its own daemon thread (reading files
 * blocks; the event loops never do it), and swaps in the new certificate without a restart. The
 * thread starts with the first listener that has TLS.
 */
public final class TlsReloader implements AutoCloseable {

  /** How often the files' modification times and sizes are compared: a few stat calls. */
  public static final Duration DEFAULT_INTERVAL = Duration.ofSeconds(1);

  private final Duration interval;
  private final List<ServerTls> watched = new CopyOnWriteArrayList<>();
  private ScheduledExecutorService thread;

  public TlsReloader(Duration interval) {
    this.interval = interval;
  }

  /** Watches {@code tls} (a listener without TLS is ignored). */
  public synchronized void watch(ServerTls tls) {
    if (!tls.enabled()) {
      return;
    }
    watched.add(tls);
    if (thread == null) {
      thread =
          Executors.newSingleThreadScheduledExecutor(
              r -> {
                Thread t = new Thread(r, "halo-tls-reload");
                t.setDaemon(true);
                return t;
              });
      thread.scheduleWithFixedDelay(
          this::checkAll, interval.toMillis(), interval.toMillis(), TimeUnit.MILLISECONDS);
    }
  }

  /** Checks every listener now (also what the periodic check runs). */
  public void checkAll() {
    for (ServerTls tls : watched) {
      tls.reloadIfChanged();
    }
  }

  @Override
  public synchronized void close() {
    if (thread != null) {
      thread.shutdownNow();
    }
  }
}

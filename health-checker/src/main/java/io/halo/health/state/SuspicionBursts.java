package io.halo.health.state;

import io.halo.health.probe.Monitor;
import io.halo.health.probe.ProbeResult;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Future;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The health checker's answer to a hint from the data path ({@link ClusterHealth#suspect}): a
 * relay's connection to a backend was reset, or a connect to it was refused. The backend is probed
 * at once, on a fresh connection (the probe pool's connection may be dead without the pool knowing,
 * and a new one through the pool waits its whole timeout even when the server refuses at once),
 * and, while probes keep failing, again every {@value #SPACING_MS} ms instead of every {@code
 * monitor.interval}, until it is DOWN or answers; once it is DOWN the other backends are probed at
 * once, so that the standbys' confirmation (their WAL receivers or IO threads lost the primary too)
 * is fresh. The rules do not change: {@code monitor.failures} failed probes in a row make a backend
 * DOWN, and a failover still needs the standbys' confirmation; only the waiting between probes
 * goes. At most one burst per backend at a time; probes run on the probe scheduler, results are
 * applied by the cluster's health writer.
 */
final class SuspicionBursts {

  private static final Logger log = LoggerFactory.getLogger(SuspicionBursts.class);

  /** Spacing of the probes of a burst. */
  static final long SPACING_MS = 50;

  /** What the bursts need of the cluster's single health writer. */
  interface Writer {
    /** Runs {@code task} on the writer thread (a failed future when the writer is stopping). */
    Future<?> submit(Runnable task);

    /** Writer thread: feeds one probe result. */
    void apply(ProbeResult r);

    /** Writer thread: whether {@code backend} is DOWN now. */
    boolean down(String backend);
  }

  private final String cluster;
  private final Map<String, Monitor> monitors;
  private final ScheduledExecutorService probes;
  private final int failures;
  private final Writer writer;

  /** Backends whose burst runs now, with what it will say. */
  private final Map<String, CompletableFuture<Boolean>> running = new ConcurrentHashMap<>();

  private final AtomicLong started = new AtomicLong();

  /** Told the backends under suspicion whenever that set changes (any thread; must not block). */
  private volatile java.util.function.Consumer<java.util.Set<String>> watcher = s -> {};

  SuspicionBursts(
      String cluster,
      Map<String, Monitor> monitors,
      ScheduledExecutorService probes,
      int failures,
      Writer writer) {
    this.cluster = cluster;
    this.monitors = monitors;
    this.probes = probes;
    this.failures = failures;
    this.writer = writer;
  }

  /**
   * Starts a burst on {@code backend}, or joins the one that runs. Any thread; never blocks.
   *
   * @return completes, on the health writer, with true when a probe of the burst answered, false
   *     when the backend went DOWN (or kept failing), null when unknown (Halo is stopping, or no
   *     such backend)
   */
  CompletableFuture<Boolean> suspect(String backend) {
    Monitor m = monitors.get(backend);
    if (m == null) {
      return CompletableFuture.completedFuture(null);
    }
    CompletableFuture<Boolean> mine = new CompletableFuture<>();
    CompletableFuture<Boolean> other = running.putIfAbsent(backend, mine);
    if (other != null) {
      return other;
    }
    started.incrementAndGet();
    // The probe scheduler's queue takes a lock, and so does the fleet's view publisher, which a
    // caller on a Netty event loop must not wait for (BlockHound saw one parked there under load):
    // the common pool's submission is lock-free and hands the burst on.
    try {
      java.util.concurrent.ForkJoinPool.commonPool()
          .execute(
              () -> {
                watcher.accept(java.util.Set.copyOf(running.keySet()));
                try {
                  probes.execute(() -> probe(m, failures));
                } catch (RejectedExecutionException stopped) {
                  over(backend, null);
                }
              });
    } catch (RejectedExecutionException stopped) {
      over(backend, null);
    }
    return mine;
  }

  /**
   * Registers {@code w}, told the set of backends whose burst runs each time it changes (a fleet's
   * follower publishes it, so that the leader starts its own burst at once). Never blocks.
   */
  void watch(java.util.function.Consumer<java.util.Set<String>> w) {
    watcher = w;
  }

  /** How many bursts the data path started. */
  long started() {
    return started.get();
  }

  /** Probe scheduler: one probe of a burst; the writer decides whether another follows. */
  private void probe(Monitor m, int left) {
    ProbeResult r = m.probeFresh();
    Future<?> applied =
        writer.submit(
            () -> {
              boolean wasDown = writer.down(m.backend());
              writer.apply(r);
              boolean down = writer.down(m.backend());
              if (r.ok()) {
                over(m.backend(), true);
              } else if (down || left <= 1) {
                over(m.backend(), false);
                // Only when this burst found it down: the refresh is for the confirmation of the
                // failover that starts now. A login retrying on a backend already down starts a
                // burst per retry; probing every other backend each time would load the standby
                // being promoted.
                if (down && !wasDown) {
                  log.info(
                      "[{}] {} is down after a burst of probes the data path asked for ({});"
                          + " probing the others now",
                      cluster,
                      m.backend(),
                      r.error());
                  refreshOthers(m.backend());
                }
              } else {
                schedule(m, left - 1);
              }
            });
    if (applied instanceof CompletableFuture<?> c && c.isCompletedExceptionally()) {
      over(m.backend(), null); // the writer is stopping
    }
  }

  private void schedule(Monitor m, int left) {
    try {
      probes.schedule(() -> probe(m, left), SPACING_MS, TimeUnit.MILLISECONDS);
    } catch (RejectedExecutionException stopped) {
      over(m.backend(), null);
    }
  }

  /** The burst on {@code backend} ended: it answered (true), is down (false) or unknown (null). */
  private void over(String backend, Boolean answered) {
    CompletableFuture<Boolean> f = running.remove(backend);
    if (f != null) {
      watcher.accept(java.util.Set.copyOf(running.keySet()));
      f.complete(answered);
    }
  }

  /** Writer thread: one probe of every backend but {@code except}, now. */
  private void refreshOthers(String except) {
    for (Monitor o : monitors.values()) {
      if (o.backend().equals(except)) {
        continue;
      }
      try {
        probes.execute(
            () -> {
              ProbeResult r = o.probe();
              writer.submit(() -> writer.apply(r));
            });
      } catch (RejectedExecutionException stopped) {
        return;
      }
    }
  }
}

package io.halo.health.state;

import io.halo.conf.model.BackendConfig;
import io.halo.conf.model.BackendRole;
import io.halo.conf.model.ClusterConfig;
import io.halo.conf.model.FailoverConfig;
import io.halo.health.probe.Monitor;
import io.halo.health.probe.ProbeResult;
import java.time.Clock;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Future;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The health of one cluster and the only writer of its {@link Topology}.
 *
 * <p>Design memo. Monitors probe on the shared probe scheduler; every result is handed to this
 * cluster's single writer thread, which updates the per-backend trackers, recomputes the
 * topology and publishes it in an {@link AtomicReference}. Readers (routing, on event loops) take
 * one snapshot per decision and never lock. Whoever changes the topology — probes, the failover
 * coordinator, an operator — does it on the writer thread ({@link #submit}), so transitions never
 * race. Listeners run on the writer thread and must not block.
 *
 * <p>The primary is Halo's decision, not a probe's: it changes only through
 * {@link #promote} (the coordinator) or, in {@code failover.mode: observe}, when exactly one
 * healthy backend reports itself primary. Any other backend reporting primary is flagged
 * split-brain and gets no traffic.
 */
public final class ClusterHealth implements TopologySource, AutoCloseable {

  private static final Logger log = LoggerFactory.getLogger(ClusterHealth.class);
  private static final int WRITER_QUEUE = 10_000;

  private final ClusterConfig config;
  private final Clock clock;
  private final ScheduledExecutorService probes;
  private final ExecutorService writer;
  private final Map<String, Monitor> monitors = new LinkedHashMap<>();
  private final Map<String, Tracker> trackers = new LinkedHashMap<>();
  private final AtomicReference<Topology> topology;
  private final AtomicReference<List<BackendStatus>> statuses = new AtomicReference<>(List.of());
  private final List<Consumer<Topology>> listeners = new CopyOnWriteArrayList<>();
  private final List<Runnable> afterChange = new CopyOnWriteArrayList<>();
  private final List<ScheduledFuture<?>> schedules = new ArrayList<>();
  private String primary;
  private long epoch = 1;
  private boolean failoverInProgress;

  /** Writer-thread state of one backend. */
  private static final class Tracker {
    final BackendConfig config;
    final FailureDetector detector;
    ProbeResult last;
    ProbeResult lastGood;
    NodeRole role;
    AdminState admin = AdminState.ENABLED;
    boolean fencedByFailover;
    long lagBytes = -1;

    Tracker(BackendConfig config, FailureDetector detector) {
      this.config = config;
      this.detector = detector;
      this.role = config.role() == BackendRole.PRIMARY ? NodeRole.PRIMARY : NodeRole.STANDBY;
    }
  }

  public ClusterHealth(ClusterConfig config, ScheduledExecutorService probes, Clock clock) {
    this.config = Objects.requireNonNull(config, "config");
    this.probes = Objects.requireNonNull(probes, "probes");
    this.clock = Objects.requireNonNull(clock, "clock");
    // Bounded: probes arrive at most once per backend per interval and are applied in microseconds;
    // a full queue means the writer is stuck, and a rejected probe is then the least of the problems.
    this.writer =
        new java.util.concurrent.ThreadPoolExecutor(
            1, 1, 0, TimeUnit.MILLISECONDS, new java.util.concurrent.ArrayBlockingQueue<>(WRITER_QUEUE),
            r -> {
              Thread t = new Thread(r, "halo-health-" + config.name());
              t.setDaemon(true);
              return t;
            });
    FailoverConfig failover = config.failover();
    for (BackendConfig b : config.backends()) {
      trackers.put(
          b.name(),
          new Tracker(
              b,
              new FailureDetector(
                  config.monitor().failures(), config.monitor().successes(),
                  config.monitor().timeout().dividedBy(2), failover.maxLagBytes())));
    }
    this.primary = config.configuredPrimary().name();
    Topology initial = new Topology(config.name(), epoch, primary, nodes(), false);
    this.topology = new AtomicReference<>(initial);
    this.statuses.set(buildStatuses(initial.backends()));
  }

  public ClusterConfig config() {
    return config;
  }

  /** Starts one monitor per backend, probing every {@code monitor.interval}. */
  public void start() {
    long every = config.monitor().interval().toMillis();
    for (BackendConfig b : config.backends()) {
      Monitor m = new Monitor(config.name(), b.name(), b.address(), config.monitor(),
          io.halo.health.probe.EngineProbe.of(config.engine(), clock), clock);
      monitors.put(b.name(), m);
      schedules.add(
          probes.scheduleWithFixedDelay(
              () -> {
                ProbeResult r = m.probe();
                submit(() -> apply(r));
              },
              0, every, TimeUnit.MILLISECONDS));
    }
    log.info("[{}] monitoring {} backend(s) every {} ms", config.name(), monitors.size(), every);
  }

  public Monitor monitor(String backend) {
    Monitor m = monitors.get(backend);
    if (m == null) {
      throw new IllegalArgumentException("cluster " + config.name() + " has no backend '" + backend + "'");
    }
    return m;
  }

  @Override
  public Topology current() {
    return topology.get();
  }

  public List<BackendStatus> statuses() {
    return statuses.get();
  }

  /** Called with every new topology, on the writer thread; must not block. */
  public void onTopology(Consumer<Topology> listener) {
    listeners.add(listener);
  }

  /** Called after every probe and change, on the writer thread (the coordinator's hook). */
  public void afterChange(Runnable hook) {
    afterChange.add(hook);
  }

  /** Runs {@code task} on the writer thread. */
  public Future<?> submit(Runnable task) {
    try {
      return writer.submit(
          () -> {
            try {
              task.run();
            } catch (RuntimeException e) {
              log.error("[{}] health writer task failed", config.name(), e);
              throw e;
            }
          });
    } catch (RejectedExecutionException e) {
      log.error("[{}] health writer queue full ({} tasks) or stopped; dropping a task", config.name(), WRITER_QUEUE);
      return java.util.concurrent.CompletableFuture.failedFuture(e);
    }
  }

  /** Runs {@code task} on the writer thread and waits for its result (bounded). */
  public <T> T call(java.util.concurrent.Callable<T> task) {
    Future<T> f;
    try {
      f = writer.submit(task);
    } catch (RejectedExecutionException e) {
      throw new IllegalStateException("cluster " + config.name() + " health is stopped", e);
    }
    try {
      return f.get(10, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted while waiting for the health writer", e);
    } catch (java.util.concurrent.ExecutionException e) {
      if (e.getCause() instanceof RuntimeException r) {
        throw r;
      }
      throw new IllegalStateException(e.getCause().getMessage(), e.getCause());
    } catch (java.util.concurrent.TimeoutException e) {
      throw new IllegalStateException("health writer of " + config.name() + " did not answer within 10 s", e);
    }
  }

  /** Runs {@code task} on the writer thread and waits for it (bounded). */
  public void run(Runnable task) {
    call(() -> {
      task.run();
      return null;
    });
  }

  // ---------------------------------------------------------------- writer-thread operations

  /** Feeds one probe result. Writer thread only (tests call it through {@link #submit}). */
  public void apply(ProbeResult r) {
    Tracker t = trackers.get(r.backend());
    if (t == null) {
      return;
    }
    t.last = r;
    if (r.ok()) {
      t.lastGood = r;
      t.role = r.role();
    }
    t.lagBytes = lagOf(t);
    t.detector.next(r, t.lagBytes);
    if (t.fencedByFailover && r.ok() && rejoinedAsStandby(t)) {
      t.fencedByFailover = false;
      log.info("[{}] {} rejoined as a standby of {}: fence lifted", config.name(), t.config.name(), primary);
    }
    discoverAtStart();
    observeRoleChange();
    publish();
  }

  /**
   * At start the config's primary is only a hint: after a failover the config may be older than
   * the servers. Until Halo has changed the primary itself (epoch 1), if the configured primary
   * answers as a standby and exactly one other backend answers as primary, follow the servers.
   */
  private void discoverAtStart() {
    if (epoch != 1 || primary == null) {
      return;
    }
    Tracker configured = trackers.get(primary);
    if (configured.last == null || !configured.last.ok() || configured.last.role() != NodeRole.STANDBY) {
      return;
    }
    List<Tracker> claiming =
        trackers.values().stream()
            .filter(t -> t.last != null && t.last.ok() && t.last.role() == NodeRole.PRIMARY)
            .toList();
    if (claiming.size() == 1) {
      String actual = claiming.get(0).config.name();
      log.warn("[{}] the config names {} primary, but {} is a standby and {} is the primary: following the servers "
          + "(update the config)", config.name(), primary, primary, actual);
      trackers.get(primary).role = NodeRole.STANDBY;
      primary = actual;
    }
  }

  /** Makes {@code newPrimary} the primary (epoch + 1); the old one stays fenced. Writer thread. */
  public void promote(String newPrimary) {
    Tracker n = trackers.get(newPrimary);
    if (n == null) {
      throw new IllegalArgumentException("no backend " + newPrimary);
    }
    Tracker old = primary == null ? null : trackers.get(primary);
    if (old != null && old != n) {
      old.fencedByFailover = true;
    }
    n.role = NodeRole.PRIMARY;
    n.fencedByFailover = false;
    n.detector.markReachable(); // promotion just reached it; earlier failed probes are history
    primary = newPrimary;
    epoch++;
    failoverInProgress = false;
    log.info("[{}] primary is now {} (epoch {})", config.name(), newPrimary, epoch);
    publish();
  }

  /** Fences a backend (no traffic) until an operator enables it or it rejoins as standby. */
  public void fence(String backend) {
    Tracker t = tracker(backend);
    t.fencedByFailover = true;
    publish();
  }

  public void failoverInProgress(boolean on) {
    failoverInProgress = on;
    publish();
  }

  public void admin(String backend, AdminState state) {
    Tracker t = tracker(backend);
    t.admin = state;
    if (state == AdminState.ENABLED) {
      t.fencedByFailover = false;
    }
    publish();
  }

  private Tracker tracker(String backend) {
    Tracker t = trackers.get(backend);
    if (t == null) {
      throw new IllegalArgumentException("cluster " + config.name() + " has no backend '" + backend + "'");
    }
    return t;
  }

  /** The primary's latest successful probe, or null. Writer thread. */
  public ProbeResult lastGoodProbe(String backend) {
    Tracker t = trackers.get(backend);
    return t == null ? null : t.lastGood;
  }

  // ---------------------------------------------------------------- derivation

  private long lagOf(Tracker t) {
    if (t.config.name().equals(primary)) {
      return 0;
    }
    Tracker p = primary == null ? null : trackers.get(primary);
    if (p == null || p.lastGood == null || t.lastGood == null || t.lastGood.walPosition() < 0) {
      return -1;
    }
    return Math.max(0, p.lastGood.walPosition() - t.lastGood.walPosition());
  }

  private boolean rejoinedAsStandby(Tracker t) {
    ProbeResult.Upstream up = t.last.upstream();
    Tracker p = primary == null ? null : trackers.get(primary);
    return t.last.role() == NodeRole.STANDBY && up != null && up.streaming() && p != null
        && up.port() == p.config.address().port();
  }

  private void observeRoleChange() {
    if (config.failover().mode() != FailoverConfig.Mode.OBSERVE) {
      return;
    }
    List<Tracker> claiming =
        trackers.values().stream()
            .filter(t -> t.last != null && t.last.ok() && t.last.role() == NodeRole.PRIMARY)
            .toList();
    if (claiming.size() == 1 && !claiming.get(0).config.name().equals(primary)) {
      String was = primary;
      String now = claiming.get(0).config.name();
      primary = now;
      epoch++;
      log.info("[{}] observed a new primary: {} (was {}), epoch {}", config.name(), now, was, epoch);
    }
  }

  private NodeState stateOf(Tracker t) {
    if (t.admin == AdminState.DISABLED || t.fencedByFailover) {
      return NodeState.FENCED;
    }
    return t.detector.state();
  }

  private boolean splitBrain(Tracker t) {
    return t.last != null && t.last.ok() && t.last.role() == NodeRole.PRIMARY
        && !t.config.name().equals(primary);
  }

  private List<BackendNode> nodes() {
    List<BackendNode> out = new ArrayList<>();
    for (Tracker t : trackers.values()) {
      // A split-brain backend claims PRIMARY but is not Halo's primary: route nothing to it.
      NodeRole role = t.config.name().equals(primary) ? NodeRole.PRIMARY
          : t.role == NodeRole.PRIMARY ? NodeRole.UNKNOWN : t.role;
      if (t.config.role() == BackendRole.COLD && t.lastGood == null) {
        role = NodeRole.UNKNOWN;
      }
      out.add(new BackendNode(
          t.config.name(), t.config.address(), role, stateOf(t), t.config.priority(),
          t.admin == AdminState.DRAINING));
    }
    return out;
  }

  private List<BackendStatus> buildStatuses(List<BackendNode> nodes) {
    List<BackendStatus> out = new ArrayList<>();
    int i = 0;
    for (Tracker t : trackers.values()) {
      out.add(new BackendStatus(
          nodes.get(i++), t.admin, t.last, t.detector.failedInRow(), t.detector.goodInRow(), t.lagBytes,
          splitBrain(t)));
    }
    return List.copyOf(out);
  }

  private void publish() {
    List<BackendNode> nodes = nodes();
    Topology next = new Topology(config.name(), epoch, primary, nodes, failoverInProgress);
    statuses.set(buildStatuses(nodes));
    Topology prev = topology.getAndSet(next);
    if (!next.equals(prev)) {
      for (BackendStatus s : statuses.get()) {
        if (s.splitBrain()) {
          log.warn("[{}] split brain: {} reports itself primary but {} is the primary; it gets no traffic",
              config.name(), s.node().name(), primary);
        }
      }
      for (Consumer<Topology> l : listeners) {
        try {
          l.accept(next);
        } catch (RuntimeException e) {
          log.error("[{}] topology listener failed", config.name(), e);
        }
      }
    }
    for (Runnable hook : afterChange) {
      try {
        hook.run();
      } catch (RuntimeException e) {
        log.error("[{}] health hook failed", config.name(), e);
      }
    }
  }

  @Override
  public void close() {
    schedules.forEach(s -> s.cancel(true));
    writer.shutdownNow();
    monitors.values().forEach(Monitor::close);
  }
}

package io.halo.health.state;

import io.halo.conf.model.BackendConfig;
import io.halo.conf.model.BackendRole;
import io.halo.conf.model.ClusterConfig;
import io.halo.conf.model.FailoverConfig;
import io.halo.health.failover.FailoverReport;
import io.halo.health.probe.Monitor;
import io.halo.health.probe.ProbeResult;
import io.halo.health.store.SavedState;
import io.halo.health.store.StateInfo;
import io.halo.health.store.StateStore;
import java.io.IOException;
import java.time.Clock;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
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
 * cluster's single writer thread, which updates the per-backend trackers, recomputes the topology
 * and publishes it with the statuses it came from in one {@link AtomicReference}. Readers (routing,
 * on event loops) take one snapshot per decision and never lock. Whoever changes the topology —
 * probes, the failover coordinator, an operator — does it on the writer thread ({@link #submit}),
 * so transitions never race. Listeners run on the writer thread and must not block.
 *
 * <p>The primary is Halo's decision, not a probe's: it changes only through {@link #promote} (the
 * coordinator) or, in {@code failover.mode: observe}, when exactly one healthy backend reports
 * itself primary. Any other backend reporting primary is flagged split-brain and gets no traffic.
 *
 * <p>Decisions survive a restart. Every change of epoch, primary, fence or operator state, and
 * every finished failover report, is saved to the {@link StateStore} before the topology that
 * routes by it is published. A change of primary or epoch that cannot be saved (an I/O or ZooKeeper
 * error, an instance that no longer leads) is undone and never published ({@link #decide}); a fence
 * or operator state that cannot be saved still applies here (it only takes traffic away) and is
 * saved with the next change. At start the saved state overrules the config, and the first probe of
 * every backend is reconciled with it ({@link #reconcile}): a backend that claims to be primary on
 * an older PostgreSQL timeline (or a smaller MariaDB GTID position) than another, or that the saved
 * state fenced, is never routed, whatever the config says. New writes wait (bounded, as in a
 * failover) until that first round of probes is in.
 *
 * <p>Size: the single writer of a cluster's health state (statuses, topology, operator states,
 * fences, saved and shared state, start-up reconciliation) is one state machine on one thread; its
 * pieces are events of that machine.
 */
public final class ClusterHealth implements TopologySource, AutoCloseable {

  private static final Logger log = LoggerFactory.getLogger(ClusterHealth.class);
  private static final int WRITER_QUEUE = 10_000;

  /** Finished failover reports kept in the saved state. */
  private static final int SAVED_REPORTS = 10;

  private final ClusterConfig config;

  /** The monitor settings in force: the config's, with the credentials of the last reload. */
  private volatile io.halo.conf.model.MonitorConfig monitorConfig;

  private final Clock clock;
  private final ScheduledExecutorService probes;
  private final ExecutorService writer;
  private final Map<String, Monitor> monitors = new LinkedHashMap<>();
  private final Map<String, Tracker> trackers = new LinkedHashMap<>();

  /** The topology and the statuses it was computed from, published together (one reference). */
  private final AtomicReference<View> view;

  private final List<Consumer<Topology>> listeners = new CopyOnWriteArrayList<>();
  private final List<Runnable> afterChange = new CopyOnWriteArrayList<>();
  private final List<ScheduledFuture<?>> schedules = new ArrayList<>();

  /** The data path's suspicions: bursts of fresh probes. */
  private final SuspicionBursts bursts;

  private final StateStore store;
  private final AtomicReference<StateInfo> stateInfo = new AtomicReference<>(StateInfo.NONE);
  private final List<FailoverReport> restoredReports;
  private volatile Consumer<List<FailoverReport>> sharedReports = r -> {};
  private String primary;

  /**
   * Writer thread: when the primary last changed. A probe that began before it describes the old
   * topology (the old primary was still primary then): it is not evidence of a split brain.
   */
  private java.time.Instant primarySince = java.time.Instant.MIN;

  private long epoch = 1;
  private boolean failoverInProgress;

  /** Writer thread: the reports in the saved state, oldest first. */
  private final List<FailoverReport> savedReports = new ArrayList<>();

  /** Writer thread: the latest state saved (or loaded); null before the first. */
  private SavedState lastSaved;

  private String saveError;
  private String overruled;

  /**
   * Writer thread: a failover that stopped after its promotion was sent, until an operator decides
   * (a failover, or enabling its old primary); saved, so that a restart or a new fleet leader does
   * not promote again on top of it. Null otherwise.
   */
  private SavedState.Unresolved unresolved;

  /** Writer thread: from start until every backend has answered once (or a deadline). */
  private boolean reconciling;

  /**
   * Writer thread: the start-up deadline passed; a reconciliation whose decision could not be saved
   * is tried again at the next probe without waiting for backends that never answered.
   */
  private boolean reconcileDeadline;

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

  /** A cluster whose decisions are not kept across restarts (tests, embedded use). */
  public ClusterHealth(ClusterConfig config, ScheduledExecutorService probes, Clock clock) {
    this(config, probes, clock, StateStore.none());
  }

  /**
   * A cluster that starts from the state saved in {@code store}, if any.
   *
   * @throws IllegalStateException the saved state cannot be read (Halo must not guess)
   */
  public ClusterHealth(
      ClusterConfig config, ScheduledExecutorService probes, Clock clock, StateStore store) {
    this.config = Objects.requireNonNull(config, "config");
    this.monitorConfig = config.monitor();
    this.store = Objects.requireNonNull(store, "store");
    this.probes = Objects.requireNonNull(probes, "probes");
    this.clock = Objects.requireNonNull(clock, "clock");
    // Bounded: probes arrive at most once per backend per interval and are applied in microseconds;
    // a full queue means the writer is stuck, and a rejected probe is then the least of the
    // problems.
    this.writer =
        new java.util.concurrent.ThreadPoolExecutor(
            1,
            1,
            0,
            TimeUnit.MILLISECONDS,
            new java.util.concurrent.ArrayBlockingQueue<>(WRITER_QUEUE),
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
    this.bursts =
        new SuspicionBursts(
            config.name(),
            monitors,
            probes,
            config.monitor().failures(),
            new SuspicionBursts.Writer() {
              @Override
              public Future<?> submit(Runnable task) {
                return ClusterHealth.this.submit(task);
              }

              @Override
              public void apply(ProbeResult r) {
                ClusterHealth.this.apply(r);
              }

              @Override
              public boolean down(String backend) {
                return probedDown(backend);
              }
            });
    this.primary = config.configuredPrimary().name();
    SavedState saved;
    try {
      saved = store.load(config.name()).orElse(null);
    } catch (IOException e) {
      throw new IllegalStateException(
          "cluster " + config.name() + ": cannot read its saved state: " + e.getMessage(), e);
    }
    this.restoredReports = saved == null ? List.of() : saved.reports();
    if (saved != null) {
      restore(saved);
    }
    publishStateInfo();
    Topology initial = new Topology(config.name(), epoch, primary, nodes(), false);
    this.view = new AtomicReference<>(new View(initial, buildStatuses(initial.backends())));
  }

  /** The monitor settings in force (credentials as the last reload left them). */
  public io.halo.conf.model.MonitorConfig monitor() {
    return monitorConfig;
  }

  /**
   * Logs in once to {@code backend} with {@code user} and {@code password}, outside the probe pool
   * (a reload checks new monitor credentials before it takes them). Blocks up to the monitor
   * timeout: not on the writer thread.
   *
   * @return null when the login worked, else why not
   */
  public String tryMonitorLogin(String backend, String user, String password) {
    Monitor m = monitors.get(backend);
    return m == null ? "no monitored backend " + backend : m.tryLogin(user, password);
  }

  /**
   * Takes new monitor credentials (a config reload): probes, actions and a demoted MySQL primary's
   * replication log in with them from now on.
   */
  public void monitorCredentials(String user, String password) {
    monitorConfig = monitorConfig.withLogin(user, password);
    submit(() -> monitors.values().forEach(x -> x.credentials(user, password)));
  }

  public ClusterConfig config() {
    return config;
  }

  /**
   * The saved state overrules the config: its epoch, primary, fences and operator states.
   * Constructor only.
   */
  private void restore(SavedState saved) {
    savedReports.addAll(saved.reports());
    if (saved.primary() != null && !trackers.containsKey(saved.primary())) {
      log.warn(
          "[{}] the saved state ({}) names {} primary, which is no longer a backend in the config: starting "
              + "from the config",
          config.name(),
          store.location(),
          saved.primary());
      return;
    }
    String configured = primary;
    epoch = saved.epoch();
    primary = saved.primary();
    unresolved = saved.unresolved();
    lastSaved = saved;
    for (String f : saved.fenced()) {
      Tracker t = trackers.get(f);
      if (t != null) {
        t.fencedByFailover = true;
      }
    }
    saved
        .admin()
        .forEach(
            (name, state) -> {
              Tracker t = trackers.get(name);
              if (t != null) {
                t.admin = AdminState.valueOf(state);
              }
            });
    if (primary != null) {
      trackers.get(primary).role = NodeRole.PRIMARY;
    }
    log.info(
        "[{}] restored epoch {} from {} (saved {}): primary {}{}",
        config.name(),
        epoch,
        store.location(),
        saved.savedAt(),
        primary,
        saved.fenced().isEmpty() ? "" : ", fenced " + saved.fenced());
    if (!Objects.equals(primary, configured)) {
      overruled =
          "the config names "
              + configured
              + " primary, but the saved state (epoch "
              + epoch
              + ", "
              + saved.savedAt()
              + ") names "
              + primary
              + (saved.fenced().contains(configured)
                  ? "; "
                      + configured
                      + " was fenced by a failover and gets no traffic until it rejoins as a standby"
                  : "");
      log.warn("[{}] {}", config.name(), overruled);
    }
  }

  /** Starts one monitor per backend, probing every {@code monitor.interval}. */
  public void start() {
    store.watch(s -> submit(() -> adopt(s)));
    long every = config.monitor().interval().toMillis();
    // Writes wait until every backend has answered once and the answers are reconciled with the
    // saved state; a backend that does not answer counts as unknown after the deadline.
    run(this::beginReconciling);
    long deadline = config.monitor().timeout().toMillis() * 2 + every;
    schedules.add(
        probes.schedule(
            () ->
                submit(
                    () -> {
                      if (reconciling) {
                        reconcileDeadline = true;
                        decide(() -> reconcile(true));
                        publish();
                      }
                    }),
            deadline,
            TimeUnit.MILLISECONDS));
    for (BackendConfig b : config.backends()) {
      Monitor m =
          new Monitor(
              config.name(),
              b.name(),
              b.address(),
              config.monitor(),
              io.halo.health.probe.EngineProbe.of(config.engine(), clock, b.tls()),
              clock);
      monitors.put(b.name(), m);
      schedules.add(
          probes.scheduleWithFixedDelay(
              () -> {
                ProbeResult r = m.probe();
                submit(() -> apply(r));
              },
              0,
              every,
              TimeUnit.MILLISECONDS));
    }
    log.info("[{}] monitoring {} backend(s) every {} ms", config.name(), monitors.size(), every);
  }

  /**
   * A hint from the data path: a relay's connection to {@code backend} was reset, or a connect to
   * it was refused; the backend is probed at once and then every few dozen milliseconds while it
   * fails ({@link SuspicionBursts}). Any thread; never blocks.
   *
   * @return completes, on the health writer, with true when a probe of the burst answered, false
   *     when the backend went DOWN (or kept failing), null when unknown
   */
  public CompletableFuture<Boolean> suspect(String backend) {
    return bursts.suspect(backend);
  }

  /**
   * Registers {@code w}, told (on any thread; it must not block) the backends whose burst of probes
   * the data path started, each time that set changes.
   */
  public void onSuspicions(Consumer<java.util.Set<String>> w) {
    bursts.watch(w);
  }

  /** How many suspicion bursts the data path started (admin view, tests). */
  public long suspicions() {
    return bursts.started();
  }

  public Monitor monitor(String backend) {
    Monitor m = monitors.get(backend);
    if (m == null) {
      throw new IllegalArgumentException(
          "cluster " + config.name() + " has no backend '" + backend + "'");
    }
    return m;
  }

  /** One published state: a reader that needs both takes them from one view, never one of each. */
  public record View(Topology topology, List<BackendStatus> statuses) {}

  @Override
  public Topology current() {
    return view.get().topology();
  }

  public List<BackendStatus> statuses() {
    return view.get().statuses();
  }

  /** The topology with the statuses published with it. */
  public View view() {
    return view.get();
  }

  /** Where the state is kept, the saved epoch, and why the config's primary was overruled. */
  public StateInfo stateInfo() {
    StateInfo i = stateInfo.get();
    String problem = store.problem();
    return problem == null || i.error() != null
        ? i
        : new StateInfo(i.location(), i.savedEpoch(), i.savedAt(), problem, i.overruled());
  }

  /** Whether this instance takes decisions (alone, or the fleet's connected leader). */
  public boolean decides() {
    return store.decides();
  }

  /** {@link StateStore#confirmsLeadership()}: blocks, never on an event loop. */
  public boolean confirmsLeadership() {
    return store.confirmsLeadership();
  }

  /** The fleet of instances sharing this cluster; null when this Halo runs alone. */
  public io.halo.health.FleetView fleet() {
    return store.fleet();
  }

  /** The instance that decides when this one does not ({@code instance@admin}); else null. */
  public String leader() {
    return store.leader();
  }

  /** {@link StateStore#askHold}: the leader asks the fleet to hold for a switchover. */
  public void askHold(String token) {
    store.askHold(token);
  }

  /** {@link StateStore#answerHold}: this follower's sessions are held for that switchover. */
  public void answerHold(String token) {
    store.answerHold(token);
  }

  /** {@link StateStore#onHoldAsked}. */
  public void onHoldAsked(java.util.function.Consumer<String> asked) {
    store.onHoldAsked(asked);
  }

  /**
   * Takes the state another Halo instance (the fleet's leader) saved: its epoch, primary, fences
   * and operator states replace this instance's own, unless it is older than the epoch already
   * routed by. Writer thread.
   */
  public void adopt(SavedState remote) {
    if (remote.epoch() < epoch || remote.sameAs(lastSaved)) {
      return;
    }
    if (remote.primary() != null && !trackers.containsKey(remote.primary())) {
      log.error(
          "[{}] the fleet's state names {} primary, which is not a backend in this config: ignored",
          config.name(),
          remote.primary());
      return;
    }
    long was = epoch;
    String wasPrimary = primary;
    epoch = remote.epoch();
    if (!Objects.equals(primary, remote.primary())) {
      if (primary != null) {
        trackers.get(primary).role = NodeRole.STANDBY;
      }
      primary = remote.primary();
      primarySince = clock.instant();
    }
    for (Tracker t : trackers.values()) {
      t.fencedByFailover = remote.fenced().contains(t.config.name());
      t.admin = AdminState.valueOf(remote.admin().getOrDefault(t.config.name(), "ENABLED"));
    }
    if (primary != null) {
      trackers.get(primary).role = NodeRole.PRIMARY;
      trackers.get(primary).detector.markReachable();
    }
    unresolved = remote.unresolved();
    savedReports.clear();
    savedReports.addAll(remote.reports());
    sharedReports.accept(List.copyOf(remote.reports()));
    lastSaved = remote;
    if (was != epoch || !Objects.equals(wasPrimary, primary)) {
      log.info(
          "[{}] following the fleet: epoch {} primary {} (was epoch {} primary {})",
          config.name(),
          epoch,
          primary,
          was,
          wasPrimary);
    }
    publishStateInfo();
    publish();
  }

  /** The failover reports of the saved state at construction, oldest first. */
  public List<FailoverReport> restoredReports() {
    return restoredReports;
  }

  /** Holds writes until every backend has answered once; start() calls it. Writer thread. */
  void beginReconciling() {
    reconciling = true;
    publish();
  }

  /** Whether the start-up reconciliation still runs. Writer thread. */
  public boolean reconciling() {
    return reconciling;
  }

  /** Keeps a finished failover report in the saved state. Writer thread. */
  public void remember(FailoverReport report) {
    savedReports.removeIf(r -> r.id() == report.id());
    savedReports.add(report);
    while (savedReports.size() > SAVED_REPORTS) {
      savedReports.remove(0);
    }
    publish();
  }

  /** Called with every new topology, on the writer thread; must not block. */
  public void onTopology(Consumer<Topology> listener) {
    listeners.add(listener);
  }

  /** Called after every probe and change, on the writer thread (the coordinator's hook). */
  /**
   * Registers {@code hook}, told (on the writer thread; it must not block) the failover reports of
   * each state adopted from the fleet: the leader's decisions, for this instance's API.
   */
  public void onSharedReports(Consumer<List<FailoverReport>> hook) {
    sharedReports = hook;
  }

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
      if (writer.isShutdown()) {
        // Closing: probes still in flight land here; nothing is lost that anyone will read.
        log.debug("[{}] health writer stopped; dropping a late task", config.name());
      } else {
        log.error(
            "[{}] health writer queue full ({} tasks); dropping a task",
            config.name(),
            WRITER_QUEUE);
      }
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
      throw new IllegalStateException(
          "health writer of " + config.name() + " did not answer within 10 s", e);
    }
  }

  /** Runs {@code task} on the writer thread and waits for it (bounded). */
  public void run(Runnable task) {
    call(
        () -> {
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
      log.info(
          "[{}] {} rejoined as a standby of {}: fence lifted",
          config.name(),
          t.config.name(),
          primary);
    }
    decide(
        () -> {
          reconcile(false);
          discoverAtStart();
          observeRoleChange();
        });
    publish();
  }

  /**
   * At start the config's primary is only a hint: after a failover the config may be older than the
   * servers. Until Halo has changed the primary itself (epoch 1), if the configured primary answers
   * as a standby and exactly one other backend answers as primary, follow the servers. Not while a
   * failover runs or once one fenced the primary (a MySQL/MariaDB switchover made it read-only, so
   * it answers as a standby, and its target answers as a primary as soon as it is promoted): that
   * failover decides, and if it is left unresolved, an operator does.
   */
  private void discoverAtStart() {
    if (epoch != 1
        || primary == null
        || !store.decides()
        || failoverInProgress
        || unfinishedFailover()
        || unresolved != null) {
      return;
    }
    Tracker configured = trackers.get(primary);
    if (configured.last == null
        || !configured.last.ok()
        || configured.last.role() != NodeRole.STANDBY) {
      return;
    }
    List<Tracker> claiming =
        trackers.values().stream()
            .filter(t -> t.last != null && t.last.ok() && t.last.role() == NodeRole.PRIMARY)
            .toList();
    if (claiming.size() == 1) {
      String actual = claiming.get(0).config.name();
      log.warn(
          "[{}] the config names {} primary, but {} is a standby and {} is the primary: following the servers "
              + "(update the config)",
          config.name(),
          primary,
          primary,
          actual);
      overruled =
          "the config names "
              + primary
              + " primary, but it is a standby and "
              + actual
              + " is the primary: following the servers";
      trackers.get(primary).role = NodeRole.STANDBY;
      primary = actual;
      primarySince = clock.instant();
    }
  }

  /**
   * At start, once every backend has answered (or at the deadline): the servers' own answers decide
   * between backends that claim to be primary. The newest of them (PostgreSQL timeline,
   * MariaDB/MySQL GTID position) wins when it is newer than the current primary or the current
   * primary does not claim the role; the others are fenced. Backends the saved state fenced or an
   * operator disabled take no part. A tie changes nothing (the saved state, or else the config,
   * decides). Writer thread.
   */
  private void reconcile(boolean deadline) {
    if (!reconciling
        || (!deadline
            && !reconcileDeadline
            && trackers.values().stream().anyMatch(t -> t.last == null))) {
      return;
    }
    reconciling = false;
    if (!store.decides()) {
      log.info(
          "[{}] start-up: following the fleet's leader, primary {} (epoch {})",
          config.name(),
          primary,
          epoch);
      return;
    }
    List<Tracker> claiming =
        trackers.values().stream()
            .filter(t -> t.last != null && t.last.ok() && t.last.role() == NodeRole.PRIMARY)
            .filter(t -> !t.fencedByFailover && t.admin != AdminState.DISABLED)
            .toList();
    Tracker current = primary == null ? null : trackers.get(primary);
    Tracker newest = null;
    boolean tie = false;
    for (Tracker t : claiming) {
      if (newest == null || generation(t) > generation(newest)) {
        newest = t;
        tie = false;
      } else if (generation(t) == generation(newest)) {
        tie = true;
      }
    }
    if (newest == null || tie || newest == current) {
      log.info(
          "[{}] start-up reconciliation: primary {} (epoch {}){}",
          config.name(),
          primary,
          epoch,
          tie ? "; several backends claim the primary role at the same " + generationName() : "");
      return;
    }
    String why;
    if (current == null) {
      why = "no primary was known";
    } else if (claiming.contains(current)) {
      why =
          current.config.name()
              + " is on "
              + generationName()
              + " "
              + generation(current)
              + ", older than "
              + newest.config.name()
              + "'s "
              + generation(newest);
    } else if (current.last == null || !current.last.ok()) {
      why = current.config.name() + " does not answer";
    } else if (current.last.role() != NodeRole.PRIMARY) {
      why = current.config.name() + " is a standby";
    } else {
      why = current.config.name() + " is fenced";
    }
    for (Tracker t : claiming) {
      if (t != newest) {
        t.fencedByFailover = true;
      }
    }
    String was = primary;
    newest.role = NodeRole.PRIMARY;
    primary = newest.config.name();
    primarySince = clock.instant();
    epoch++;
    overruled =
        "at start "
            + why
            + ": "
            + primary
            + " ("
            + generationName()
            + " "
            + generation(newest)
            + ") is the primary"
            + (claiming.size() > 1 ? "; the other backends claiming the role are fenced" : "")
            + " (was "
            + was
            + ", epoch "
            + epoch
            + ")";
    log.warn("[{}] {}", config.name(), overruled);
  }

  /** What orders primaries of one cluster: the PostgreSQL timeline, else the GTID position. */
  private long generation(Tracker t) {
    return config.engine() == io.halo.conf.model.Engine.POSTGRESQL
        ? t.last.timeline()
        : t.last.walPosition();
  }

  private String generationName() {
    return config.engine() == io.halo.conf.model.Engine.POSTGRESQL ? "timeline" : "GTID position";
  }

  /**
   * Makes {@code newPrimary} the primary (epoch + 1); the old one stays fenced. The decision is
   * saved first: when it cannot be (a state file that cannot be written, a ZooKeeper error, an
   * instance that no longer leads) nothing changes, nothing is published, and this throws. Writer
   * thread.
   *
   * @throws StateNotSavedException the new primary could not be saved; writes do not move to it
   */
  public void promote(String newPrimary) {
    Tracker n = trackers.get(newPrimary);
    if (n == null) {
      throw new IllegalArgumentException("no backend " + newPrimary);
    }
    String notSaved =
        decide(
            () -> {
              Tracker old = primary == null ? null : trackers.get(primary);
              if (old != null && old != n) {
                old.fencedByFailover = true;
              }
              n.role = NodeRole.PRIMARY;
              n.fencedByFailover = false;
              primary = newPrimary;
              primarySince = clock.instant();
              epoch++;
            });
    if (notSaved != null) {
      throw new StateNotSavedException(
          "cluster "
              + config.name()
              + ": "
              + newPrimary
              + " as primary (epoch "
              + (epoch + 1)
              + ") could not be saved to "
              + store.location()
              + " ("
              + notSaved
              + "); writes do not move to it");
    }
    n.detector.markReachable(); // promotion just reached it; earlier failed probes are history
    failoverInProgress = false;
    log.info("[{}] primary is now {} (epoch {})", config.name(), newPrimary, epoch);
    publish();
  }

  /** What decides where writes go, as it was before a change: to undo one not saved. */
  private record Decision(
      String primary,
      long epoch,
      java.time.Instant primarySince,
      boolean reconciling,
      String overruled,
      Map<String, NodeRole> roles,
      Map<String, Boolean> fenced) {}

  /**
   * Runs {@code change} (writer thread), which may move the primary or the epoch, and saves what it
   * decided before anything routes by it: when it moved them and the save fails, the change is
   * undone (a start-up or observed change is tried again at the next probe) and the reason
   * returned. State that decides where writes go is persisted before traffic moves.
   *
   * @return null when nothing moved or the move was saved; else why it was not saved
   */
  private String decide(Runnable change) {
    Map<String, NodeRole> roles = new LinkedHashMap<>();
    Map<String, Boolean> fenced = new LinkedHashMap<>();
    trackers.forEach(
        (name, t) -> {
          roles.put(name, t.role);
          fenced.put(name, t.fencedByFailover);
        });
    Decision before =
        new Decision(primary, epoch, primarySince, reconciling, overruled, roles, fenced);
    change.run();
    if (epoch == before.epoch() && Objects.equals(primary, before.primary())) {
      return null;
    }
    String error = persist();
    if (error == null) {
      return null;
    }
    // persist() logged the failure (once per incident); the caller says what it did not do
    primary = before.primary();
    epoch = before.epoch();
    primarySince = before.primarySince();
    reconciling = before.reconciling();
    overruled = before.overruled();
    trackers.forEach(
        (name, t) -> {
          t.role = before.roles().get(name);
          t.fencedByFailover = before.fenced().get(name);
        });
    publishStateInfo();
    return error;
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
      if (unresolved != null && unresolved.oldPrimary().equals(backend)) {
        unresolved = null; // the operator decided: the old primary takes writes again
      }
    }
    publish();
  }

  /**
   * A failover stopped after its promotion was sent: saved before the failover counts as over, so
   * that nothing fails over automatically until an operator decides. Writer thread.
   */
  public void unresolved(SavedState.Unresolved u) {
    unresolved = u;
    failoverInProgress = false;
    publish();
  }

  /**
   * An operator's failover starts: it decides what an unresolved failover left open. Writer thread.
   */
  public void manualFailoverStarts() {
    unresolved = null;
    failoverInProgress(true);
  }

  /** The failover left unresolved, or null. Writer thread. */
  public SavedState.Unresolved unresolvedFailover() {
    return unresolved;
  }

  private Tracker tracker(String backend) {
    Tracker t = trackers.get(backend);
    if (t == null) {
      throw new IllegalArgumentException(
          "cluster " + config.name() + " has no backend '" + backend + "'");
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
    return t.last.role() == NodeRole.STANDBY
        && up != null
        && up.streaming()
        && p != null
        && up.port() == p.config.address().port();
  }

  private void observeRoleChange() {
    if (config.failover().mode() != FailoverConfig.Mode.OBSERVE || !store.decides()) {
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
      primarySince = clock.instant();
      epoch++;
      log.info(
          "[{}] observed a new primary: {} (was {}), epoch {}", config.name(), now, was, epoch);
    }
  }

  private NodeState stateOf(Tracker t) {
    if (t.admin == AdminState.DISABLED || t.fencedByFailover) {
      return NodeState.FENCED;
    }
    return t.detector.state();
  }

  private boolean splitBrain(Tracker t) {
    return t.last != null
        && t.last.ok()
        && t.last.role() == NodeRole.PRIMARY
        && !t.config.name().equals(primary)
        && !t.last.at().isBefore(primarySince);
  }

  private List<BackendNode> nodes() {
    List<BackendNode> out = new ArrayList<>();
    for (Tracker t : trackers.values()) {
      // A split-brain backend claims PRIMARY but is not Halo's primary: route nothing to it.
      NodeRole role =
          t.config.name().equals(primary)
              ? NodeRole.PRIMARY
              : t.role == NodeRole.PRIMARY ? NodeRole.UNKNOWN : t.role;
      if (t.config.role() == BackendRole.COLD && t.lastGood == null) {
        role = NodeRole.UNKNOWN;
      }
      out.add(
          new BackendNode(
              t.config.name(),
              t.config.address(),
              role,
              stateOf(t),
              t.config.priority(),
              t.admin == AdminState.DRAINING));
    }
    return out;
  }

  private List<BackendStatus> buildStatuses(List<BackendNode> nodes) {
    List<BackendStatus> out = new ArrayList<>();
    int i = 0;
    for (Tracker t : trackers.values()) {
      out.add(
          new BackendStatus(
              nodes.get(i++),
              t.admin,
              t.last,
              t.detector.failedInRow(),
              t.detector.goodInRow(),
              t.lagBytes,
              splitBrain(t)));
    }
    return List.copyOf(out);
  }

  /**
   * Saves the decisions if they changed. A failure is logged and shown; the caller that changed the
   * primary or the epoch undoes its change ({@link #decide}), others go on (a fence or an operator
   * state not saved is retried at the next change). A follower in a fleet saves nothing: the
   * leader's state is the fleet's, and {@link #adopt} takes it. Writer thread.
   *
   * @return null when saved (or nothing changed), else why not
   */
  private String persist() {
    List<String> fenced = new ArrayList<>();
    Map<String, String> admin = new LinkedHashMap<>();
    for (Tracker t : trackers.values()) {
      if (t.fencedByFailover) {
        fenced.add(t.config.name());
      }
      if (t.admin != AdminState.ENABLED) {
        admin.put(t.config.name(), t.admin.name());
      }
    }
    SavedState next =
        new SavedState(
            SavedState.FORMAT,
            config.name(),
            epoch,
            primary,
            fenced,
            admin,
            savedReports,
            unresolved,
            null);
    if (next.sameAs(lastSaved)) {
      return null;
    }
    if (!store.decides()) {
      return "this instance does not decide for cluster "
          + config.name()
          + " (it is not the fleet's connected leader)";
    }
    SavedState stamped = next.at(clock.instant());
    String error = null;
    try {
      store.save(stamped);
      lastSaved = stamped;
      saveError = null;
    } catch (IOException | RuntimeException e) {
      if (saveError == null) {
        log.error(
            "[{}] could not save the cluster's state to {}: {}; a restarted Halo would not know"
                + " epoch {}, and a new primary is not routed to until it is saved",
            config.name(),
            store.location(),
            e.toString(),
            epoch);
      }
      saveError = e.toString();
      error = saveError;
    }
    publishStateInfo();
    return error;
  }

  private void publishStateInfo() {
    stateInfo.set(
        new StateInfo(
            store.location(),
            lastSaved == null ? 0 : lastSaved.epoch(),
            lastSaved == null ? null : lastSaved.savedAt(),
            saveError,
            overruled));
  }

  /** Saves, then publishes the topology: traffic never moves on a decision not yet saved. */
  private void publish() {
    persist();
    List<BackendNode> nodes = nodes();
    boolean holding = holding();
    Topology next = new Topology(config.name(), epoch, primary, nodes, holding, unresolved != null);
    List<BackendStatus> statuses = buildStatuses(nodes);
    Topology prev = view.getAndSet(new View(next, statuses)).topology();
    if (!next.equals(prev)) {
      for (BackendStatus s : statuses) {
        // While a failover or switchover runs (here or, on a follower, at the leader), its target
        // is primary on the server a moment before Halo routes to it: reported in the status, not
        // logged as an incident.
        if (s.splitBrain() && !holding) {
          log.warn(
              "[{}] split brain: {} reports itself primary but {} is the primary; it gets no traffic",
              config.name(),
              s.node().name(),
              primary);
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

  /**
   * Whether new primary sessions wait (bounded by {@code hold_timeout}) instead of being refused:
   * while this instance fails over, during the start-up reconciliation, and on a follower while the
   * fleet's leader is between its fence of the primary and the promotion. The leader saves the
   * fence first (the shared state then names a fenced primary) and the new primary with the next
   * epoch after; a follower that adopted the first holds its sessions exactly as the leader does,
   * and lets them go on the second. Writer thread.
   */
  private boolean holding() {
    return failoverInProgress || fleetHold || reconciling || unfinishedFailover();
  }

  /** A follower holds its sessions for the leader's switchover: new sessions wait too. */
  private boolean fleetHold;

  /** Sets {@link #fleetHold}. Writer thread. */
  public void fleetHold(boolean on) {
    fleetHold = on;
    publish();
  }

  /**
   * Reads the shared state now, on the calling thread (it blocks: never on an event loop), and
   * adopts it on the writer: what the leader saved is this instance's before it goes on, whichever
   * of the coordination service's events it has handled so far.
   */
  public void adoptSharedNow() {
    java.util.Optional<SavedState> s;
    try {
      s = store.load(config.name());
    } catch (IOException | RuntimeException e) {
      log.warn("[{}] cannot read the fleet's state: {}", config.name(), e.toString());
      return;
    }
    s.ifPresent(remote -> run(() -> adopt(remote)));
  }

  /**
   * Whether the primary is fenced by a failover that has not promoted anyone: a follower between
   * its leader's fence and promotion, or a new leader whose predecessor stopped in that window (the
   * shared state names a fenced primary; this instance must finish the failover). Writer thread.
   */
  public boolean unfinishedFailover() {
    return primary != null && trackers.get(primary).fencedByFailover;
  }

  /** Whether the probes find {@code backend} down, whatever its fence. Writer thread. */
  public boolean probedDown(String backend) {
    Tracker t = trackers.get(backend);
    return t != null && t.detector.state() == NodeState.DOWN;
  }

  @Override
  public void close() {
    schedules.forEach(s -> s.cancel(true));
    // Tasks already handed to the writer still run (a finished failover report on its way to the
    // state file, say), bounded; then the writer stops.
    writer.shutdown();
    try {
      if (!writer.awaitTermination(5, TimeUnit.SECONDS)) {
        log.warn(
            "[{}] health writer did not finish its queue within 5 s; stopping it", config.name());
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    writer.shutdownNow();
    monitors.values().forEach(Monitor::close);
  }
}

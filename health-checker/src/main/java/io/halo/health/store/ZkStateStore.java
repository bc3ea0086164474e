package io.halo.health.store;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.function.Consumer;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.api.CuratorWatcher;
import org.apache.curator.framework.api.transaction.CuratorOp;
import org.apache.curator.framework.api.transaction.CuratorTransactionResult;
import org.apache.curator.framework.recipes.cache.ChildData;
import org.apache.curator.framework.recipes.cache.CuratorCache;
import org.apache.curator.framework.recipes.cache.CuratorCacheListener;
import org.apache.curator.framework.recipes.leader.LeaderLatch;
import org.apache.curator.framework.recipes.leader.LeaderLatchListener;
import org.apache.curator.framework.state.ConnectionState;
import org.apache.zookeeper.CreateMode;
import org.apache.zookeeper.KeeperException;
import org.apache.zookeeper.Watcher;
import org.apache.zookeeper.data.Stat;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One cluster's state in ZooKeeper, shared by every Halo instance of the fleet.
 *
 * <p>Design memo. Znodes under {@code <root>/clusters/<cluster>}: {@code state} holds the {@link
 * SavedState} JSON (epoch, primary, fenced and drained backends, failover reports); {@code leader}
 * is a Curator {@link LeaderLatch}; {@code views/<instance>} is an ephemeral node per instance with
 * the epoch and primary it routes by. Only the leader writes {@code state}, by a transaction that
 * checks its own latch node still exists (its session is alive) and sets the data at the version it
 * last read or wrote (compare-and-set): a deposed leader's write fails, it never overwrites a newer
 * decision. Every instance watches {@code state} (a {@link CuratorCache}) and hands each new state
 * to its cluster's health writer, which routes by the newest epoch seen. Leadership is taken only
 * after the newest state is read and handed over, so a new leader decides from it; it is dropped at
 * once when the connection is SUSPENDED or LOST.
 *
 * <p>A planned switchover holds the whole fleet's sessions, not only the leader's: the leader's
 * view carries {@code hold} (a token per switchover) while it runs; each follower holds its own
 * sessions between transactions and answers with {@code held} (the same token) in its view. The
 * request is in an ephemeral node: it ends with the leader's session, so a leader that dies never
 * leaves the fleet held.
 */
public final class ZkStateStore implements StateStore {

  private static final Logger log = LoggerFactory.getLogger(ZkStateStore.class);

  private final ZkCoordination zk;
  private final CuratorFramework client;
  private final String cluster;
  private final String statePath;
  private final String latchPath;
  private final String viewsPath;
  private final ObjectMapper json = FileStateStore.mapper();
  private final ExecutorService worker;
  private final Object lock = new Object();

  /** The znode version of the state this instance last read or wrote; -1 when none exists. */
  private int version = -1;

  private volatile boolean leading;
  private volatile Consumer<SavedState> changed = s -> {};
  private volatile LeaderLatch latch;
  private volatile boolean closed;

  /**
   * The latch node this instance leads by, set when it takes the lead and cleared when it stops:
   * every state write checks that this node still exists (not whatever node the latch holds now,
   * which after a rejoin is a new one at the back of the election).
   */
  private volatile String leaderPath;

  /** The longest wait for ZooKeeper to confirm the leadership before a promotion. */
  static final long CONFIRM_WAIT_MS = 2_000;

  private CuratorCache stateCache;
  private CuratorCache viewsCache;
  private volatile byte[] lastView;
  private volatile long viewEpoch;
  private volatile String viewPrimary;
  private volatile List<String> viewDown = List.of();
  private volatile List<String> viewSuspects = List.of();
  private volatile Consumer<String> peerSeesDown = b -> {};

  /** The switchover hold this instance asks of the fleet (leader), or null. */
  private volatile String viewHold;

  /** The leader's switchover hold this instance has done, or null. */
  private volatile String viewHeld;

  private volatile Consumer<String> holdAsked = t -> {};

  ZkStateStore(ZkCoordination zk, String cluster) {
    this.zk = zk;
    this.client = zk.client();
    this.cluster = cluster;
    String base = zk.root() + "/clusters/" + cluster;
    this.statePath = base + "/state";
    this.latchPath = base + "/leader";
    this.viewsPath = base + "/views";
    this.worker =
        Executors.newSingleThreadExecutor(
            r -> {
              Thread t = new Thread(r, "halo-zk-" + cluster);
              t.setDaemon(true);
              return t;
            });
    zk.onConnectionState(this::connectionChanged);
  }

  @Override
  public String location() {
    return "zookeeper " + zk.connectString() + statePath;
  }

  @Override
  public Optional<SavedState> load(String name) throws IOException {
    try {
      client.createContainers(viewsPath);
      Stat stat = new Stat();
      byte[] bytes;
      try {
        bytes = client.getData().storingStatIn(stat).forPath(statePath);
      } catch (KeeperException.NoNodeException e) {
        synchronized (lock) {
          version = -1;
        }
        return Optional.empty();
      }
      synchronized (lock) {
        version = stat.getVersion();
      }
      return Optional.of(parse(bytes));
    } catch (IOException e) {
      throw e;
    } catch (Exception e) {
      throw new IOException("cannot read " + statePath + " from ZooKeeper: " + e, e);
    }
  }

  private SavedState parse(byte[] bytes) throws IOException {
    SavedState s = json.readValue(bytes, SavedState.class);
    if (s.format() != SavedState.FORMAT || !cluster.equals(s.cluster())) {
      throw new IOException(
          statePath + " holds format " + s.format() + " of cluster " + s.cluster());
    }
    return s;
  }

  /**
   * Saves by compare-and-set, and only while this instance leads.
   *
   * @throws IOException when this instance does not lead (a follower saves nothing, and its caller
   *     must not act as if it had: it would move writes on a decision the fleet never saw)
   */
  @Override
  public void save(SavedState state) throws IOException {
    if (!leading) {
      throw new IOException("not the leader of " + cluster + ": the state is not saved");
    }
    byte[] bytes = json.writeValueAsBytes(state);
    synchronized (lock) {
      String ours = leaderPath;
      if (ours == null || !leading) {
        throw new IOException("not the leader of " + cluster + " (no longer leading)");
      }
      try {
        CuratorOp write =
            version < 0
                ? client.transactionOp().create().forPath(statePath, bytes)
                : client.transactionOp().setData().withVersion(version).forPath(statePath, bytes);
        List<CuratorTransactionResult> results =
            client.transaction().forOperations(client.transactionOp().check().forPath(ours), write);
        Stat stat = results.get(1).getResultStat();
        version = stat == null ? 0 : stat.getVersion();
      } catch (KeeperException.BadVersionException
          | KeeperException.NoNodeException
          | KeeperException.NodeExistsException e) {
        stopLeading();
        if (e instanceof KeeperException.BadVersionException) {
          // someone wrote meanwhile: while the latch still names this instance, read the newest
          // state and lead again from it
          try {
            worker.execute(this::acquire);
          } catch (java.util.concurrent.RejectedExecutionException x) {
            // closing
          }
        }
        throw new IOException(
            "the state of "
                + cluster
                + " in ZooKeeper changed under this leader or its leadership ended ("
                + e.code()
                + "): it stops deciding",
            e);
      } catch (Exception e) {
        throw new IOException("cannot save " + statePath + " to ZooKeeper: " + e, e);
      }
    }
  }

  @Override
  public void watch(Consumer<SavedState> onChange) {
    this.changed = onChange;
    stateCache = CuratorCache.build(client, statePath);
    stateCache
        .listenable()
        .addListener(
            CuratorCacheListener.builder()
                .forCreatesAndChanges((before, after) -> remoteChange(after))
                .build());
    stateCache.start();
    viewsCache = CuratorCache.build(client, viewsPath);
    viewsCache
        .listenable()
        .addListener(
            CuratorCacheListener.builder()
                .forCreatesAndChanges((before, after) -> peerView(after))
                .build());
    viewsCache.start();
    worker.execute(this::dropPredecessorView);
    try {
      joinElection();
    } catch (Exception e) {
      throw new IllegalStateException("cannot join the leader election of " + cluster, e);
    }
  }

  /** A new latch node at the end of the election (at start, and after ours was removed). */
  private void joinElection() throws Exception {
    LeaderLatch l = new LeaderLatch(client, latchPath, zk.instance());
    l.addListener(
        new LeaderLatchListener() {
          @Override
          public void isLeader() {
            acquire();
          }

          @Override
          public void notLeader() {
            if (leading) {
              log.warn("[{}] no longer the leader: taking no more decisions", cluster);
            }
            stopLeading();
            republishView();
          }
        },
        worker);
    synchronized (lock) {
      if (closed) {
        return; // stopping (leave): never join again
      }
      latch = l;
      l.start();
    }
  }

  /**
   * Worker thread: another instance removed this instance's latch node ({@link LeaderWatch}: it
   * took this process for dead, its admin API refusing connections). This instance decides nothing
   * more (its writes would fail anyway: they check that node) and joins the election again.
   */
  private void ownNodeGone(String path) {
    LeaderLatch l = latch;
    if (closed || l == null || !path.equals(l.getOurPath())) {
      return;
    }
    stopLeading();
    log.warn(
        "[{}] this instance's latch node {} was removed by another instance (it found this"
            + " instance's admin address refusing connections): it no longer leads and joins the"
            + " election again",
        cluster,
        path);
    republishView();
    try {
      l.close(LeaderLatch.CloseMode.SILENT);
    } catch (IOException | RuntimeException e) {
      log.debug("[{}] closing the old latch: {}", cluster, e.toString());
    }
    try {
      joinElection();
    } catch (Exception e) {
      log.error("[{}] cannot join the leader election again: {}", cluster, e.toString());
    }
  }

  /** Stops deciding at once: no write passes its latch check after this. */
  private void stopLeading() {
    leading = false;
    leaderPath = null;
  }

  /** The name-sorted latch nodes' order: LeaderLatch's sequence suffix. */
  private static String sequence(String node) {
    int i = node.lastIndexOf(LATCH_MARK);
    return i < 0 ? node : node.substring(i + LATCH_MARK.length());
  }

  private static final String LATCH_MARK = "latch-";

  /**
   * This cluster's leader when it is not this instance, with the admin address its view publishes;
   * null when this instance leads, nobody does or ZooKeeper cannot say now. An earlier process of
   * this same instance (crashed, its session not expired yet) comes with a null address: instance
   * names are unique, so it is gone. Blocks (the leader watch's thread).
   *
   * @throws Exception when ZooKeeper cannot be read now
   */
  LeaderWatch.Leader otherLeader() throws Exception {
    LeaderLatch l = latch;
    if (closed || leading || l == null) {
      return null;
    }
    if (!zk.connected()) {
      throw new IOException("ZooKeeper connection " + zk.connectionState());
    }
    try {
      String first =
          client.getChildren().forPath(latchPath).stream()
              .filter(c -> c.contains(LATCH_MARK))
              .min(java.util.Comparator.comparing(ZkStateStore::sequence))
              .orElse(null);
      String path = first == null ? null : latchPath + "/" + first;
      if (path == null || path.equals(l.getOurPath())) {
        return null;
      }
      Stat stat = new Stat();
      String instance =
          new String(
              client.getData().storingStatIn(stat).forPath(path),
              java.nio.charset.StandardCharsets.UTF_8);
      if (instance.equals(zk.instance())) {
        // an earlier process of this instance, or a duplicate name: its admin address is this
        // one's own, nothing to watch there; its session's expiry ends it
        return null;
      }
      String admin =
          views().stream()
              .filter(v -> instance.equals(v.get("instance")) && v.get("admin") != null)
              .map(v -> String.valueOf(v.get("admin")))
              .findFirst()
              .orElse(null);
      return admin == null
          ? null
          : new LeaderWatch.Leader(cluster, path, stat.getEphemeralOwner(), instance, admin);
    } catch (KeeperException.NoNodeException e) {
      return null; // the node went meanwhile: the next look finds the new leader
    }
  }

  /**
   * Removes {@code dead}'s latch node and its session's views, if that session still owns them: the
   * next instance in the election leads. False when ZooKeeper could not be asked (try again).
   * Blocks (the leader watch's thread).
   */
  boolean removeDeadLeader(LeaderWatch.Leader dead) {
    try {
      Stat st = client.checkExists().forPath(dead.path());
      if (st == null || st.getEphemeralOwner() != dead.session()) {
        return true; // gone already, or (never: paths are not reused) someone else's
      }
      client.delete().forPath(dead.path());
      for (String child : client.getChildren().forPath(viewsPath)) {
        deleteIfOwnedBy(viewsPath + "/" + child, dead.session());
      }
      log.warn(
          "[{}] removed the leadership of {} (latch node {}, ZooKeeper session 0x{}): the next"
              + " instance leads",
          cluster,
          dead.instance(),
          dead.path(),
          Long.toHexString(dead.session()));
      return true;
    } catch (KeeperException.NoNodeException e) {
      return true;
    } catch (Exception e) {
      if (e instanceof InterruptedException) {
        Thread.currentThread().interrupt(); // this watch was stopped: the leader changed
        return false;
      }
      log.warn(
          "[{}] cannot remove the leadership of {}: {}", cluster, dead.instance(), e.toString());
      return false;
    }
  }

  private void deleteIfOwnedBy(String path, long session) throws Exception {
    Stat st = client.checkExists().forPath(path);
    if (st != null && st.getEphemeralOwner() == session) {
      try {
        client.delete().forPath(path);
      } catch (KeeperException.NoNodeException e) {
        // gone meanwhile
      }
    }
  }

  /**
   * Worker thread, at start: this instance's view node left by an earlier process of it (crashed
   * and restarted before its session expired) goes now; else this instance's view would be written
   * into that node and vanish with the old session.
   */
  private void dropPredecessorView() {
    try {
      String path = viewsPath + "/" + zk.instance();
      Stat st = client.checkExists().forPath(path);
      long mine = client.getZookeeperClient().getZooKeeper().getSessionId();
      if (st != null && st.getEphemeralOwner() != mine) {
        deleteIfOwnedBy(path, st.getEphemeralOwner());
        byte[] v = lastView;
        if (v != null) {
          writeView(v);
        }
      }
    } catch (Exception e) {
      log.debug("[{}] cannot check this instance's earlier view: {}", cluster, e.toString());
    }
  }

  private void remoteChange(ChildData data) {
    if (data == null || !statePath.equals(data.getPath()) || data.getData() == null) {
      return;
    }
    synchronized (lock) {
      if (leading && data.getStat().getVersion() <= version) {
        return; // our own write coming back
      }
      if (!leading) {
        version = data.getStat().getVersion();
      }
    }
    try {
      changed.accept(parse(data.getData()));
    } catch (IOException | RuntimeException e) {
      log.error("[{}] unreadable state in {}: {}", cluster, statePath, e.toString());
    }
  }

  /**
   * Registers {@code suspect}, called (on a Curator thread; it must not block) with each backend
   * another instance reports down or under suspicion (its data path started a burst of probes)
   * while this instance decides: the leader then probes it at once instead of at its next scheduled
   * probe. A follower whose clients lost the primary sees it first (its relays' resets start a
   * suspicion burst); without this hint the leader, which may carry no traffic to it, would wait
   * for its own probes to fail.
   */
  public void onPeerSeesDown(Consumer<String> suspect) {
    this.peerSeesDown = suspect;
  }

  @Override
  public void askHold(String token) {
    viewHold = token;
    republishView();
  }

  @Override
  public void answerHold(String token) {
    viewHeld = token;
    republishView();
  }

  @Override
  public void onHoldAsked(Consumer<String> asked) {
    this.holdAsked = asked;
  }

  private void peerView(ChildData data) {
    if (data == null || data.getData() == null) {
      return;
    }
    if (data.getPath().equals(viewsPath + "/" + zk.instance())) {
      return;
    }
    boolean decides = decides();
    try {
      Map<?, ?> v = json.readValue(data.getData(), Map.class);
      if (!decides) {
        // a follower: the leader's request to hold its sessions for a switchover
        if (Boolean.TRUE.equals(v.get("leader")) && v.get("hold") instanceof String token) {
          holdAsked.accept(token);
        }
        return;
      }
      for (String key : new String[] {"down", "suspects"}) {
        if (v.get(key) instanceof List<?> seen) {
          for (Object b : seen) {
            peerSeesDown.accept(String.valueOf(b));
          }
        }
      }
    } catch (IOException | RuntimeException e) {
      log.debug("[{}] unreadable view {}: {}", cluster, data.getPath(), e.toString());
    }
  }

  /** Worker thread: reads the newest state, hands it over, then decides. */
  private void acquire() {
    LeaderLatch l0 = latch;
    if (closed || l0 == null || !zk.connected() || !l0.hasLeadership()) {
      return;
    }
    try {
      Optional<SavedState> s = load(cluster);
      s.ifPresent(changed);
      if (zk.connected() && latch.hasLeadership()) {
        // watched while leading: another instance may remove the node (LeaderWatch)
        String ours = latch.getOurPath();
        Stat present =
            client
                .checkExists()
                .usingWatcher(
                    (CuratorWatcher)
                        e -> {
                          if (e.getType() == Watcher.Event.EventType.NodeDeleted && !closed) {
                            try {
                              worker.execute(() -> ownNodeGone(ours));
                            } catch (java.util.concurrent.RejectedExecutionException x) {
                              // closing: the latch removed its own node
                            }
                          }
                        })
                .forPath(ours);
        if (present == null) {
          worker.execute(() -> ownNodeGone(ours));
          return;
        }
        leaderPath = ours;
        leading = true;
        republishView();
        log.warn(
            "[{}] this instance ({}) is the leader: it takes the failover decisions",
            cluster,
            zk.instance());
      }
    } catch (Exception e) {
      log.error("[{}] cannot take the lead: {}", cluster, e.toString());
    }
  }

  private void connectionChanged(ConnectionState s) {
    if (s == ConnectionState.SUSPENDED || s == ConnectionState.LOST) {
      stopLeading(); // before the session can expire and another instance be elected
      return;
    }
    if (s == ConnectionState.RECONNECTED) {
      worker.execute(
          () -> {
            try {
              if (!leading) {
                load(cluster).ifPresent(changed);
              }
            } catch (IOException e) {
              log.warn("[{}] cannot read the state after reconnecting: {}", cluster, e.toString());
            }
            byte[] v = lastView;
            if (v != null) {
              writeView(v);
            }
            acquire();
          });
    }
  }

  @Override
  public boolean decides() {
    return leading && zk.connected();
  }

  @Override
  public boolean confirmsLeadership() {
    String ours = leaderPath;
    if (!decides() || ours == null) {
      return false;
    }
    try {
      // read what the ensemble's leader has, not a lagging follower: Curator's sync runs in the
      // background only, so wait for it (bounded) before the read
      java.util.concurrent.CountDownLatch synced = new java.util.concurrent.CountDownLatch(1);
      client.sync().inBackground((c, event) -> synced.countDown()).forPath(ours);
      if (!synced.await(CONFIRM_WAIT_MS, java.util.concurrent.TimeUnit.MILLISECONDS)) {
        log.warn(
            "[{}] ZooKeeper did not confirm the leadership within {} ms", cluster, CONFIRM_WAIT_MS);
        return false;
      }
      return client.checkExists().forPath(ours) != null && ours.equals(leaderPath);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return false;
    } catch (Exception e) {
      log.warn("[{}] cannot confirm the leadership: {}", cluster, e.toString());
      return false;
    }
  }

  @Override
  public String problem() {
    if (zk.connected()) {
      return null;
    }
    return "ZooKeeper connection "
        + zk.connectionState()
        + ": routing by the last epoch seen, taking no decision";
  }

  @Override
  public String leader() {
    if (decides()) {
      return null;
    }
    for (Map<String, Object> v : views()) {
      if (Boolean.TRUE.equals(v.get("leader"))) {
        return v.get("instance") + "@" + v.get("admin");
      }
    }
    return null;
  }

  /**
   * Publishes this instance's view (epoch, primary, the backends its probes see down) for the
   * others; never blocks.
   */
  public void publishView(long epoch, String primary, List<String> down) {
    viewEpoch = epoch;
    viewPrimary = primary;
    viewDown = List.copyOf(down);
    republishView();
  }

  /**
   * Publishes the backends whose burst of probes this instance's data path started (its clients
   * lost them): the leader starts its own burst on them at once, in parallel, instead of after this
   * instance's burst found them DOWN. Never blocks.
   */
  public void publishSuspects(java.util.Collection<String> suspects) {
    // One seen down already is published as such: retried logins start bursts on it again and
    // again, which would otherwise rewrite the view each time.
    List<String> down = viewDown;
    viewSuspects = suspects.stream().filter(b -> !down.contains(b)).sorted().toList();
    republishView();
  }

  /** Orders the views computed by several threads: the last one computed is the last written. */
  private final Object viewLock = new Object();

  /**
   * Publishes the view again with the current leadership (after it changed). Callers on several
   * threads (the health checker, the data path's suspects, the worker's leadership changes): each
   * computes the view under {@link #viewLock} from the state it has just set, and the worker writes
   * whichever view is the newest when its turn comes, one write after the other. Before, two views
   * published together (a start-up's and its first leadership's) could reach ZooKeeper in either
   * order (each a background create, retried after creating the parent node), and a leader could
   * stay published as a follower: its followers then saw no leader.
   */
  private void republishView() {
    if (zk.adminAddress() == null) {
      return; // not serving yet: the first view comes when the admin API is up
    }
    synchronized (viewLock) {
      if (!newView()) {
        return;
      }
    }
    worker.execute(this::writeNewestView);
  }

  /** Under {@link #viewLock}: computes the view; true when it differs from the last one. */
  private boolean newView() {
    long epoch = viewEpoch;
    String primary = viewPrimary;
    List<String> down = viewDown;
    Map<String, Object> v = new LinkedHashMap<>();
    v.put("instance", zk.instance());
    v.put("admin", zk.adminAddress());
    v.put("epoch", epoch);
    v.put("primary", primary);
    v.put("leader", leading);
    v.put("down", down);
    v.put("suspects", viewSuspects);
    if (viewHold != null) {
      v.put("hold", viewHold);
    }
    if (viewHeld != null) {
      v.put("held", viewHeld);
    }
    byte[] bytes;
    try {
      bytes = json.writeValueAsBytes(v);
    } catch (IOException e) {
      return false;
    }
    if (java.util.Arrays.equals(bytes, lastView)) {
      return false;
    }
    lastView = bytes;
    return true;
  }

  /**
   * Worker thread: writes the newest view (views computed meanwhile need no write of their own).
   */
  private void writeNewestView() {
    byte[] v = lastView;
    if (v != null && v != writtenView) {
      writeView(v);
    }
  }

  /** The view last written (worker thread only). */
  private byte[] writtenView;

  /** Worker thread: writes {@code bytes} as this instance's view node, waiting for the answer. */
  private void writeView(byte[] bytes) {
    try {
      client
          .create()
          .orSetData()
          .creatingParentContainersIfNeeded()
          .withMode(CreateMode.EPHEMERAL)
          .forPath(viewsPath + "/" + zk.instance(), bytes);
      writtenView = bytes;
    } catch (Exception e) {
      log.debug("[{}] cannot publish this instance's view: {}", cluster, e.toString());
    }
  }

  /** Every instance's view of this cluster, from the local cache (never blocks). */
  @SuppressWarnings("unchecked")
  public List<Map<String, Object>> views() {
    List<Map<String, Object>> out = new ArrayList<>();
    CuratorCache c = viewsCache;
    if (c == null) {
      return out;
    }
    c.stream()
        .filter(d -> !d.getPath().equals(viewsPath) && d.getData() != null)
        .forEach(
            d -> {
              try {
                out.add(json.readValue(d.getData(), Map.class));
              } catch (IOException e) {
                // a half-written view is skipped
              }
            });
    out.sort(
        (a, b) -> String.valueOf(a.get("instance")).compareTo(String.valueOf(b.get("instance"))));
    return out;
  }

  @Override
  public io.halo.health.FleetView fleet() {
    List<io.halo.health.FleetView.Member> members = new ArrayList<>();
    for (Map<String, Object> v : views()) {
      members.add(
          new io.halo.health.FleetView.Member(
              String.valueOf(v.get("instance")),
              String.valueOf(v.get("admin")),
              v.get("epoch") instanceof Number n ? n.longValue() : 0,
              v.get("primary") == null ? null : String.valueOf(v.get("primary")),
              Boolean.TRUE.equals(v.get("leader")),
              v.get("down") instanceof List<?> l
                  ? l.stream().map(String::valueOf).toList()
                  : List.of(),
              v.get("hold") instanceof String h ? h : null,
              v.get("held") instanceof String h ? h : null));
    }
    return new io.halo.health.FleetView(zk.instance(), decides(), leader(), problem(), members);
  }

  public boolean leading() {
    return leading;
  }

  /**
   * The instance is stopping: it never joins the election again (its latch node removed by another
   * instance, whose watch sees its admin API close, ends its lead for good); a lead it holds lasts
   * until {@link #leave()}, so that running actions can still save.
   */
  void stopping() {
    synchronized (lock) {
      closed = true;
    }
  }

  /**
   * Leaves the election for good (a stopping instance): its latch node goes now, so the next
   * instance leads while this one drains, and it never joins again.
   */
  void leave() {
    stopping();
    stopLeading();
    try {
      LeaderLatch l = latch;
      if (l != null && l.getState() == LeaderLatch.State.STARTED) {
        l.close(LeaderLatch.CloseMode.SILENT);
      }
    } catch (IOException | RuntimeException e) {
      log.debug("[{}] closing the latch: {}", cluster, e.toString());
    }
  }

  void close() {
    leave();
    if (stateCache != null) {
      stateCache.close();
    }
    if (viewsCache != null) {
      viewsCache.close();
    }
    worker.shutdownNow();
  }
}

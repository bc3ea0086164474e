package io.halo.health.store;

import java.io.IOException;
import java.io.InputStream;
import java.net.ConnectException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Notices at once that the process holding a cluster's leadership is gone, so that the next
 * instance takes the lead now instead of after the crashed leader's ZooKeeper session expires
 * ({@code session_timeout}): with the primary dying in the same crash, that wait is the write
 * outage.
 *
 * <p>Design memo. One thread per ZooKeeper session (never an event loop: it blocks on sockets and
 * ZooKeeper reads). Every {@link #PERIOD_MS} it asks each store of a cluster it does not lead for
 * the leader's latch node (path, owning session, instance name) and the admin address that instance
 * publishes in its view, and keeps one plain TCP connection open to each such address, sending
 * nothing. A crashed process's kernel closes that connection (FIN or RST), and the watch connects
 * again at once. Only a refused connect counts, and only three times in a row 150 ms apart, to an
 * address it has reached before for the same latch node: the host answers, nothing listens there
 * any more, so the process that held the node is gone (a restarted one has a new session and a new
 * node). Then the store deletes that latch node and that session's views, guarded by the owning
 * session: the next instance in the latch leads. A timeout, an unreachable host or a partition
 * proves nothing and changes nothing: the session's expiry stays the rule there. Deleting a live
 * leader's node (its admin API alone gone) is safe too: every state write is a transaction that
 * checks the writer's own latch node, and a promotion first asks ZooKeeper whether that node still
 * exists, so the deposed instance can decide nothing more, and it rejoins the election ({@link
 * ZkStateStore}).
 */
final class LeaderWatch implements AutoCloseable {

  private static final Logger log = LoggerFactory.getLogger(LeaderWatch.class);

  /** How often the leaders are looked up, and a watch checks whether it should stop. */
  static final int PERIOD_MS = 1_000;

  static final int CONNECT_TIMEOUT_MS = 1_000;

  /** Refused connects in a row that prove the process gone, {@link #REFUSAL_GAP_MS} apart. */
  static final int REFUSALS = 3;

  static final int REFUSAL_GAP_MS = 150;

  /**
   * A cluster's leader as its latch shows it: the node, the session owning it, the instance's name
   * and its admin address.
   */
  record Leader(String cluster, String path, long session, String instance, String admin) {}

  private final Supplier<List<ZkStateStore>> stores;
  private final Supplier<String> self;
  private final Thread thread;
  private final Map<Leader, Watcher> watching = new java.util.concurrent.ConcurrentHashMap<>();
  private volatile boolean closed;

  /**
   * @param stores every cluster's store
   * @param self this instance's own admin address as it publishes it
   */
  LeaderWatch(Supplier<List<ZkStateStore>> stores, Supplier<String> self) {
    this.stores = stores;
    this.self = self;
    this.thread = new Thread(this::run, "halo-zk-leader-watch");
    thread.setDaemon(true);
  }

  void start() {
    thread.start();
  }

  private void run() {
    while (!closed) {
      Map<Leader, ZkStateStore> now = new HashMap<>();
      java.util.Set<ZkStateStore> unknown = new java.util.HashSet<>();
      for (ZkStateStore s : stores.get()) {
        Leader l;
        try {
          l = s.otherLeader();
        } catch (Exception e) {
          unknown.add(s); // ZooKeeper cannot say now: keep watching what was watched
          continue;
        }
        if (l != null && !l.admin().equals(self.get())) {
          // (an address equal to this instance's own is a loopback address published by an
          // instance on another host: nothing of that instance listens there)
          now.put(l, s);
        }
      }
      watching
          .entrySet()
          .removeIf(
              e ->
                  !now.containsKey(e.getKey())
                      && !unknown.contains(e.getValue().store)
                      && e.getValue().stop());
      synchronized (this) {
        if (closed) {
          break;
        }
        now.forEach(
            (l, s) -> {
              if (!watching.containsKey(l)) {
                Watcher w = new Watcher(l, s);
                watching.put(l, w);
                w.thread.start();
              }
            });
      }
      try {
        Thread.sleep(PERIOD_MS);
      } catch (InterruptedException e) {
        break;
      }
    }
    watching.values().forEach(Watcher::stop);
  }

  @Override
  public void close() {
    synchronized (this) {
      closed = true;
    }
    thread.interrupt();
    watching.values().forEach(Watcher::stop);
  }

  /** One leader's connection, on its own thread while that node leads. */
  private static final class Watcher {
    final Leader leader;
    final ZkStateStore store;
    final Thread thread;
    volatile boolean stopped;
    private volatile Socket socket;

    Watcher(Leader leader, ZkStateStore store) {
      this.leader = leader;
      this.store = store;
      this.thread = new Thread(this::watch, "halo-zk-watch-" + leader.instance());
      thread.setDaemon(true);
    }

    /** Stops watching; true (for removeIf). */
    boolean stop() {
      stopped = true;
      Socket s = socket;
      if (s != null) {
        try {
          s.close();
        } catch (IOException e) {
          // closing anyway
        }
      }
      thread.interrupt();
      return true;
    }

    private void watch() {
      InetSocketAddress address = address(leader.admin());
      if (address == null) {
        return;
      }
      boolean reached = false;
      int refused = 0;
      while (!stopped) {
        long connected = 0;
        try (Socket s = new Socket()) {
          socket = s;
          s.connect(address, CONNECT_TIMEOUT_MS);
          connected = System.nanoTime();
          reached = true;
          refused = 0;
          s.setSoTimeout(PERIOD_MS);
          InputStream in = s.getInputStream();
          while (!stopped) {
            try {
              if (in.read() < 0) {
                break; // closed by the other side (FIN): connect again
              }
            } catch (SocketTimeoutException e) {
              // still open: go on waiting
            } catch (IOException e) {
              break; // reset by the other side (RST): connect again as well
            }
          }
        } catch (ConnectException e) {
          if (stopped) {
            return;
          }
          String m = String.valueOf(e.getMessage());
          if (reached && m.contains("refused") && ++refused >= REFUSALS) {
            log.warn(
                "[{}] the leader {} ({}) refuses connections on its admin address {}: its"
                    + " process is gone; ending its leadership now instead of after its"
                    + " ZooKeeper session expires",
                leader.cluster(),
                leader.instance(),
                leader.path(),
                leader.admin());
            if (store.removeDeadLeader(leader)) {
              return;
            }
          }
          pause(reached ? REFUSAL_GAP_MS : PERIOD_MS);
          continue;
        } catch (IOException e) {
          // reset, unreachable, timed out: proves nothing; the session's expiry decides there
          refused = 0;
          pause(PERIOD_MS);
          continue;
        }
        // closed by the other side: a crashed process's connection closes once, after a long
        // life; one closed at once (a server that turns connections away) is retried at a
        // bounded rate
        if (!stopped && System.nanoTime() - connected < PERIOD_MS * 1_000_000L) {
          pause(REFUSAL_GAP_MS);
        }
      }
    }

    private void pause(long ms) {
      try {
        Thread.sleep(ms);
      } catch (InterruptedException e) {
        stopped = true;
      }
    }

    /** {@code host:port} resolved (this thread may block), or null when it is no address. */
    private static InetSocketAddress address(String hostPort) {
      try {
        io.halo.conf.model.HostPort hp = io.halo.conf.model.HostPort.parse(hostPort);
        InetSocketAddress a = new InetSocketAddress(hp.host(), hp.port());
        return a.isUnresolved() ? null : a;
      } catch (IllegalArgumentException e) {
        return null;
      }
    }
  }
}

package io.halo.testkit;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One running server process (a postmaster, later a mariadbd) and its children.
 *
 * <p>Crash and hang are simulated on the whole process tree: {@link #kill()} SIGKILLs the parent
 * first (so that it cannot restart crashed children) and then every child it had, which is what a
 * node crash looks like to clients; {@link #pause()} SIGSTOPs the tree, so that open connections
 * hang as well as new ones. The tree is snapshotted before signalling, because orphaned children no
 * longer show up as descendants.
 *
 * <p>Every process started here is also in {@link #RUNNING}, the one piece of static state of the
 * testkit: a JVM shutdown hook stops what is still there, so a test run that dies leaves no servers
 * behind.
 */
final class ServerProcess {
  private static final Logger log = LoggerFactory.getLogger(ServerProcess.class);
  private static final Duration CHILD_EXIT_WAIT = Duration.ofSeconds(10);
  private static final Set<ServerProcess> RUNNING = ConcurrentHashMap.newKeySet();

  /** How long the exit hook lets an application's own shutdown stop its servers. */
  private static final Duration OWNER_STOP_WAIT = Duration.ofSeconds(30);

  /** Set by an application (halo demo) whose own shutdown hook stops its servers at exit. */
  static volatile boolean ownerStopsAtExit;

  private static final Thread HOOK =
      new Thread(ServerProcess::stopAllOnExit, "halo-testkit-shutdown");

  static {
    Runtime.getRuntime().addShutdownHook(HOOK);
  }

  private final String name;
  private final Process process;
  private final Path logFile;
  private final String shutdownSignal;

  private ServerProcess(String name, Process process, Path logFile, String shutdownSignal) {
    this.name = name;
    this.process = process;
    this.logFile = logFile;
    this.shutdownSignal = shutdownSignal;
  }

  /**
   * Starts {@code command} through {@code launcher}.
   *
   * @param shutdownSignal the signal that makes this server shut down quickly but cleanly (INT for
   *     PostgreSQL's fast shutdown)
   */
  static ServerProcess start(
      String name,
      Launcher launcher,
      List<String> command,
      Map<String, String> env,
      Path logFile,
      String shutdownSignal)
      throws IOException {
    Files.writeString(
        logFile,
        "---- halo-testkit: starting " + String.join(" ", command) + "\n",
        StandardCharsets.UTF_8,
        java.nio.file.StandardOpenOption.CREATE,
        java.nio.file.StandardOpenOption.APPEND);
    Process process = launcher.start(command, env, logFile);
    ServerProcess server = new ServerProcess(name, process, logFile, shutdownSignal);
    RUNNING.add(server);
    process.onExit().thenRun(() -> RUNNING.remove(server));
    log.debug("{}: started pid {}", name, process.pid());
    return server;
  }

  long pid() {
    return process.pid();
  }

  boolean isAlive() {
    return process.isAlive();
  }

  /** Exit code, or -1 while running. */
  int exitCode() {
    return process.isAlive() ? -1 : process.exitValue();
  }

  /** SIGKILL to the server and every child, then waits (bounded) until all are gone. */
  void kill() {
    List<ProcessHandle> tree = tree();
    Launcher.signal("KILL", pids(tree));
    awaitGone(tree, CHILD_EXIT_WAIT);
    awaitReaped();
  }

  /**
   * A killed server is a zombie until the JVM's reaper thread collects it, and until then {@link
   * Process#isAlive()} is still true: wait (bounded) so that callers see it stopped.
   */
  private void awaitReaped() {
    try {
      if (!process.waitFor(CHILD_EXIT_WAIT.toMillis(), TimeUnit.MILLISECONDS)) {
        log.warn("{}: pid {} not reaped {} after SIGKILL", name, pid(), CHILD_EXIT_WAIT);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  /**
   * SIGSTOP to the tree; returns once the kernel shows every process stopped (bounded). A
   * multi-threaded server (mariadbd) is stopped thread by thread, so right after kill returns its
   * state may still read R.
   */
  void pause() {
    List<ProcessHandle> tree = tree();
    Launcher.signal("STOP", pids(tree));
    long deadline = System.nanoTime() + CHILD_EXIT_WAIT.toNanos();
    for (ProcessHandle handle : tree) {
      while (!isGone(handle) && state(handle) != 'T') {
        if (System.nanoTime() - deadline > 0) {
          log.warn(
              "{}: process {} not stopped {} after SIGSTOP", name, handle.pid(), CHILD_EXIT_WAIT);
          return;
        }
        sleep(5);
      }
    }
  }

  void resume() {
    // Children first: a postmaster that wakes up before them could mistake them for hung.
    List<ProcessHandle> tree = tree();
    List<Long> pids = pids(tree.subList(1, tree.size()));
    Launcher.signal("CONT", pids);
    Launcher.signal("CONT", List.of(pid()));
  }

  /**
   * Clean, quick shutdown; after {@code bound} it falls back to {@link #kill()}.
   *
   * @return true when the server stopped by itself within the bound
   */
  boolean shutdown(Duration bound) {
    if (!process.isAlive()) {
      return true;
    }
    List<ProcessHandle> tree = tree();
    // A paused server would never act on the shutdown signal.
    Launcher.signal("CONT", pids(tree));
    Launcher.signal(shutdownSignal, List.of(pid()));
    try {
      if (process.waitFor(bound.toMillis(), TimeUnit.MILLISECONDS)) {
        awaitGone(tree, CHILD_EXIT_WAIT);
        return true;
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    log.warn(
        "{}: pid {} did not shut down within {}, sending SIGKILL; log {}",
        name,
        pid(),
        bound,
        logFile);
    kill();
    return false;
  }

  /** The server first, then its children (snapshot). */
  List<ProcessHandle> tree() {
    List<ProcessHandle> tree = new ArrayList<>();
    tree.add(process.toHandle());
    process.descendants().forEach(tree::add);
    return tree;
  }

  /** True when the process no longer exists or is a zombie (a zombie cannot do anything). */
  static boolean isGone(ProcessHandle handle) {
    if (!handle.isAlive()) {
      return true;
    }
    char state = state(handle);
    return state == 'Z' || state == '?';
  }

  /** The state letter of /proc/PID/stat (R, S, T, Z, ...); '?' when there is no such process. */
  static char state(ProcessHandle handle) {
    try {
      String stat = Files.readString(Path.of("/proc", Long.toString(handle.pid()), "stat"));
      int close = stat.lastIndexOf(')');
      return close > 0 && close + 2 < stat.length() ? stat.charAt(close + 2) : '?';
    } catch (IOException e) {
      return '?'; // no /proc entry: gone
    }
  }

  private void awaitGone(List<ProcessHandle> tree, Duration bound) {
    long deadline = System.nanoTime() + bound.toNanos();
    for (ProcessHandle handle : tree) {
      while (!isGone(handle)) {
        if (System.nanoTime() - deadline > 0) {
          log.warn(
              "{}: process {} still exists {} after the server stopped", name, handle.pid(), bound);
          return;
        }
        sleep(20);
      }
    }
  }

  private static List<Long> pids(List<ProcessHandle> handles) {
    List<Long> pids = new ArrayList<>(handles.size());
    handles.forEach(h -> pids.add(h.pid()));
    return pids;
  }

  private static void sleep(long millis) {
    try {
      Thread.sleep(millis);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  private static void stopAllOnExit() {
    List<ServerProcess> left = new ArrayList<>(RUNNING);
    if (left.isEmpty()) {
      return;
    }
    if (ownerStopsAtExit) {
      // the application stops its servers itself, once what it serves has drained (Halo lets its
      // sessions finish first): stop only what is still running after that
      long until = System.nanoTime() + OWNER_STOP_WAIT.toNanos();
      for (ServerProcess server : left) {
        try {
          server.process.waitFor(Math.max(0, until - System.nanoTime()), TimeUnit.NANOSECONDS);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          break;
        }
      }
      left = new ArrayList<>(RUNNING);
      left.removeIf(server -> !server.process.isAlive()); // (RUNNING hears of an exit later)
      if (left.isEmpty()) {
        return;
      }
      log.warn(
          "JVM exits: {} server(s) still running after the application's own shutdown; stopping"
              + " them",
          left.size());
    } else {
      log.warn("JVM exits with {} test servers still running; stopping them", left.size());
    }
    for (ServerProcess server : left) {
      Launcher.signal("CONT", pids(server.tree()));
      Launcher.signal(server.shutdownSignal, List.of(server.pid()));
    }
    long deadline = System.nanoTime() + Duration.ofSeconds(5).toNanos();
    for (ServerProcess server : left) {
      long remaining = Math.max(0, deadline - System.nanoTime());
      try {
        if (!server.process.waitFor(remaining, TimeUnit.NANOSECONDS)) {
          server.kill();
        }
      } catch (InterruptedException e) {
        server.kill();
      }
    }
  }
}

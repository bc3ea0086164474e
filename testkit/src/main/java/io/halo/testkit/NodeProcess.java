package io.halo.testkit;

import java.time.Duration;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The running server process of one test node (PostgreSQL or MariaDB) and the faults a test can
 * inject into it: kill (crash), pause/resume (hang), stop (clean shutdown with a bound).
 */
final class NodeProcess {

  private static final Logger log = LoggerFactory.getLogger(NodeProcess.class);

  private final String name;
  private volatile ServerProcess process;

  NodeProcess(String name) {
    this.name = name;
  }

  ServerProcess get() {
    return process;
  }

  void set(ServerProcess started) {
    this.process = started;
  }

  long pid() {
    ServerProcess p = process;
    return p == null ? -1 : p.pid();
  }

  boolean isRunning() {
    ServerProcess p = process;
    return p != null && p.isAlive();
  }

  void kill() {
    ServerProcess p = process;
    if (p == null || !p.isAlive()) {
      log.debug("{}: kill() while not running", name);
      return;
    }
    log.info("{}: SIGKILL pid {}", name, p.pid());
    p.kill();
  }

  void pause() {
    ServerProcess p = requireRunning("pause");
    log.info("{}: SIGSTOP pid {}", name, p.pid());
    p.pause();
  }

  void resume() {
    ServerProcess p = requireRunning("resume");
    log.info("{}: SIGCONT pid {}", name, p.pid());
    p.resume();
  }

  void stop(Duration timeout) {
    ServerProcess p = process;
    if (p == null || !p.isAlive()) {
      return;
    }
    log.info("{}: shutdown of pid {}", name, p.pid());
    p.shutdown(timeout);
  }

  List<ProcessHandle> tree() {
    ServerProcess p = process;
    return p == null ? List.of() : p.tree();
  }

  ServerProcess requireRunning(String action) {
    ServerProcess p = process;
    if (p == null || !p.isAlive()) {
      throw new IllegalStateException("cannot " + action + " " + name + ": it is not running");
    }
    return p;
  }
}

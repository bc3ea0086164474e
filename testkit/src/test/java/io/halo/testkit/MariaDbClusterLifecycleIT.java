package io.halo.testkit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.sql.Connection;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * Start, restart and close of small MariaDB clusters: what close() leaves behind, what keepLogs()
 * keeps.
 */
class MariaDbClusterLifecycleIT {

  @Test
  void close_leaves_no_process_and_no_directory() throws Exception {
    // Given a running primary with one replica
    MariaDbCluster cluster =
        MariaDbCluster.builder().name("mlife").replicas(1).user("app", "pw").start();
    Path base = cluster.baseDir();
    List<ProcessHandle> processes = new ArrayList<>();
    cluster.nodes().forEach(n -> processes.addAll(n.processTree()));
    assertThat(processes).hasSize(2);
    cluster.replicas().get(0).connect("app", "pw", null).close(); // the user was replicated

    // When it is closed
    cluster.close();

    // Then every process it had is gone, and so is its base dir
    assertThat(processes).allMatch(ServerProcess::isGone);
    assertThat(cluster.nodes()).noneMatch(MariaDbNode::isRunning);
    assertThat(base).doesNotExist();
    cluster.close(); // idempotent
  }

  @Test
  void replicas_find_a_restarted_primary_by_themselves() throws Exception {
    try (MariaDbCluster cluster = MariaDbCluster.builder().name("mrestart").replicas(1).start()) {
      // Given a primary that is stopped cleanly and started again on the same port
      MariaDbNode primary = cluster.primary();
      long oldPid = primary.pid();
      primary.stop();
      assertThat(primary.isRunning()).isFalse();
      primary.start();
      assertThat(primary.pid()).isNotEqualTo(oldPid);

      // When it commits
      try (Connection c = primary.connectAsRoot();
          Statement st = c.createStatement()) {
        st.execute("CREATE DATABASE after_restart");
      }

      // Then the replica reconnects (1 s retry) and applies it
      cluster.awaitReplicating(Duration.ofSeconds(20));
      MariaDbClusterIT.awaitValue(
          cluster.replicas().get(0),
          "SELECT count(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = 'after_restart'",
          "1");
    }
  }

  @Test
  void keep_logs_keeps_the_data_dir_and_copies_the_server_log() throws Exception {
    // Given a cluster in a chosen base dir, marked to keep its logs
    Path base = Files.createTempDirectory("halo-mkeep-");
    Files.setPosixFilePermissions(base, PosixFilePermissions.fromString("rwxr-xr-x"));
    try (MariaDbCluster cluster = MariaDbCluster.builder().name("mkeep").baseDir(base).start()) {
      assertThat(cluster.primary().name()).isEqualTo("mkeep1");
      cluster.keepLogs();
    }
    // Then the data dir is still there and the log was copied
    assertThat(base.resolve("mkeep1/data/mysql")).isDirectory();
    try (Stream<Path> copies = Files.list(logs())) {
      Path copy =
          copies
              .filter(p -> p.getFileName().toString().startsWith("mkeep-"))
              .findFirst()
              .orElseThrow();
      assertThat(Files.readString(copy.resolve("mkeep1.log"))).contains("ready for connections");
      Dirs.deleteTree(copy);
    }
    Dirs.deleteTree(base);
  }

  @Test
  void a_server_that_cannot_start_fails_start_with_its_log_and_leaves_nothing() throws Exception {
    Path base = Files.createTempDirectory("halo-mbad-");
    Files.setPosixFilePermissions(base, PosixFilePermissions.fromString("rwxr-xr-x"));

    assertThatThrownBy(
            () ->
                MariaDbCluster.builder()
                    .name("mbad")
                    .baseDir(base)
                    .setting("no_such_option", "1")
                    .start())
        .isInstanceOf(java.io.IOException.class)
        .hasMessageContaining("mbad1: mariadbd (pid")
        .hasMessageContaining("exited with code")
        .hasMessageContaining("no_such_option")
        .hasMessageContaining("server logs copied to");

    assertThat(base.resolve("mbad1")).doesNotExist();
    Dirs.deleteTree(base);
    try (Stream<Path> copies = Files.list(logs())) {
      for (Path copy :
          (Iterable<Path>)
              copies.filter(p -> p.getFileName().toString().startsWith("mbad-"))::iterator) {
        Dirs.deleteTree(copy);
      }
    }
  }

  private static Path logs() {
    return Path.of(System.getProperty("halo.testkit.logs", "target/testkit-logs"));
  }
}

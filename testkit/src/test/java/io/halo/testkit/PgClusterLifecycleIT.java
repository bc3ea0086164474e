package io.halo.testkit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/** Start and close of small clusters: what close() leaves behind, and what keepLogs() keeps. */
class PgClusterLifecycleIT {

  @Test
  void close_leaves_no_process_and_no_directory() throws Exception {
    // Given a running single-node cluster with md5 authentication
    PgCluster cluster = PgCluster.builder().name("life").hostAuth("md5").user("app", "pw").start();
    Path base = cluster.baseDir();
    List<ProcessHandle> processes = cluster.primary().processTree();
    assertThat(processes).hasSizeGreaterThan(1); // postmaster and its helpers
    cluster.primary().connect("app", "pw", "postgres").close();
    try (Connection c = cluster.primary().connectAsSuperuser();
        Statement st = c.createStatement();
        ResultSet rs =
            st.executeQuery(
                "SELECT rolpassword LIKE 'md5%' FROM pg_authid WHERE rolname = 'app'")) {
      assertThat(rs.next()).isTrue();
      assertThat(rs.getBoolean(1)).isTrue();
    }

    // When it is closed
    cluster.close();

    // Then every process it had is gone, and so is its base dir
    assertThat(processes).allMatch(ServerProcess::isGone);
    assertThat(cluster.primary().isRunning()).isFalse();
    assertThat(base).doesNotExist();
    cluster.close(); // idempotent
  }

  @Test
  void keep_logs_keeps_the_data_dir_and_copies_the_server_log() throws Exception {
    // Given a cluster in a chosen base dir, marked to keep its logs
    Path base = Files.createTempDirectory("halo-keep-");
    Files.setPosixFilePermissions(base, PosixFilePermissions.fromString("rwxr-xr-x"));
    Path logs = Path.of(System.getProperty("halo.testkit.logs", "target/testkit-logs"));
    try (PgCluster cluster =
        PgCluster.builder().name("keep").hostAuth("trust").baseDir(base).start()) {
      assertThat(cluster.primary().name()).isEqualTo("keep1");
      cluster.keepLogs();
    }
    // Then the data dir is still there and the log was copied
    assertThat(base.resolve("keep1/data/PG_VERSION")).exists();
    try (Stream<Path> copies = Files.list(logs)) {
      Path copy =
          copies
              .filter(p -> p.getFileName().toString().startsWith("keep-"))
              .findFirst()
              .orElseThrow();
      assertThat(Files.readString(copy.resolve("keep1.log"))).contains("database system is ready");
      Dirs.deleteTree(copy);
    }
    Dirs.deleteTree(base);
  }

  @Test
  void a_server_that_cannot_start_fails_start_with_its_log_and_leaves_nothing() throws Exception {
    Path base = Files.createTempDirectory("halo-bad-");
    Files.setPosixFilePermissions(base, PosixFilePermissions.fromString("rwxr-xr-x"));

    assertThatThrownBy(
            () ->
                PgCluster.builder()
                    .name("bad")
                    .baseDir(base)
                    .setting("shared_buffers", "lots")
                    .start())
        .isInstanceOf(java.io.IOException.class)
        .hasMessageContaining("bad1: postgres (pid")
        .hasMessageContaining("exited with code")
        .hasMessageContaining("shared_buffers")
        .hasMessageContaining("server logs copied to");

    assertThat(base.resolve("bad1")).doesNotExist();
    Dirs.deleteTree(base);
    deleteLogCopies("bad-");
  }

  private static void deleteLogCopies(String prefix) throws Exception {
    Path logs = Path.of(System.getProperty("halo.testkit.logs", "target/testkit-logs"));
    try (Stream<Path> copies = Files.list(logs)) {
      for (Path copy :
          (Iterable<Path>)
              copies.filter(p -> p.getFileName().toString().startsWith(prefix))::iterator) {
        Dirs.deleteTree(copy);
      }
    }
  }

  @Test
  void synchronous_replication_without_standbys_is_refused() {
    assertThatThrownBy(() -> PgCluster.builder().synchronous(true).start())
        .isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("at least one standby");
  }
}

package io.halo.testkit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class MariaDbConfigTest {
  private static final Path BASE = Path.of("/opt/mariadb");
  private static final Path DATA = Path.of("/tmp/m1/data");
  private static final Path SOCKET = Path.of("/tmp/m1/mysqld.sock");
  private static final Path TMP = Path.of("/tmp/m1/tmp");

  @Test
  void a_primary_logs_gtid_binlogs_and_puts_extra_settings_last() {
    MariaDbConfig config =
        new MariaDbConfig(
            33061,
            1,
            BASE,
            DATA,
            SOCKET,
            TMP,
            false,
            false,
            List.of(Map.entry("max_connections", "50"), Map.entry("sql_mode", "ANSI_QUOTES")));

    String cnf = config.render();

    assertThat(cnf)
        .startsWith("# written by halo-testkit\n[mysqld]\n")
        .contains(
            "port = 33061\n",
            "server_id = 1\n",
            "datadir = /tmp/m1/data\n",
            "basedir = /opt/mariadb\n",
            "socket = /tmp/m1/mysqld.sock\n",
            "tmpdir = /tmp/m1/tmp\n",
            "log_bin = mysql-bin\n",
            "log_slave_updates = ON\n",
            "binlog_format = ROW\n",
            "gtid_strict_mode = ON\n",
            "skip_name_resolve = ON\n",
            "read_only = OFF\n",
            "ssl = OFF\n",
            "sql_mode = ANSI_QUOTES\n");
    assertThat(cnf.lastIndexOf("max_connections = 50"))
        .isGreaterThan(cnf.indexOf("max_connections = 300"));
    assertThat(cnf).doesNotContain("rpl_semi_sync");
  }

  @Test
  void semi_sync_is_the_master_side_on_the_primary_and_the_slave_side_on_replicas() {
    String primary =
        new MariaDbConfig(1, 1, BASE, DATA, SOCKET, TMP, false, true, List.of()).render();
    String replica =
        new MariaDbConfig(2, 2, BASE, DATA, SOCKET, TMP, true, true, List.of()).render();

    assertThat(primary)
        .contains("rpl_semi_sync_master_enabled = ON\n")
        .doesNotContain("rpl_semi_sync_slave");
    assertThat(replica)
        .contains("rpl_semi_sync_slave_enabled = ON\n", "read_only = ON\n", "server_id = 2\n")
        .doesNotContain("rpl_semi_sync_master");
  }

  @Test
  void rejects_settings_that_would_break_the_option_file() {
    MariaDbConfig config =
        new MariaDbConfig(
            1,
            1,
            BASE,
            DATA,
            SOCKET,
            TMP,
            false,
            false,
            List.of(Map.entry("init_connect", "SET a=1\nskip_grant_tables")));

    assertThatThrownBy(config::render)
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("single line");
  }

  @Test
  void long_socket_paths_move_to_tmp() {
    assertThat(MariaDbConfig.socketPath(Path.of("/tmp/short"), 3306))
        .isEqualTo(Path.of("/tmp/short/mysqld.sock"));
    assertThat(MariaDbConfig.socketPath(Path.of("/tmp/" + "x".repeat(100)), 3306))
        .isEqualTo(Path.of("/tmp/halo-mariadb-3306.sock"));
  }

  @Test
  void quotes_literals_identifiers_and_accounts() {
    assertThat(MariaDbClusterSetup.literal("it's \\")).isEqualTo("'it''s \\\\'");
    assertThat(MariaDbClusterSetup.ident("a`b")).isEqualTo("`a``b`");
    assertThat(MariaDbClusterSetup.account("app")).isEqualTo("'app'@'%'");
  }

  @Test
  void a_system_bin_dir_needs_mariadbd_and_the_install_script() throws Exception {
    Path dir = Files.createTempDirectory("halo-mdb-bin-");
    try {
      Path bin = Files.createDirectories(dir.resolve("bin"));
      assertThatThrownBy(() -> MariaDbBinaries.fromBinDir(bin))
          .hasMessageContaining("no executable mariadbd");
      executable(bin.resolve("mariadbd"));
      assertThatThrownBy(() -> MariaDbBinaries.fromBinDir(bin))
          .hasMessageContaining("mariadb-install-db");
      executable(Files.createDirectories(dir.resolve("scripts")).resolve("mariadb-install-db"));

      MariaDbBinaries found = MariaDbBinaries.fromBinDir(bin);

      assertThat(found.baseDir()).isEqualTo(dir);
      assertThat(found.installDb()).isEqualTo(dir.resolve("scripts/mariadb-install-db"));
    } finally {
      Dirs.deleteTree(dir);
    }
  }

  @Test
  void builder_rejects_bad_names_and_counts() {
    assertThatThrownBy(() -> MariaDbCluster.builder().name("a b"))
        .hasMessageContaining("must match");
    assertThatThrownBy(() -> MariaDbCluster.builder().replicas(9))
        .hasMessageContaining("between 0 and 8");
    assertThatThrownBy(() -> MariaDbCluster.builder().semiSync(true).start())
        .hasMessageContaining("needs at least one replica");
  }

  private static void executable(Path file) throws Exception {
    Files.writeString(file, "#!/bin/sh\n");
    file.toFile().setExecutable(true);
  }
}

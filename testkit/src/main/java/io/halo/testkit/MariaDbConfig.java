package io.halo.testkit;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * The my.cnf of one MariaDB node, regenerated whole each time (so the primary's file can gain the
 * semi-sync master switch once its replicas exist, see {@link MariaDbCluster}).
 *
 * @param port the node's TCP port on 127.0.0.1
 * @param serverId unique per node
 * @param baseDir the installation dir (share/ for error messages)
 * @param dataDir the data dir
 * @param socket unix socket path (mariadbd always opens one)
 * @param tmpDir the node's own tmpdir (temporary tables of concurrent servers stay apart, and a
 *     killed server's leftovers go with the node)
 * @param replica read_only, and the semi-sync slave side when {@code semiSync}
 * @param semiSync on a replica the slave side, on the primary the master side (never both: a
 *     replica with the master side on and log_slave_updates stalls its SQL thread waiting for an
 *     ACK nobody sends)
 * @param settings extra lines, in order; they come last and so win
 */
record MariaDbConfig(
    int port,
    int serverId,
    Path baseDir,
    Path dataDir,
    Path socket,
    Path tmpDir,
    boolean replica,
    boolean semiSync,
    List<Map.Entry<String, String>> settings) {

  /** Unix socket paths are limited to 107 bytes. */
  static final int MAX_SOCKET_PATH = 100;

  MariaDbConfig {
    settings = List.copyOf(settings);
  }

  /**
   * {@code dir/mysqld.sock} when short enough for a unix socket, else one under /tmp named by port.
   */
  static Path socketPath(Path dir, int port) {
    Path inDir = dir.toAbsolutePath().resolve("mysqld.sock");
    return inDir.toString().length() <= MAX_SOCKET_PATH
        ? inDir
        : Path.of("/tmp", "halo-mariadb-" + port + ".sock");
  }

  void write(Path file) throws IOException {
    Files.writeString(file, render());
  }

  String render() {
    StringBuilder cnf = new StringBuilder("# written by halo-testkit\n[mysqld]\n");
    line(cnf, "basedir", baseDir.toString());
    line(cnf, "datadir", dataDir.toString());
    line(cnf, "port", Integer.toString(port));
    line(cnf, "bind_address", "127.0.0.1");
    line(cnf, "socket", socket.toString());
    line(cnf, "tmpdir", tmpDir.toString());
    line(cnf, "pid_file", dataDir.resolve("mariadbd.pid").toString());
    line(cnf, "server_id", Integer.toString(serverId));
    line(cnf, "log_bin", "mysql-bin");
    line(cnf, "log_slave_updates", "ON");
    line(cnf, "binlog_format", "ROW");
    line(cnf, "gtid_strict_mode", "ON");
    line(cnf, "skip_name_resolve", "ON");
    // 11.4 otherwise generates a 4096-bit RSA key for automatic TLS at every start: about 10 s
    // of CPU on a small VM. Clients and replicas here connect without TLS.
    line(cnf, "ssl", "OFF");
    line(cnf, "read_only", replica ? "ON" : "OFF");
    // A killed or paused peer is noticed in 10 s instead of 60 s; HA tests wait for that.
    line(cnf, "slave_net_timeout", "10");
    line(cnf, "max_connections", "300");
    line(cnf, "performance_schema", "OFF");
    line(cnf, "innodb_buffer_pool_size", "32M");
    line(cnf, "innodb_log_file_size", "16M");
    // Durability against OS crashes is not under test; a killed server loses nothing with
    // these (the OS has the writes), and semi-sync still waits for the replica's ACK.
    line(cnf, "innodb_flush_log_at_trx_commit", "2");
    line(cnf, "sync_binlog", "0");
    if (semiSync) {
      line(cnf, replica ? "rpl_semi_sync_slave_enabled" : "rpl_semi_sync_master_enabled", "ON");
    }
    for (Map.Entry<String, String> setting : settings) {
      line(cnf, setting.getKey(), setting.getValue());
    }
    return cnf.toString();
  }

  /**
   * Values are written bare: option files take the rest of the line (after trimming) as the value,
   * and quotes would be kept for some options. A line break would start a new option.
   */
  private static void line(StringBuilder cnf, String key, String value) {
    if (key.isBlank() || key.contains("=") || key.contains("\n") || value.contains("\n")) {
      throw new IllegalArgumentException(
          "my.cnf setting must be a single line key=value, was '" + key + "' = '" + value + "'");
    }
    cnf.append(key.trim()).append(" = ").append(value).append('\n');
  }
}

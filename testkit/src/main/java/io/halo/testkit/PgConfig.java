package io.halo.testkit;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.Map;

/**
 * Writes postgresql.conf and pg_hba.conf of one node. The files are regenerated whole (not appended
 * to), so a standby copied from the primary gets its own port and standby settings, and the primary
 * gets synchronous_standby_names only once its standbys exist (earlier, the setup statements would
 * wait for a standby forever).
 *
 * @param port the node's TCP port
 * @param socketDir unix socket directory, or null for none
 * @param hostAuth pg_hba method for TCP connections
 * @param settings extra settings, in order; they come last and so win
 * @param synchronousStandbyNames value for the primary, or null
 * @param primaryConninfo value for a standby, or null
 * @param primarySlotName value for a standby, or null
 * @param tls server certificate and key: ssl on, and pg_hba.conf of hostssl lines only; or null
 */
record PgConfig(
    int port,
    Path socketDir,
    String hostAuth,
    List<Map.Entry<String, String>> settings,
    String synchronousStandbyNames,
    String primaryConninfo,
    String primarySlotName,
    TestCertificates.Pair tls) {

  PgConfig(
      int port,
      Path socketDir,
      String hostAuth,
      List<Map.Entry<String, String>> settings,
      String synchronousStandbyNames,
      String primaryConninfo,
      String primarySlotName) {
    this(
        port,
        socketDir,
        hostAuth,
        settings,
        synchronousStandbyNames,
        primaryConninfo,
        primarySlotName,
        null);
  }

  /** Unix socket paths are limited to 107 bytes; the socket file name takes up to 17. */
  private static final int MAX_SOCKET_DIR = 90;

  PgConfig {
    settings = List.copyOf(settings);
  }

  static Path socketDirOrNull(Path dir) {
    return dir.toAbsolutePath().toString().length() <= MAX_SOCKET_DIR ? dir.toAbsolutePath() : null;
  }

  void write(Path dataDir) throws IOException {
    Files.writeString(dataDir.resolve("postgresql.conf"), postgresqlConf());
    Files.writeString(dataDir.resolve("pg_hba.conf"), hba());
    if (tls != null) {
      // PostgreSQL refuses a key that others may read; the launcher then gives both to the
      // server's user.
      Files.copy(tls.cert(), dataDir.resolve("server.crt"), StandardCopyOption.REPLACE_EXISTING);
      Path key = dataDir.resolve("server.key");
      Files.copy(tls.key(), key, StandardCopyOption.REPLACE_EXISTING);
      Files.setPosixFilePermissions(key, PosixFilePermissions.fromString("rw-------"));
    }
  }

  String postgresqlConf() {
    StringBuilder conf = new StringBuilder("# written by halo-testkit\n");
    line(conf, "listen_addresses", "127.0.0.1");
    line(conf, "port", Integer.toString(port));
    line(conf, "unix_socket_directories", socketDir == null ? "" : socketDir.toString());
    line(conf, "max_connections", "300");
    line(conf, "shared_buffers", "32MB");
    line(conf, "dynamic_shared_memory_type", "posix");
    line(conf, "wal_level", "replica");
    line(conf, "max_wal_senders", "16");
    line(conf, "max_replication_slots", "16");
    line(conf, "wal_keep_size", "64MB");
    line(conf, "hot_standby", "on");
    // A killed or paused peer is noticed in 10 s instead of 60 s; HA tests wait for that.
    line(conf, "wal_sender_timeout", "10s");
    line(conf, "wal_receiver_timeout", "10s");
    // pg_rewind (with HALO_PG_BIN) needs hint bits in the WAL; cheap at test sizes.
    line(conf, "wal_log_hints", "on");
    // Durability against OS crashes is not under test; synchronous_commit stays at its default
    // so that synchronous replication still waits for the standby.
    line(conf, "fsync", "off");
    line(conf, "full_page_writes", "on");
    line(conf, "password_encryption", "md5".equals(hostAuth) ? "md5" : "scram-sha-256");
    line(conf, "log_line_prefix", "%m [%p] %q%a@%d ");
    line(conf, "log_timezone", "UTC");
    line(conf, "timezone", "UTC");
    line(conf, "lc_messages", "C");
    line(conf, "datestyle", "iso, mdy");
    line(conf, "default_text_search_config", "pg_catalog.english");
    if (synchronousStandbyNames != null) {
      line(conf, "synchronous_standby_names", synchronousStandbyNames);
    }
    if (primaryConninfo != null) {
      line(conf, "primary_conninfo", primaryConninfo);
      line(conf, "primary_slot_name", primarySlotName);
    }
    if (tls != null) {
      line(conf, "ssl", "on");
      line(conf, "ssl_cert_file", "server.crt");
      line(conf, "ssl_key_file", "server.key");
    }
    for (Map.Entry<String, String> setting : settings) {
      line(conf, setting.getKey(), setting.getValue());
    }
    return conf.toString();
  }

  String hba() {
    String host = tls == null ? "host   " : "hostssl";
    return "# written by halo-testkit\n"
        + "local   all          all                  trust\n"
        + "local   replication  all                  trust\n"
        + host
        + " all          all   127.0.0.1/32   "
        + hostAuth
        + "\n"
        + host
        + " all          all   ::1/128        "
        + hostAuth
        + "\n"
        + host
        + " replication  all   127.0.0.1/32   "
        + hostAuth
        + "\n"
        + host
        + " replication  all   ::1/128        "
        + hostAuth
        + "\n";
  }

  /** Every value quoted: PostgreSQL accepts quoted numbers and booleans too. */
  private static void line(StringBuilder conf, String key, String value) {
    conf.append(key)
        .append(" = '")
        .append(value.replace("\\", "\\\\").replace("'", "''"))
        .append("'\n");
  }

  /** A libpq connection-string value, quoted. */
  static String conninfoValue(String value) {
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'";
  }
}

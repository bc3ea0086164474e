package io.halo.proxy.mysql;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.halo.conf.model.AuthMethod;
import io.halo.conf.model.Route;
import io.halo.conf.model.UserConfig;
import io.halo.proxy.HaloServer;
import io.halo.testkit.KeepLogsOnFailure;
import io.halo.testkit.MariaDbCluster;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Halo logs in to a MariaDB account that uses the ed25519 plugin (client_ed25519). The embedded
 * MariaDB binaries ship no auth_ed25519 server plugin, so this runs where the system has one
 * (Debian's mariadb-server: /usr/lib/mysql/plugin/auth_ed25519.so, or HALO_ED25519_PLUGIN_DIR) and
 * the embedded server can load it; otherwise it is skipped, saying why.
 */
class MySqlEd25519IT {

  @RegisterExtension static final KeepLogsOnFailure LOGS = new KeepLogsOnFailure();

  MariaDbCluster cluster;
  HaloServer halo;

  @AfterEach
  void stop() {
    if (halo != null) {
      halo.close();
    }
    if (cluster != null) {
      cluster.close();
    }
  }

  @Test
  void halo_signs_the_nonce_for_an_ed25519_backend_account() throws Exception {
    Path dir =
        Path.of(System.getenv().getOrDefault("HALO_ED25519_PLUGIN_DIR", "/usr/lib/mysql/plugin"));
    assumeTrue(Files.isReadable(dir.resolve("auth_ed25519.so")), "no auth_ed25519.so in " + dir);
    cluster =
        LOGS.watch(
            MariaDbCluster.builder()
                .name("myed")
                .user("app", "apppw")
                .database("app")
                .setting("plugin_dir", dir.toString())
                .start());
    try (Connection root = cluster.primary().connectAsRoot()) {
      try {
        root.createStatement().execute("INSTALL SONAME 'auth_ed25519'");
      } catch (SQLException e) {
        assumeTrue(
            false,
            "the server cannot load " + dir.resolve("auth_ed25519.so") + ": " + e.getMessage());
      }
      root.createStatement()
          .execute("CREATE USER 'ed'@'%' IDENTIFIED VIA ed25519 USING PASSWORD('ed-secret')");
      root.createStatement().execute("GRANT ALL ON app.* TO 'ed'@'%'");
    }
    halo =
        MySqlHalo.start(
            cluster,
            MySqlHalo.THROTTLE,
            List.of(
                new UserConfig("app", "apppw", AuthMethod.SCRAM_SHA_256, "ed", "ed-secret"),
                new UserConfig(
                    "wrong", "wrongpw", AuthMethod.SCRAM_SHA_256, "ed", "not-the-secret")),
            Route.PRIMARY);
    String url =
        "jdbc:mysql://127.0.0.1:"
            + halo.boundAddresses().get(0).getPort()
            + "/app?allowPublicKeyRetrieval=true&sslMode=DISABLED";
    try (Connection conn = DriverManager.getConnection(url, "app", "apppw");
        ResultSet rs = conn.createStatement().executeQuery("select current_user()")) {
      rs.next();
      assertThat(rs.getString(1)).isEqualTo("ed@%");
    }
    // a wrong backend password is the server's refusal, passed on
    org.assertj.core.api.Assertions.assertThatThrownBy(
            () -> DriverManager.getConnection(url, "wrong", "wrongpw"))
        .isInstanceOfSatisfying(
            SQLException.class, e -> assertThat(e.getErrorCode()).isEqualTo(1045));
  }
}

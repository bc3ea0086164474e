package io.halo.proxy.mysql;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.halo.conf.model.AuthMethod;
import io.halo.conf.model.AuthQueryConfig;
import io.halo.conf.model.HostPort;
import io.halo.conf.model.Route;
import io.halo.conf.model.UserConfig;
import io.halo.proxy.HaloServer;
import io.halo.testkit.MariaDbCluster;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * {@code auth_query} on MariaDB: accounts Halo's config does not list log in through Halo, their
 * mysql_native_password hash read from {@code mysql.user} on the primary by an auth user with
 * SELECT on it, then native passthrough to the backend.
 */
class MySqlAuthQueryIT {

  static MariaDbCluster cluster;
  static HaloServer halo;

  @BeforeAll
  static void start() throws Exception {
    cluster =
        MariaDbCluster.builder().name("myauthquery").user("app", "apppw").database("app").start();
    try (Connection c = cluster.primary().connectAsRoot();
        Statement s = c.createStatement()) {
      MySqlHalo.createAuthQueryAccounts(s);
      s.execute("CREATE USER 'edna'@'%' IDENTIFIED VIA unix_socket");
    }
    AuthQueryConfig authQuery = MySqlHalo.AUTH_QUERY;
    halo =
        MySqlHalo.start(
            new HostPort("127.0.0.1", cluster.primary().port()),
            cluster.rootUser(),
            MySqlHalo.THROTTLE,
            List.of(new UserConfig("app", "apppw", AuthMethod.MD5, "app", "apppw")),
            l -> l,
            c -> c.withAuthQuery(authQuery),
            Route.PRIMARY);
  }

  @AfterAll
  static void stop() {
    if (halo != null) {
      halo.close();
    }
    if (cluster != null) {
      cluster.close();
    }
  }

  private static Connection connect(String user, String password) throws SQLException {
    Properties p = new Properties();
    p.setProperty("user", user);
    p.setProperty("password", password);
    p.setProperty("sslMode", "DISABLED");
    p.setProperty("connectTimeout", "10000");
    return DriverManager.getConnection(
        "jdbc:mysql://127.0.0.1:" + halo.boundAddresses().get(0).getPort() + "/app", p);
  }

  private static String one(Connection c, String sql) throws SQLException {
    try (Statement s = c.createStatement();
        ResultSet r = s.executeQuery(sql)) {
      r.next();
      return r.getString(1);
    }
  }

  @Test
  void an_unlisted_account_logs_in_with_connector_j() throws Exception {
    assertThat(halo.config().user("carol")).isEmpty();
    assertThat(halo.config().toString()).doesNotContain("carolpw");
    for (int i = 0; i < 3; i++) {
      try (Connection c = connect("carol", "carolpw")) {
        assertThat(one(c, "SELECT CURRENT_USER()")).isEqualTo("carol@%");
        assertThat(one(c, "SELECT 6 * 7")).isEqualTo("42");
      }
    }
  }

  @Test
  void an_unlisted_account_logs_in_with_the_mariadb_client() throws Exception {
    java.nio.file.Path client = MariaDbCluster.client();
    assumeTrue(client != null, "no mariadb client");
    Process p =
        new ProcessBuilder(
                client.toString(),
                "--no-defaults",
                "--protocol=TCP",
                "-h",
                "127.0.0.1",
                "-P",
                String.valueOf(halo.boundAddresses().get(0).getPort()),
                "-u",
                "carol",
                "-pcarolpw",
                "--skip-ssl",
                "-N",
                "-B",
                "app",
                "-e",
                "select current_user(), 6 * 7")
            .redirectErrorStream(true)
            .start();
    p.getOutputStream().close();
    assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertThat(p.exitValue()).as(out).isZero();
    assertThat(out).contains("carol@%\t42");
  }

  @Test
  void a_wrong_password_an_unknown_account_and_another_plugin_get_1045() {
    for (String[] login :
        new String[][] {{"carol", "wrong"}, {"nobody", "carolpw"}, {"edna", "ednapw"}}) {
      SQLException e = catchThrowableOfType(SQLException.class, () -> connect(login[0], login[1]));
      assertThat(e.getErrorCode()).as(login[0]).isEqualTo(1045);
      assertThat(e.getMessage()).contains("Access denied for user '" + login[0] + "'");
    }
  }

  @Test
  void an_account_created_after_halo_started_logs_in() throws Exception {
    try (Connection c = cluster.primary().connectAsRoot();
        Statement s = c.createStatement()) {
      s.execute("CREATE USER 'dave'@'%' IDENTIFIED BY 'davepw'");
      s.execute("GRANT ALL ON app.* TO 'dave'@'%'");
    }
    org.awaitility.Awaitility.await()
        .atMost(Duration.ofSeconds(10))
        .pollInterval(Duration.ofMillis(300))
        .untilAsserted(
            () -> {
              try (Connection c = connect("dave", "davepw")) {
                assertThat(one(c, "SELECT CURRENT_USER()")).isEqualTo("dave@%");
              }
            });
  }
}

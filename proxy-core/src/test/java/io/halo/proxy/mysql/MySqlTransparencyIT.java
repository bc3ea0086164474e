package io.halo.proxy.mysql;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.halo.conf.model.AuthMethod;
import io.halo.conf.model.Route;
import io.halo.conf.model.UserConfig;
import io.halo.proxy.HaloServer;
import io.halo.testkit.MariaDbCluster;
import java.io.File;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * What a client sees through Halo exactly as directly (issue 11, "Transparency", MySQL items): the
 * server version, the client capabilities (CLIENT_IGNORE_SPACE), MariaDB's extended metadata, KILL
 * with the backend's thread id, a refused COM_CHANGE_USER. The server runs with a version string of
 * its own, so a Halo that made its version up would show.
 */
class MySqlTransparencyIT {

  static final String VERSION = "11.4.5-MariaDB-transparency";
  static MariaDbCluster cluster;
  static HaloServer halo;

  @BeforeAll
  static void start() throws Exception {
    cluster =
        MariaDbCluster.builder()
            .name("mytransp")
            .user("app", "apppw")
            .database("app")
            .setting("version", VERSION)
            .start();
    halo =
        MySqlHalo.start(
            cluster,
            MySqlHalo.THROTTLE,
            List.of(
                new UserConfig("app", "apppw", AuthMethod.SCRAM_SHA_256, "app", "apppw"),
                new UserConfig("legacy", "legacypw", AuthMethod.MD5, "app", "apppw")),
            Route.PRIMARY);
    try (Connection c = cluster.primary().connect("app", "apppw", "app");
        Statement s = c.createStatement()) {
      s.execute("create table if not exists t(i int, j json, p point)");
      s.execute("insert into t values (1, '{\"a\": 1}', point(1, 2)), (2, '[]', point(3, 4))");
    }
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

  private static int port() {
    return halo.boundAddresses().get(0).getPort();
  }

  private static Connection viaHalo() throws SQLException {
    Properties p = new Properties();
    p.setProperty("user", "app");
    p.setProperty("password", "apppw");
    p.setProperty("sslMode", "DISABLED");
    p.setProperty("allowPublicKeyRetrieval", "true");
    return DriverManager.getConnection("jdbc:mysql://127.0.0.1:" + port() + "/app", p);
  }

  private static String value(Connection c, String sql) throws SQLException {
    try (Statement s = c.createStatement();
        ResultSet rs = s.executeQuery(sql)) {
      rs.next();
      return rs.getString(1);
    }
  }

  @Test
  void the_greeting_names_the_backends_version_with_a_halo_suffix() throws Exception {
    try (Connection direct = cluster.primary().connect("app", "apppw", "app");
        Connection c = viaHalo()) {
      assertThat(value(direct, "select version()")).isEqualTo(VERSION);
      assertThat(value(c, "select version()")).isEqualTo(VERSION);
      // the version Connector/J read from Halo's greeting
      assertThat(c.getMetaData().getDatabaseProductVersion()).isEqualTo(VERSION + "-halo");
    }
  }

  record Run(int exit, String out) {}

  private static boolean onPath(String tool) {
    for (String dir : System.getenv().getOrDefault("PATH", "").split(File.pathSeparator)) {
      if (new File(dir, tool).canExecute()) {
        return true;
      }
    }
    return false;
  }

  /**
   * The mariadb client, through Halo ({@code port}) or directly, as app; {@code options} before -e.
   */
  private static Run mariadb(int port, String sql, String... options) throws Exception {
    List<String> command = MySqlToolsIT.toolAs("mariadb", port, "app", "apppw");
    command.addAll(List.of(options));
    command.addAll(List.of("app", "-e", sql));
    Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
    p.getOutputStream().close();
    boolean done = p.waitFor(60, TimeUnit.SECONDS);
    if (!done) {
      p.destroyForcibly();
    }
    return new Run(
        done ? p.exitValue() : -1,
        new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8));
  }

  @Test
  void ignore_space_from_the_client_reaches_the_server() throws Exception {
    assumeTrue(onPath("mariadb"), "mariadb client not installed");
    String sql = "select count (*) from t; select @@sql_mode";
    Run direct = mariadb(cluster.primary().port(), sql, "-B", "-i", "-N");
    assertThat(direct.exit()).as(direct.out()).isZero();
    Run proxied = mariadb(port(), sql, "-B", "-i", "-N");
    assertThat(proxied.exit()).as(proxied.out()).isZero();
    assertThat(proxied.out()).isEqualTo(direct.out()).contains("IGNORE_SPACE");
  }

  @Test
  void kill_query_with_the_id_from_connection_id_interrupts_that_query_as_directly()
      throws Exception {
    java.util.concurrent.ExecutorService pool =
        java.util.concurrent.Executors.newSingleThreadExecutor();
    try (Connection victim = viaHalo();
        Connection killer = viaHalo()) {
      String id = value(victim, "select connection_id()");
      java.util.concurrent.Future<Integer> sleeping =
          pool.submit(
              () -> {
                try (Statement s = victim.createStatement()) {
                  s.executeQuery("select sleep(30)").close();
                  return 0;
                } catch (SQLException e) {
                  return e.getErrorCode();
                }
              });
      try (Connection direct = cluster.primary().connect("app", "apppw", "app")) {
        org.awaitility.Awaitility.await()
            .atMost(java.time.Duration.ofSeconds(10))
            .until(
                () ->
                    "1"
                        .equals(
                            value(
                                direct,
                                "select count(*) from information_schema.processlist where id = "
                                    + id
                                    + " and info like 'select sleep%'")));
      }
      try (Statement s = killer.createStatement()) {
        s.execute("KILL QUERY " + id); // 1094 when Halo took the id for one of its own
      }
      // 1317 ER_QUERY_INTERRUPTED, as directly; without the KILL the sleep would end normally (0)
      assertThat(sleeping.get(60, TimeUnit.SECONDS)).isEqualTo(1317);
      assertThat(value(victim, "select 'still here'")).isEqualTo("still here");
    } finally {
      pool.shutdownNow();
    }
  }

  @Test
  void mariadb_extended_metadata_reaches_the_client_as_directly() throws Exception {
    assumeTrue(onPath("mariadb"), "mariadb client not installed");
    String sql = "select i, j, p from t limit 1";
    Run direct = mariadb(cluster.primary().port(), sql, "--column-type-info", "-t");
    assertThat(direct.exit()).as(direct.out()).isZero();
    assertThat(direct.out())
        .as("the server sends extended type info")
        .contains("format=json")
        .contains("type=point");
    Run proxied = mariadb(port(), sql, "--column-type-info", "-t");
    assertThat(proxied.exit()).as(proxied.out()).isZero();
    assertThat(typeLines(proxied.out())).isEqualTo(typeLines(direct.out()));
  }

  private static List<String> typeLines(String out) {
    return out.lines().filter(l -> l.startsWith("Type:")).toList();
  }
}

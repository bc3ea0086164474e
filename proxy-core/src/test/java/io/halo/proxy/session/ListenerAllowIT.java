package io.halo.proxy.session;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.halo.conf.model.AdminConfig;
import io.halo.conf.model.AuthMethod;
import io.halo.conf.model.BackendConfig;
import io.halo.conf.model.BackendRole;
import io.halo.conf.model.Cidr;
import io.halo.conf.model.ClusterConfig;
import io.halo.conf.model.Engine;
import io.halo.conf.model.FailoverConfig;
import io.halo.conf.model.HaloConfig;
import io.halo.conf.model.HostPort;
import io.halo.conf.model.ListenerConfig;
import io.halo.conf.model.MonitorConfig;
import io.halo.conf.model.Route;
import io.halo.conf.model.ThrottleConfig;
import io.halo.conf.model.UserConfig;
import io.halo.proxy.HaloFixture;
import io.halo.proxy.HaloServer;
import io.halo.proxy.Tools;
import io.halo.testkit.KeepLogsOnFailure;
import io.halo.testkit.MariaDbCluster;
import io.halo.testkit.PgCluster;
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
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * A listener's {@code allow:} list, checked at accept before a byte is read: clients from 127.0.0.2
 * (in the list) log in, clients from 127.0.0.1 are refused with the engine's own error (PostgreSQL
 * FATAL 28000, MySQL ERR 1130 in place of the greeting), whatever their password.
 */
class ListenerAllowIT {

  @RegisterExtension static final KeepLogsOnFailure LOGS = new KeepLogsOnFailure();

  private static final List<Cidr> ONLY_127_0_0_2 = List.of(Cidr.parse("127.0.0.2/32"));

  static PgCluster pg;
  static HaloFixture pgHalo;
  static MariaDbCluster maria;
  static HaloServer mariaHalo;

  @BeforeAll
  static void start() throws Exception {
    pg = LOGS.watch(PgCluster.builder().name("listenallow").user("app", "apppw").start());
    pgHalo =
        HaloFixture.start(
            pg,
            HaloFixture.server(Duration.ofSeconds(15), 64L << 20),
            List.of(new UserConfig("app", "apppw", AuthMethod.SCRAM_SHA_256, "app", "apppw")),
            20,
            c -> withAllow(c, ONLY_127_0_0_2));
    maria = MariaDbCluster.builder().name("listenallowmy").user("app", "apppw").start();
    mariaHalo = startMySql(maria);
  }

  @AfterAll
  static void stop() {
    try {
      if (mariaHalo != null) {
        mariaHalo.close();
      }
      if (maria != null) {
        maria.close();
      }
    } finally {
      HaloFixture.stop(pgHalo, pg);
    }
  }

  private static ClusterConfig withAllow(ClusterConfig c, List<Cidr> allow) {
    return new ClusterConfig(
        c.name(),
        c.engine(),
        c.listeners().stream().map(l -> l.withAllow(allow)).toList(),
        c.backends(),
        c.monitor(),
        c.failover(),
        c.throttle());
  }

  private static HaloServer startMySql(MariaDbCluster cluster) throws InterruptedException {
    ClusterConfig c =
        new ClusterConfig(
            "shop",
            Engine.MYSQL,
            List.of(
                new ListenerConfig(new HostPort("127.0.0.1", 0), Route.PRIMARY, 100, true)
                    .withAllow(ONLY_127_0_0_2)),
            List.of(
                new BackendConfig(
                    "db1",
                    new HostPort("127.0.0.1", cluster.primary().port()),
                    BackendRole.PRIMARY,
                    0)),
            new MonitorConfig(
                cluster.rootUser(),
                null,
                "mysql",
                Duration.ofMillis(500),
                Duration.ofSeconds(1),
                3,
                2),
            new FailoverConfig(
                FailoverConfig.Mode.MANUAL,
                FailoverConfig.Type.HOT,
                16L << 20,
                Duration.ofSeconds(10),
                null,
                null,
                null,
                Duration.ofSeconds(30)),
            new ThrottleConfig(200, 1000, Duration.ofSeconds(2)));
    return HaloServer.start(
        new HaloConfig(
            null,
            HaloFixture.server(Duration.ofSeconds(10), 64L << 20),
            new AdminConfig(new HostPort("127.0.0.1", 0), null),
            List.of(new UserConfig("app", "apppw", AuthMethod.MD5, "app", "apppw")),
            List.of(c)));
  }

  private static Connection pgFrom(String localAddress) throws SQLException {
    return pgHalo.connect(
        "app", "apppw", "postgres", "sslmode=disable&localSocketAddress=" + localAddress);
  }

  private static Connection myFrom(String localAddress) throws SQLException {
    Properties p = new Properties();
    p.setProperty("user", "app");
    p.setProperty("password", "apppw");
    p.setProperty("sslMode", "DISABLED");
    p.setProperty("connectTimeout", "10000");
    p.setProperty("localSocketAddress", localAddress);
    return DriverManager.getConnection(
        "jdbc:mysql://127.0.0.1:" + mariaHalo.boundAddresses().get(0).getPort() + "/", p);
  }

  private static String one(Connection c, String sql) throws SQLException {
    try (Statement s = c.createStatement();
        ResultSet r = s.executeQuery(sql)) {
      r.next();
      return r.getString(1);
    }
  }

  @Test
  void pgjdbc_from_an_allowed_address_logs_in() throws Exception {
    try (Connection c = pgFrom("127.0.0.2")) {
      assertThat(one(c, "SELECT inet_client_addr() IS NOT NULL OR true")).isEqualTo("t");
      assertThat(one(c, "SELECT current_user")).isEqualTo("app");
    }
  }

  @Test
  void pgjdbc_from_another_address_is_refused_with_28000_naming_the_address() {
    SQLException e = catchThrowableOfType(SQLException.class, () -> pgFrom("127.0.0.1"));
    assertThat(e.getSQLState()).isEqualTo("28000");
    assertThat(e.getMessage()).contains("no Halo rule allows host \"127.0.0.1\"");
    assertThat(pgHalo.server().rejections()).containsKey("address_not_allowed");
  }

  @Test
  void psql_from_loopback_is_refused_with_the_servers_message() throws Exception {
    assumeTrue(Tools.onPath("psql"), "psql not installed");
    Tools.Run r =
        Tools.run(
            "apppw",
            "psql",
            "-h",
            "127.0.0.1",
            "-p",
            String.valueOf(pgHalo.primaryListener().getPort()),
            "-U",
            "app",
            "-d",
            "postgres",
            "-At",
            "-c",
            "select 1");
    assertThat(r.exit()).as(r.out()).isNotZero();
    assertThat(r.out())
        .contains("no Halo rule allows host \"127.0.0.1\", user \"app\", database \"postgres\"");
  }

  @Test
  void connector_j_from_an_allowed_address_logs_in() throws Exception {
    try (Connection c = myFrom("127.0.0.2")) {
      assertThat(one(c, "SELECT 6 * 7")).isEqualTo("42");
    }
  }

  @Test
  void connector_j_from_another_address_gets_1130_in_place_of_the_greeting() {
    SQLException e = catchThrowableOfType(SQLException.class, () -> myFrom("127.0.0.1"));
    assertThat(e.getErrorCode()).isEqualTo(1130);
    assertThat(e.getMessage()).contains("Host '127.0.0.1' is not allowed to connect");
  }

  @Test
  void the_mariadb_client_from_loopback_is_refused_with_1130() throws Exception {
    // The MariaDB client has no option to choose its source address: only the refusal here.
    java.nio.file.Path client = MariaDbCluster.client();
    assumeTrue(client != null, "no mariadb client");
    String port = String.valueOf(mariaHalo.boundAddresses().get(0).getPort());
    String[] refused = mariadb(client, port);
    assertThat(refused[0]).as(refused[1]).isNotEqualTo("0");
    assertThat(refused[1]).contains("1130").contains("Host '127.0.0.1' is not allowed to connect");
  }

  private static String[] mariadb(java.nio.file.Path client, String port) throws Exception {
    Process p =
        new ProcessBuilder(
                client.toString(),
                "--no-defaults",
                "--protocol=TCP",
                "-h",
                "127.0.0.1",
                "-P",
                port,
                "-u",
                "app",
                "-papppw",
                "--skip-ssl",
                "-N",
                "-B",
                "-e",
                "select 6 * 7")
            .redirectErrorStream(true)
            .start();
    p.getOutputStream().close();
    boolean done = p.waitFor(60, TimeUnit.SECONDS);
    if (!done) {
      p.destroyForcibly();
    }
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    return new String[] {done ? String.valueOf(p.exitValue()) : "timeout", out};
  }
}

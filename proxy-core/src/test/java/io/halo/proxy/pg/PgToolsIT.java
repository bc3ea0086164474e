package io.halo.proxy.pg;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.halo.conf.model.AuthMethod;
import io.halo.conf.model.ServerConfig;
import io.halo.conf.model.UserConfig;
import io.halo.proxy.HaloFixture;
import io.halo.proxy.Tools;
import io.halo.proxy.transport.Transports;
import io.halo.testkit.KeepLogsOnFailure;
import io.halo.testkit.PgCluster;
import io.netty.channel.uring.IoUring;
import java.sql.Connection;
import java.sql.Statement;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The command-line tools users point at Halo: psql and pgbench (skipped where not installed);
 * pgbench also through a Halo on io_uring.
 */
class PgToolsIT {

  @RegisterExtension static final KeepLogsOnFailure LOGS = new KeepLogsOnFailure();

  static PgCluster cluster;
  static HaloFixture halo;

  /** The same Halo on Linux's io_uring (server.transport: io-uring), where the kernel allows it. */
  static HaloFixture uring;

  @BeforeAll
  static void start() throws Exception {
    cluster =
        LOGS.watch(
            PgCluster.builder().name("toolsit").user("app", "apppw").database("app").start());
    try (Connection c = cluster.primary().connectAsSuperuser();
        Statement s = c.createStatement()) {
      s.execute("ALTER DATABASE app OWNER TO app");
    }
    halo =
        HaloFixture.start(
            cluster,
            HaloFixture.server(Duration.ofSeconds(15), 64L << 20),
            List.of(new UserConfig("app", "apppw", AuthMethod.SCRAM_SHA_256, "app", "apppw")),
            100);
    if (IoUring.isAvailable()) {
      uring =
          HaloFixture.start(
              cluster,
              HaloFixture.server(Duration.ofSeconds(15), 64L << 20)
                  .withTransport(ServerConfig.Transport.IO_URING),
              List.of(new UserConfig("app", "apppw", AuthMethod.SCRAM_SHA_256, "app", "apppw")),
              100);
    }
  }

  @AfterAll
  static void stop() {
    if (uring != null) {
      uring.close();
    }
    HaloFixture.stop(halo, cluster);
  }

  private static String port() {
    return String.valueOf(halo.primaryListener().getPort());
  }

  /** The Halo on {@code transport}: "auto" (the default) or "io-uring". */
  private static HaloFixture on(String transport) {
    if (transport.equals("auto")) {
      return halo;
    }
    assumeTrue(uring != null, "io_uring is not available here");
    return uring;
  }

  @Test
  void psql_runs_queries_and_copy_through_halo() throws Exception {
    assumeTrue(Tools.onPath("psql"), "psql not installed");
    Tools.Run r =
        Tools.run(
            "apppw",
            "psql",
            "-h",
            "127.0.0.1",
            "-p",
            port(),
            "-U",
            "app",
            "-d",
            "app",
            "-v",
            "ON_ERROR_STOP=1",
            "-At",
            "-c",
            "create table if not exists psql_t(i int)",
            "-c",
            "\\copy psql_t from program 'seq 1 1000'",
            "-c",
            "select count(*), sum(i) from psql_t");
    assertThat(r.exit()).as(r.out()).isZero();
    assertThat(r.out()).contains("1000|500500");
  }

  @Test
  void psql_reports_a_wrong_password() throws Exception {
    assumeTrue(Tools.onPath("psql"), "psql not installed");
    Tools.Run r =
        Tools.run(
            "wrong",
            "psql",
            "-h",
            "127.0.0.1",
            "-p",
            port(),
            "-U",
            "app",
            "-d",
            "app",
            "-c",
            "select 1");
    assertThat(r.exit()).isNotZero();
    assertThat(r.out()).contains("password authentication failed for user \"app\"");
  }

  @ParameterizedTest
  @ValueSource(strings = {"auto", "io-uring"})
  void pgbench_initialises_and_runs_simple_and_prepared_without_failures(String transport)
      throws Exception {
    assumeTrue(Tools.onPath("pgbench"), "pgbench not installed");
    HaloFixture through = on(transport);
    assertThat(through.server().transport())
        .isEqualTo(transport.equals("auto") ? Transports.best().name() : "io_uring");
    String port = String.valueOf(through.primaryListener().getPort());
    Tools.Run init = pgbench(port, "-i", "-s", "1");
    assertThat(init.exit()).as(init.out()).isZero();
    for (String mode : List.of("simple", "extended", "prepared")) {
      Tools.Run r = pgbench(port, "-M", mode, "-c", "4", "-j", "2", "-T", "3");
      assertThat(r.exit()).as(r.out()).isZero();
      assertThat(r.out()).as(mode).contains("number of failed transactions: 0");
      assertThat(r.out()).containsPattern("tps = [1-9]");
    }
    // a new connection per transaction: accept, login, relay and close, 200 times over
    Tools.Run connects = pgbench(port, "-S", "-C", "-c", "4", "-j", "2", "-t", "50");
    assertThat(connects.exit()).as(connects.out()).isZero();
    assertThat(connects.out())
        .contains("number of transactions actually processed: 200/200")
        .contains("number of failed transactions: 0");
  }

  /** pgbench with {@code args}, as app on database app, through Halo's listener on {@code port}. */
  private static Tools.Run pgbench(String port, String... args) throws Exception {
    List<String> command = new java.util.ArrayList<>(List.of("pgbench"));
    command.addAll(List.of(args));
    command.addAll(List.of("-h", "127.0.0.1", "-p", port, "-U", "app", "app"));
    return Tools.run("apppw", command.toArray(String[]::new));
  }
}

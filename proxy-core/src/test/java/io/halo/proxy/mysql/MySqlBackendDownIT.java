package io.halo.proxy.mysql;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.halo.conf.model.AuthMethod;
import io.halo.conf.model.HostPort;
import io.halo.conf.model.Route;
import io.halo.conf.model.UserConfig;
import io.halo.proxy.HaloServer;
import io.halo.proxy.Tools;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * A MySQL cluster whose only backend is down: clients get Halo's message in an ERR packet with a
 * server-range code, which the mariadb client (libmariadb) prints; with the client-range 2003 it
 * printed "ERROR 2027 Received malformed packet" instead (issue 10.3).
 */
class MySqlBackendDownIT {

  static HaloServer halo;
  static int deadPort;

  @BeforeAll
  static void start() throws Exception {
    deadPort = io.halo.testkit.Ports.free();
    halo =
        MySqlHalo.start(
            new HostPort("127.0.0.1", deadPort),
            "root",
            MySqlHalo.THROTTLE,
            List.of(new UserConfig("app", "apppw", AuthMethod.SCRAM_SHA_256, "app", "apppw")),
            Route.PRIMARY);
  }

  @AfterAll
  static void stop() {
    if (halo != null) {
      halo.close();
    }
  }

  private static int port() {
    return halo.boundAddresses().get(0).getPort();
  }

  @Test
  void connector_j_gets_a_server_error_code_and_no_backend_address() {
    assertThatThrownBy(
            () ->
                DriverManager.getConnection(
                    "jdbc:mysql://127.0.0.1:"
                        + port()
                        + "/app?sslMode=DISABLED&connectTimeout=20000",
                    "app",
                    "apppw"))
        .isInstanceOf(SQLException.class)
        .satisfies(
            e -> {
              SQLException s = (SQLException) e;
              assertThat(s.getErrorCode()).isBetween(1000, 1999);
              assertThat(s.getMessage()).contains("db1").doesNotContain(String.valueOf(deadPort));
            });
  }

  @Test
  void the_mariadb_client_prints_halos_message_not_malformed_packet() throws Exception {
    assumeTrue(Tools.onPath("mariadb"), "mariadb client not installed");
    Tools.Run r =
        Tools.run(
            "",
            "mariadb",
            "--protocol=TCP",
            "-h",
            "127.0.0.1",
            "-P",
            String.valueOf(port()),
            "-u",
            "app",
            "-papppw",
            "--skip-ssl",
            "-e",
            "select 1");
    assertThat(r.exit()).isNotZero();
    assertThat(r.out()).doesNotContain("malformed").contains("ERROR 1053").contains("db1");
  }

  @Test
  void clients_before_the_first_login_share_one_backend_greeting_read() throws Exception {
    // Given a MySQL listener whose backend accepts connections but never answers (no login has
    // succeeded yet, so Halo must read a backend greeting to greet its clients)
    try (io.halo.testkit.TcpRelay relay =
        io.halo.testkit.TcpRelay.start("hung-backend", "127.0.0.1", deadPort)) {
      HaloServer hung =
          MySqlHalo.start(
              new HostPort("127.0.0.1", relay.port()),
              "root",
              MySqlHalo.THROTTLE,
              List.of(new UserConfig("app", "apppw", AuthMethod.SCRAM_SHA_256, "app", "apppw")),
              Route.PRIMARY);
      List<java.net.Socket> clients = new java.util.ArrayList<>();
      try {
        // (routing waits until the backend has been probed once; then the backend hangs)
        org.awaitility.Awaitility.await()
            .atMost(java.time.Duration.ofSeconds(10))
            .until(
                () ->
                    hung.clusters().get(0).backends().stream()
                        .allMatch(b -> b.lastProbe() != null));
        relay.blackhole();
        int before = relay.accepted();
        // When 30 clients connect at once and send nothing
        for (int i = 0; i < 30; i++) {
          java.net.Socket c =
              new java.net.Socket("127.0.0.1", hung.boundAddresses().get(0).getPort());
          c.setSoTimeout(15_000);
          clients.add(c);
        }
        Thread.sleep(1_000);
        // Then Halo opened at most a few backend connections for them (one shared greeting read;
        // the health checker's probes add a few), not one per client
        assertThat(relay.accepted() - before).isLessThan(10);
        // and each still gets a greeting (the fallback one) once that read gives up
        for (java.net.Socket c : clients) {
          byte[] header = c.getInputStream().readNBytes(5);
          assertThat(header).hasSize(5);
          assertThat(header[3]).as("sequence id").isZero();
          assertThat(header[4]).as("protocol version 10").isEqualTo((byte) 10);
        }
      } finally {
        for (java.net.Socket c : clients) {
          c.close();
        }
        hung.close();
      }
    }
  }
}

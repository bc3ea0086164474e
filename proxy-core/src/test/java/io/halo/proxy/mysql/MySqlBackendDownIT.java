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
import java.net.ServerSocket;
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
    try (ServerSocket s = new ServerSocket(0)) {
      deadPort = s.getLocalPort();
    }
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
}

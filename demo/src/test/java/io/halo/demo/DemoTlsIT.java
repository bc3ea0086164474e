package io.halo.demo;

import static org.assertj.core.api.Assertions.assertThat;

import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.Statement;
import java.util.Properties;
import org.junit.jupiter.api.Test;

/** {@code halo demo --tls}: a client verifies Halo, and Halo reaches hostssl-only servers. */
class DemoTlsIT {

  private static int freePort() throws Exception {
    return io.halo.testkit.Ports.free();
  }

  @Test
  void the_tls_demo_serves_verified_tls_on_both_hops() throws Exception {
    int port = freePort();
    DemoCommand command = DemoCommand.onPorts(port, freePort(), freePort(), freePort());
    command.tls = true;
    DemoCommand.Running demo = command.start();
    try {
      Properties p = new Properties();
      p.setProperty("user", DemoCommand.USER);
      p.setProperty("password", DemoCommand.PASSWORD);
      p.setProperty("connectTimeout", "10");
      String url =
          "jdbc:postgresql://localhost:"
              + port
              + "/app?sslmode=verify-full&channelBinding=require&sslrootcert="
              + command.caCertificate();
      try (Connection c = DriverManager.getConnection(url, p);
          Statement s = c.createStatement();
          ResultSet rs =
              s.executeQuery("select ssl from pg_stat_ssl where pid = pg_backend_pid()")) {
        assertThat(rs.next()).isTrue();
        assertThat(rs.getBoolean(1)).as("Halo's session on the server uses TLS").isTrue();
      }
    } finally {
      demo.server().close();
      demo.cluster().close();
      command.deleteCertificates();
    }
  }
}

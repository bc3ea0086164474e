package io.halo.proxy.mysql;

import static org.assertj.core.api.Assertions.assertThat;

import io.halo.conf.model.AdminConfig;
import io.halo.conf.model.AuthMethod;
import io.halo.conf.model.BackendConfig;
import io.halo.conf.model.BackendRole;
import io.halo.conf.model.BackendTlsConfig;
import io.halo.conf.model.ClusterConfig;
import io.halo.conf.model.Engine;
import io.halo.conf.model.FailoverConfig;
import io.halo.conf.model.HaloConfig;
import io.halo.conf.model.HostPort;
import io.halo.conf.model.ListenerConfig;
import io.halo.conf.model.MonitorConfig;
import io.halo.conf.model.Route;
import io.halo.conf.model.UserConfig;
import io.halo.proxy.HaloFixture;
import io.halo.proxy.HaloServer;
import io.halo.testkit.MariaDbCluster;
import io.halo.testkit.TestCertificates;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.util.List;
import java.util.Properties;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * TLS from Halo to a MariaDB that refuses plaintext ({@code require_secure_transport = ON}): the
 * relay logs in over TLS (SSL request packet, then the handshake response encrypted) with {@code
 * verify-full}, and the health probe (Connector/J {@code sslMode=VERIFY_IDENTITY}) keeps the
 * backend up.
 */
class MySqlBackendTlsIT {

  static MariaDbCluster cluster;
  static HaloServer halo;

  @BeforeAll
  static void start() throws Exception {
    Path dir = Files.createTempDirectory("halo-mysql-backend-tls");
    TestCertificates ca = TestCertificates.create(dir, "Backend CA");
    TestCertificates.Pair server = ca.server("mariadb", "localhost", "127.0.0.1");
    // mariadbd may run as an unprivileged user: it must reach and read its certificate and key
    // (throw-away test files).
    Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxr-xr-x"));
    Files.setPosixFilePermissions(server.key(), PosixFilePermissions.fromString("rw-r--r--"));
    cluster =
        MariaDbCluster.builder()
            .name("mybtls")
            .user("app", "apppw")
            .database("app")
            .setting("ssl", "ON")
            .setting("ssl_cert", server.cert().toString())
            .setting("ssl_key", server.key().toString())
            .start();
    // Set once the test kit's own (plaintext) setup is done.
    try (Connection root = cluster.primary().connectAsRoot();
        Statement s = root.createStatement()) {
      s.execute("set global require_secure_transport = ON");
    }
    BackendTlsConfig verifyFull =
        new BackendTlsConfig(BackendTlsConfig.Mode.VERIFY_FULL, ca.caCert(), null, null, false);
    ClusterConfig c =
        new ClusterConfig(
            "shop",
            Engine.MYSQL,
            List.of(new ListenerConfig(new HostPort("127.0.0.1", 0), Route.PRIMARY, 100, true)),
            List.of(
                new BackendConfig(
                    "db1",
                    new HostPort("127.0.0.1", cluster.primary().port()),
                    BackendRole.PRIMARY,
                    0,
                    1,
                    verifyFull)),
            new MonitorConfig(
                cluster.rootUser(),
                null,
                "mysql",
                Duration.ofMillis(500),
                Duration.ofSeconds(2),
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
            MySqlHalo.THROTTLE);
    halo =
        HaloServer.start(
            new HaloConfig(
                null,
                HaloFixture.server(Duration.ofSeconds(10), 64L << 20),
                new AdminConfig(new HostPort("127.0.0.1", 0), null),
                List.of(new UserConfig("app", "apppw", AuthMethod.SCRAM_SHA_256, "app", "apppw")),
                List.of(c)));
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

  @Test
  void the_relay_logs_in_over_tls_to_a_backend_that_requires_it() throws Exception {
    Properties p = new Properties();
    p.setProperty("user", "app");
    p.setProperty("password", "apppw");
    p.setProperty("sslMode", "DISABLED");
    p.setProperty("connectTimeout", "10000");
    String url = "jdbc:mysql://127.0.0.1:" + halo.boundAddresses().get(0).getPort() + "/app";
    try (Connection c = DriverManager.getConnection(url, p);
        Statement s = c.createStatement();
        ResultSet rs = s.executeQuery("show session status like 'Ssl_version'")) {
      assertThat(rs.next()).isTrue();
      assertThat(rs.getString(2)).startsWith("TLSv1.");
    }
    // Internal queries on the TLS backend connection (the split relay's and KILL's helpers).
    try (Connection c = DriverManager.getConnection(url, p);
        Statement s = c.createStatement();
        ResultSet rs = s.executeQuery("select 6 * 7")) {
      rs.next();
      assertThat(rs.getInt(1)).isEqualTo(42);
    }
  }
}

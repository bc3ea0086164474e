package io.halo.proxy.tls;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;
import static org.awaitility.Awaitility.await;

import io.halo.conf.model.AuthMethod;
import io.halo.conf.model.UserConfig;
import io.halo.proxy.HaloFixture;
import io.halo.testkit.KeepLogsOnFailure;
import io.halo.testkit.PgCluster;
import io.halo.testkit.TestCertificates;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.List;
import java.util.Properties;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Certificate rotation without a restart: Halo notices the changed files, new connections get the
 * new certificate, and a session opened before keeps working over the old one. A file that does not
 * parse leaves the current certificate serving.
 */
class TlsReloadIT {

  @RegisterExtension static final KeepLogsOnFailure LOGS = new KeepLogsOnFailure();

  static PgCluster cluster;
  static HaloFixture halo;
  static Path dir;
  static Path cert;
  static Path key;
  static TestCertificates oldCa;
  static TestCertificates newCa;
  static TestCertificates.Pair newPair;

  @BeforeAll
  static void start() throws Exception {
    dir = Files.createTempDirectory("halo-tls-reload");
    oldCa = TestCertificates.create(dir, "Old CA");
    newCa = TestCertificates.create(dir, "New CA");
    TestCertificates.Pair oldPair = oldCa.server("old", "localhost");
    newPair = newCa.server("new", "localhost");
    cert = Files.copy(oldPair.cert(), dir.resolve("halo.crt"));
    key = Files.copy(oldPair.key(), dir.resolve("halo.key"));
    cluster =
        LOGS.watch(
            PgCluster.builder().name("tlsreload").user("app", "apppw").database("app").start());
    halo =
        HaloFixture.start(
            cluster,
            HaloFixture.server(Duration.ofSeconds(15), 64L << 20),
            List.of(new UserConfig("app", "apppw", AuthMethod.SCRAM_SHA_256, "app", "apppw")),
            100,
            c -> PgClientTlsIT.withTls(c, new TestCertificates.Pair(cert, key)));
  }

  @AfterAll
  static void stop() {
    HaloFixture.stop(halo, cluster);
  }

  private static Connection connect(TestCertificates trusted) throws SQLException {
    Properties p = new Properties();
    p.setProperty("user", "app");
    p.setProperty("password", "apppw");
    p.setProperty("connectTimeout", "10");
    return DriverManager.getConnection(
        "jdbc:postgresql://localhost:"
            + halo.primaryListener().getPort()
            + "/app?sslmode=verify-full&sslrootcert="
            + trusted.caCert(),
        p);
  }

  private static int query(Connection c) throws SQLException {
    try (Statement s = c.createStatement();
        ResultSet rs = s.executeQuery("select 6 * 7")) {
      rs.next();
      return rs.getInt(1);
    }
  }

  @Test
  void a_rotated_certificate_serves_new_connections_while_open_sessions_go_on() throws Exception {
    try (Connection before = connect(oldCa)) {
      assertThat(query(before)).isEqualTo(42);

      // A half-written certificate is not taken: the old one keeps serving.
      Files.writeString(cert, "-----BEGIN CERTIFICATE-----\nMIIB\n");
      Thread.sleep(2_500);
      try (Connection stillOld = connect(oldCa)) {
        assertThat(query(stillOld)).isEqualTo(42);
      }

      Files.copy(newPair.key(), key, StandardCopyOption.REPLACE_EXISTING);
      Files.copy(newPair.cert(), cert, StandardCopyOption.REPLACE_EXISTING);

      await()
          .atMost(Duration.ofSeconds(15))
          .pollInterval(Duration.ofMillis(300))
          .ignoreExceptions()
          .until(
              () -> {
                try (Connection c = connect(newCa)) {
                  return query(c) == 42;
                }
              });
      SQLException e = catchThrowableOfType(SQLException.class, () -> connect(oldCa).close());
      assertThat((Object) e).as("a client that trusts only the old CA").isNotNull();
      assertThat(query(before)).as("the session opened before the rotation").isEqualTo(42);
    }
  }
}

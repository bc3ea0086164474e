package io.halo.proxy.tls;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.halo.conf.model.AuthMethod;
import io.halo.conf.model.ClusterConfig;
import io.halo.conf.model.ListenerTlsConfig;
import io.halo.conf.model.UserConfig;
import io.halo.proxy.HaloFixture;
import io.halo.proxy.Tools;
import io.halo.testkit.KeepLogsOnFailure;
import io.halo.testkit.PgCluster;
import io.halo.testkit.TestCertificates;
import java.nio.file.Files;
import java.nio.file.Path;
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
 * Login by client certificate ({@code auth: cert}) for PostgreSQL clients: psql and pgjdbc with
 * {@code sslcert}/{@code sslkey} and no password. The listeners ask for a certificate ({@code
 * client_certificates: optional}) and check it against the test CA. User {@code app} logs in with a
 * certificate whose CN is {@code app}; user {@code billing} with one whose SAN is {@code
 * DNS:billing.example} ({@code certificate_names}); both log in to the backend as {@code app} with
 * its configured password. The listener checks client certificates against a revocation list
 * ({@code crl}), which Halo reads again when the file changes.
 */
class PgCertificateLoginIT {

  @RegisterExtension static final KeepLogsOnFailure LOGS = new KeepLogsOnFailure();

  static PgCluster cluster;
  static HaloFixture halo;
  static TestCertificates ca;
  static TestCertificates.Pair app;
  static TestCertificates.Pair mallory;
  static TestCertificates.Pair billing;
  static TestCertificates.Pair stranger;
  static TestCertificates.Pair revoked;
  static TestCertificates.Pair revokedLater;
  static Path crl;

  @BeforeAll
  static void start() throws Exception {
    Path dir = Files.createTempDirectory("halo-pg-cert");
    ca = TestCertificates.create(dir, "Halo test CA");
    TestCertificates otherCa = TestCertificates.create(dir, "Unknown CA");
    TestCertificates.Pair server = ca.server("halo", "localhost");
    app = ca.client("app");
    mallory = ca.client("mallory");
    billing = ca.client("svc", "svc-42", "DNS:billing.example");
    stranger = otherCa.client("stranger-app", "app");
    revoked = ca.client("revoked-app", "app");
    revokedLater = ca.client("later-app", "app");
    crl = ca.crl("clients.crl", revoked);
    cluster =
        LOGS.watch(
            PgCluster.builder().name("pgcertit").user("app", "apppw").database("app").start());
    halo =
        HaloFixture.start(
            cluster,
            HaloFixture.server(Duration.ofSeconds(15), 64L << 20),
            List.of(
                new UserConfig(
                    "app", "apppw", AuthMethod.CERT, "app", "apppw", 0, 0, 0, List.of(), false),
                new UserConfig(
                    "billing",
                    null,
                    AuthMethod.CERT,
                    "app",
                    "apppw",
                    0,
                    0,
                    0,
                    List.of(),
                    false,
                    List.of("DNS:billing.example"))),
            100,
            c -> withClientCertificates(c, server, ca.caCert(), crl));
  }

  static ClusterConfig withClientCertificates(
      ClusterConfig c, TestCertificates.Pair server, Path caCert, Path crl) {
    return new ClusterConfig(
        c.name(),
        c.engine(),
        c.listeners().stream()
            .map(
                l ->
                    l.withTls(
                        new ListenerTlsConfig(
                            ListenerTlsConfig.Mode.REQUIRE,
                            server.cert(),
                            server.key(),
                            caCert,
                            ListenerTlsConfig.ClientCertificates.OPTIONAL,
                            crl)))
            .toList(),
        c.backends(),
        c.monitor(),
        c.failover(),
        c.throttle(),
        c.groups());
  }

  @AfterAll
  static void stop() {
    HaloFixture.stop(halo, cluster);
  }

  private static int port() {
    return halo.primaryListener().getPort();
  }

  /** psql as {@code user} with {@code cert} (null: none), never asked for a password. */
  private static Tools.Run psql(String user, TestCertificates.Pair cert, String command)
      throws Exception {
    String conninfo =
        "host=localhost port="
            + port()
            + " sslmode=verify-full sslrootcert="
            + ca.caCert()
            + " user="
            + user
            + " dbname=app"
            + (cert == null
                ? " sslcert=/nonexistent sslkey=/nonexistent"
                : " sslcert=" + cert.cert() + " sslkey=" + ownerOnly(cert.key()));
    return Tools.run("", "psql", conninfo, "-w", "-v", "ON_ERROR_STOP=1", "-At", "-c", command);
  }

  private static Path ownerOnly(Path key) throws Exception {
    Files.setPosixFilePermissions(
        key, java.nio.file.attribute.PosixFilePermissions.fromString("rw-------"));
    return key;
  }

  private static Connection jdbc(String user, TestCertificates.Pair cert) throws Exception {
    Properties p = new Properties();
    p.setProperty("user", user);
    p.setProperty("connectTimeout", "10");
    p.setProperty("sslmode", "verify-full");
    p.setProperty("sslrootcert", ca.caCert().toString());
    if (cert != null) {
      p.setProperty("sslcert", cert.cert().toString());
      p.setProperty("sslkey", TestCertificates.pk8(cert.key()).toString());
    }
    return DriverManager.getConnection("jdbc:postgresql://localhost:" + port() + "/app", p);
  }

  private static String currentUser(Connection c) throws SQLException {
    try (Statement s = c.createStatement();
        ResultSet rs = s.executeQuery("select current_user")) {
      rs.next();
      return rs.getString(1);
    }
  }

  @Test
  void psql_logs_in_with_its_certificate_and_no_password() throws Exception {
    assumeTrue(Tools.onPath("psql"), "psql not installed");

    Tools.Run r = psql("app", app, "select current_user");

    assertThat(r.exit()).as(r.out()).isZero();
    assertThat(r.out().trim()).isEqualTo("app");
  }

  @Test
  void pgjdbc_logs_in_with_its_certificate_and_no_password() throws Exception {
    try (Connection c = jdbc("app", app)) {
      assertThat(currentUser(c)).isEqualTo("app");
    }
  }

  @Test
  void a_certificate_of_another_name_is_refused_with_28000() throws Exception {
    SQLException e = catchThrowableOfType(SQLException.class, () -> jdbc("app", mallory).close());
    assertThat((Object) e).isNotNull();
    assertThat(e.getSQLState()).isEqualTo("28000");
    assertThat(e.getMessage()).contains("certificate authentication failed for user \"app\"");

    assumeTrue(Tools.onPath("psql"), "psql not installed");
    Tools.Run r = psql("app", mallory, "select 1");
    assertThat(r.exit()).isNotZero();
    assertThat(r.out()).contains("certificate authentication failed for user \"app\"");
  }

  @Test
  void no_certificate_is_refused_with_28000() throws Exception {
    SQLException e = catchThrowableOfType(SQLException.class, () -> jdbc("app", null).close());
    assertThat((Object) e).isNotNull();
    assertThat(e.getSQLState()).as(e.getMessage()).isEqualTo("28000");
    assertThat(e.getMessage()).contains("certificate authentication failed for user \"app\"");
  }

  @Test
  void a_subject_alternative_name_maps_to_its_user() throws Exception {
    try (Connection c = jdbc("billing", billing)) {
      assertThat(currentUser(c)).isEqualTo("app"); // billing's backend user
    }
    // The same certificate names no other user, and app's certificate does not name billing.
    SQLException asApp =
        catchThrowableOfType(SQLException.class, () -> jdbc("app", billing).close());
    assertThat((Object) asApp).isNotNull();
    assertThat(asApp.getSQLState()).isEqualTo("28000");
    SQLException asBilling =
        catchThrowableOfType(SQLException.class, () -> jdbc("billing", app).close());
    assertThat((Object) asBilling).isNotNull();
    assertThat(asBilling.getSQLState()).isEqualTo("28000");
  }

  @Test
  void a_certificate_from_another_ca_fails_the_handshake() throws Exception {
    assumeTrue(Tools.onPath("psql"), "psql not installed");

    Tools.Run r = psql("app", stranger, "select 1");

    // Halo's engine ends the handshake (BoringSSL's alert reads "internal error" in psql; Halo's
    // log says "TLS handshake failed: unable to find valid certification path").
    assertThat(r.exit()).isNotZero();
    assertThat(r.out()).contains("SSL error");
  }

  @Test
  void a_revoked_certificate_fails_the_handshake() throws Exception {
    SQLException e = catchThrowableOfType(SQLException.class, () -> jdbc("app", revoked).close());
    assertThat((Object) e).as("a certificate the CRL revokes").isNotNull();

    assumeTrue(Tools.onPath("psql"), "psql not installed");
    Tools.Run r = psql("app", revoked, "select 1");
    assertThat(r.exit()).isNotZero();
    assertThat(r.out()).contains("SSL error");
  }

  @Test
  void a_certificate_revoked_while_halo_runs_is_refused_once_the_new_list_is_in_place()
      throws Exception {
    try (Connection c = jdbc("app", revokedLater)) {
      assertThat(currentUser(c)).as("before its revocation").isEqualTo("app");
    }
    Path next = ca.crl("clients-next.crl", revoked, revokedLater);
    Files.copy(next, crl, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
    await()
        .atMost(Duration.ofSeconds(15))
        .pollInterval(Duration.ofMillis(300))
        .until(
            () -> {
              try {
                jdbc("app", revokedLater).close();
                return false;
              } catch (SQLException e) {
                return true;
              }
            });
    try (Connection c = jdbc("app", app)) {
      assertThat(currentUser(c)).as("a certificate the new list does not revoke").isEqualTo("app");
    }
  }
}

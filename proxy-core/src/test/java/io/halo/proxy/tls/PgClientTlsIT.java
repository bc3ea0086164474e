package io.halo.proxy.tls;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.halo.conf.model.AuthMethod;
import io.halo.conf.model.ClusterConfig;
import io.halo.conf.model.ListenerTlsConfig;
import io.halo.conf.model.Route;
import io.halo.conf.model.UserConfig;
import io.halo.proxy.HaloFixture;
import io.halo.proxy.Tools;
import io.halo.testkit.KeepLogsOnFailure;
import io.halo.testkit.PgCluster;
import io.halo.testkit.TestCertificates;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * PostgreSQL clients over TLS to Halo: psql and pgjdbc with {@code sslmode=verify-full} against a
 * certificate made by the test's own CA. Listener 0 has {@code tls: {mode: require}}, listener 1
 * {@code mode: prefer}. Halo's certificate names {@code localhost} only, so connecting to {@code
 * 127.0.0.1} is the wrong host name.
 */
class PgClientTlsIT {

  @RegisterExtension static final KeepLogsOnFailure LOGS = new KeepLogsOnFailure();

  static PgCluster cluster;
  static HaloFixture halo;
  static Path dir;
  static TestCertificates ca;
  static TestCertificates otherCa;

  @BeforeAll
  static void start() throws Exception {
    dir = Files.createTempDirectory("halo-pg-tls");
    ca = TestCertificates.create(dir, "Halo test CA");
    otherCa = TestCertificates.create(dir, "Unknown CA");
    TestCertificates.Pair server = ca.server("halo", "localhost");
    cluster =
        LOGS.watch(
            PgCluster.builder().name("pgtlsit").user("app", "apppw").database("app").start());
    halo =
        HaloFixture.start(
            cluster,
            HaloFixture.server(Duration.ofSeconds(15), 64L << 20),
            List.of(new UserConfig("app", "apppw", AuthMethod.SCRAM_SHA_256, "app", "apppw")),
            100,
            c -> withTls(c, server));
  }

  static ClusterConfig withTls(ClusterConfig c, TestCertificates.Pair server) {
    return new ClusterConfig(
        c.name(),
        c.engine(),
        c.listeners().stream()
            .map(
                l ->
                    l.withTls(
                        new ListenerTlsConfig(
                            l.route() == Route.PRIMARY
                                ? ListenerTlsConfig.Mode.REQUIRE
                                : ListenerTlsConfig.Mode.PREFER,
                            server.cert(),
                            server.key(),
                            null,
                            ListenerTlsConfig.ClientCertificates.NONE)))
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

  private static int requirePort() {
    return halo.primaryListener().getPort();
  }

  private static int preferPort() {
    return halo.replicaListener().getPort();
  }

  private static Tools.Run psql(String conninfo, String command) throws Exception {
    return Tools.run(
        "apppw",
        "psql",
        conninfo + " user=app dbname=app",
        "-v",
        "ON_ERROR_STOP=1",
        "-At",
        "-c",
        command);
  }

  private static Connection jdbc(String host, int port, String ssl) throws SQLException {
    java.util.Properties p = new java.util.Properties();
    p.setProperty("user", "app");
    p.setProperty("password", "apppw");
    p.setProperty("connectTimeout", "10");
    return java.sql.DriverManager.getConnection(
        "jdbc:postgresql://" + host + ":" + port + "/app?" + ssl, p);
  }

  @Test
  void psql_with_verify_full_runs_queries_over_tls() throws Exception {
    assumeTrue(Tools.onPath("psql"), "psql not installed");

    Tools.Run r =
        psql(
            "host=localhost port="
                + requirePort()
                + " sslmode=verify-full sslrootcert="
                + ca.caCert(),
            "\\conninfo");

    assertThat(r.exit()).as(r.out()).isZero();
    assertThat(r.out()).contains("SSL connection (protocol: TLSv1.3");
  }

  @Test
  void pgjdbc_with_verify_full_runs_queries_over_tls() throws Exception {
    try (Connection c =
            jdbc("localhost", requirePort(), "sslmode=verify-full&sslrootcert=" + ca.caCert());
        Statement s = c.createStatement();
        ResultSet rs = s.executeQuery("select 40 + 2")) {
      rs.next();
      assertThat(rs.getInt(1)).isEqualTo(42);
    }
  }

  @Test
  void a_wrong_host_name_is_refused_by_the_clients() throws Exception {
    SQLException e =
        catchThrowableOfType(
            SQLException.class,
            () ->
                jdbc("127.0.0.1", requirePort(), "sslmode=verify-full&sslrootcert=" + ca.caCert())
                    .close());
    assertThat((Object) e).isNotNull();
    assertThat(e.getMessage()).contains("127.0.0.1").contains("could not be verified");

    assumeTrue(Tools.onPath("psql"), "psql not installed");
    Tools.Run r =
        psql(
            "host=127.0.0.1 port="
                + requirePort()
                + " sslmode=verify-full sslrootcert="
                + ca.caCert(),
            "select 1");
    assertThat(r.exit()).isNotZero();
    assertThat(r.out()).contains("does not match host name \"127.0.0.1\"");
  }

  @Test
  void an_unknown_ca_is_refused_by_the_clients() throws Exception {
    SQLException e =
        catchThrowableOfType(
            SQLException.class,
            () ->
                jdbc(
                        "localhost",
                        requirePort(),
                        "sslmode=verify-full&sslrootcert=" + otherCa.caCert())
                    .close());
    assertThat((Object) e).isNotNull();
    assertThat(e.getMessage()).contains("SSL error");

    assumeTrue(Tools.onPath("psql"), "psql not installed");
    Tools.Run r =
        psql(
            "host=localhost port="
                + requirePort()
                + " sslmode=verify-full sslrootcert="
                + otherCa.caCert(),
            "select 1");
    assertThat(r.exit()).isNotZero();
    assertThat(r.out()).contains("certificate verify failed");
  }

  @Test
  void an_expired_certificate_is_refused_by_the_clients() throws Exception {
    TestCertificates.Pair expired = ca.expiredServer("halo-expired", "localhost");
    try (HaloFixture stale =
        HaloFixture.start(
            cluster,
            HaloFixture.server(Duration.ofSeconds(15), 64L << 20),
            List.of(new UserConfig("app", "apppw", AuthMethod.SCRAM_SHA_256, "app", "apppw")),
            100,
            c -> withTls(c, expired))) {
      int port = stale.primaryListener().getPort();
      SQLException e =
          catchThrowableOfType(
              SQLException.class,
              () ->
                  jdbc("localhost", port, "sslmode=verify-full&sslrootcert=" + ca.caCert())
                      .close());
      assertThat((Object) e).isNotNull();
      assertThat(causes(e)).contains("NotAfter");

      assumeTrue(Tools.onPath("psql"), "psql not installed");
      Tools.Run r =
          psql(
              "host=localhost port=" + port + " sslmode=verify-full sslrootcert=" + ca.caCert(),
              "select 1");
      assertThat(r.exit()).isNotZero();
      assertThat(r.out()).contains("certificate verify failed");
    }
  }

  static String causes(Throwable t) {
    StringBuilder s = new StringBuilder();
    for (Throwable c = t; c != null; c = c.getCause()) {
      s.append(c.getMessage()).append(" / ");
    }
    return s.toString();
  }

  @Test
  void mode_require_refuses_a_plaintext_client_with_28000() throws Exception {
    SQLException e =
        catchThrowableOfType(
            SQLException.class, () -> jdbc("localhost", requirePort(), "sslmode=disable").close());
    assertThat((Object) e).isNotNull();
    assertThat(e.getSQLState()).isEqualTo("28000");
    assertThat(e.getMessage()).contains("requires TLS");

    assumeTrue(Tools.onPath("psql"), "psql not installed");
    Tools.Run r = psql("host=localhost port=" + requirePort() + " sslmode=disable", "select 1");
    assertThat(r.exit()).isNotZero();
    assertThat(r.out()).contains("this listener requires TLS");
  }

  @Test
  void mode_prefer_serves_plaintext_and_tls_clients() throws Exception {
    try (Connection c = jdbc("localhost", preferPort(), "sslmode=disable");
        Statement s = c.createStatement();
        ResultSet rs = s.executeQuery("select 1")) {
      assertThat(rs.next()).isTrue();
    }
    assumeTrue(Tools.onPath("psql"), "psql not installed");
    Tools.Run plain =
        psql("host=localhost port=" + preferPort() + " sslmode=disable", "\\conninfo");
    assertThat(plain.exit()).as(plain.out()).isZero();
    assertThat(plain.out()).doesNotContain("SSL connection");
    Tools.Run tls =
        psql(
            "host=localhost port="
                + preferPort()
                + " sslmode=verify-full sslrootcert="
                + ca.caCert(),
            "\\conninfo");
    assertThat(tls.exit()).as(tls.out()).isZero();
    assertThat(tls.out()).contains("SSL connection");
  }

  @Test
  void channel_binding_is_required_and_honoured_over_tls() throws Exception {
    try (Connection c =
            jdbc(
                "localhost",
                requirePort(),
                "sslmode=verify-full&channelBinding=require&sslrootcert=" + ca.caCert());
        Statement s = c.createStatement();
        ResultSet rs = s.executeQuery("select 1")) {
      assertThat(rs.next()).isTrue();
    }
    assumeTrue(Tools.onPath("psql"), "psql not installed");
    Tools.Run bound =
        psql(
            "host=localhost port="
                + requirePort()
                + " sslmode=verify-full channel_binding=require sslrootcert="
                + ca.caCert(),
            "select 1");
    assertThat(bound.exit()).as(bound.out()).isZero();
    Tools.Run plain =
        psql(
            "host=localhost port=" + preferPort() + " sslmode=disable channel_binding=require",
            "select 1");
    assertThat(plain.exit()).isNotZero();
    assertThat(plain.out()).contains("channel binding");
  }

  @Test
  void direct_tls_of_postgresql_17_is_served() throws Exception {
    try (Connection c =
            jdbc(
                "localhost",
                requirePort(),
                "sslmode=verify-full&sslNegotiation=direct&sslrootcert=" + ca.caCert());
        Statement s = c.createStatement();
        ResultSet rs = s.executeQuery("select 1")) {
      assertThat(rs.next()).isTrue();
    }
  }

  @Test
  void direct_tls_without_alpn_postgresql_is_refused() throws Exception {
    javax.net.ssl.SSLContext ctx = javax.net.ssl.SSLContext.getInstance("TLS");
    java.security.KeyStore ks = java.security.KeyStore.getInstance("PKCS12");
    ks.load(null, null);
    try (java.io.InputStream in = Files.newInputStream(ca.caCert())) {
      ks.setCertificateEntry(
          "ca", java.security.cert.CertificateFactory.getInstance("X.509").generateCertificate(in));
    }
    javax.net.ssl.TrustManagerFactory tmf =
        javax.net.ssl.TrustManagerFactory.getInstance(
            javax.net.ssl.TrustManagerFactory.getDefaultAlgorithm());
    tmf.init(ks);
    ctx.init(null, tmf.getTrustManagers(), null);
    try (javax.net.ssl.SSLSocket socket =
        (javax.net.ssl.SSLSocket) ctx.getSocketFactory().createSocket("localhost", requirePort())) {
      socket.setSoTimeout(10_000);
      socket.startHandshake(); // no ALPN offered
      // Halo closes once the handshake shows no ALPN postgresql: the read sees the end.
      assertThat(socket.getInputStream().read()).isEqualTo(-1);
    }
  }
}

package io.halo.proxy.mysql;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.halo.conf.model.AuthMethod;
import io.halo.conf.model.HostPort;
import io.halo.conf.model.ListenerTlsConfig;
import io.halo.conf.model.Route;
import io.halo.conf.model.UserConfig;
import io.halo.proxy.HaloServer;
import io.halo.proxy.Tools;
import io.halo.testkit.MariaDbCluster;
import io.halo.testkit.TestCertificates;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.security.cert.CertificateFactory;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * MySQL/MariaDB clients over TLS to Halo: the mariadb client with {@code --ssl-verify-server-cert}
 * and Connector/J with {@code sslMode=VERIFY_IDENTITY}. Listener 0 has {@code tls: {mode:
 * require}}, listener 1 {@code mode: prefer}; Halo's certificate names {@code localhost} only.
 */
class MySqlClientTlsIT {

  static MariaDbCluster cluster;
  static HaloServer halo;
  static TestCertificates ca;
  static TestCertificates otherCa;
  static Path trustStore;
  static Path otherTrustStore;

  @BeforeAll
  static void start() throws Exception {
    Path dir = Files.createTempDirectory("halo-mysql-tls");
    ca = TestCertificates.create(dir, "Halo test CA");
    otherCa = TestCertificates.create(dir, "Unknown CA");
    trustStore = trustStore(ca.caCert(), dir.resolve("trust.p12"));
    otherTrustStore = trustStore(otherCa.caCert(), dir.resolve("other.p12"));
    TestCertificates.Pair server = ca.server("halo", "localhost");
    cluster = MariaDbCluster.builder().name("mytls").user("app", "apppw").database("app").start();
    halo = startHalo(server);
  }

  /** Halo in front of the cluster, serving {@code server}: listener 0 require, 1 prefer. */
  static HaloServer startHalo(TestCertificates.Pair server) throws InterruptedException {
    return MySqlHalo.start(
        new HostPort("127.0.0.1", cluster.primary().port()),
        cluster.rootUser(),
        MySqlHalo.THROTTLE,
        // cli: mysql_native_password for the embedded mariadb client, which has no
        // caching_sha2_password plugin
        List.of(
            new UserConfig("app", "apppw", AuthMethod.SCRAM_SHA_256, "app", "apppw"),
            new UserConfig("cli", "clipw", AuthMethod.MD5, "app", "apppw")),
        l ->
            l.withTls(
                new ListenerTlsConfig(
                    l.route() == Route.PRIMARY
                        ? ListenerTlsConfig.Mode.REQUIRE
                        : ListenerTlsConfig.Mode.PREFER,
                    server.cert(),
                    server.key(),
                    null,
                    ListenerTlsConfig.ClientCertificates.NONE)),
        Route.PRIMARY,
        Route.REPLICAS);
  }

  /** A PKCS#12 trust store with {@code caCert}: Connector/J reads no PEM. */
  static Path trustStore(Path caCert, Path file) throws Exception {
    KeyStore ks = KeyStore.getInstance("PKCS12");
    ks.load(null, null);
    try (InputStream in = Files.newInputStream(caCert)) {
      ks.setCertificateEntry("ca", CertificateFactory.getInstance("X.509").generateCertificate(in));
    }
    try (OutputStream out = Files.newOutputStream(file)) {
      ks.store(out, "changeit".toCharArray());
    }
    return file;
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

  private static int requirePort() {
    return halo.boundAddresses().get(0).getPort();
  }

  private static int preferPort() {
    return halo.boundAddresses().get(1).getPort();
  }

  private static Connection jdbc(String host, int port, String ssl) throws SQLException {
    java.util.Properties p = new java.util.Properties();
    p.setProperty("user", "app");
    p.setProperty("password", "apppw");
    p.setProperty("connectTimeout", "10000");
    return DriverManager.getConnection("jdbc:mysql://" + host + ":" + port + "/app?" + ssl, p);
  }

  private static String verifyIdentity(Path store) {
    return "sslMode=VERIFY_IDENTITY&trustCertificateKeyStoreUrl=file:"
        + store
        + "&trustCertificateKeyStoreType=PKCS12&trustCertificateKeyStorePassword=changeit";
  }

  private static Tools.Run mariadb(int port, String... options) throws Exception {
    List<String> cmd =
        new java.util.ArrayList<>(
            List.of(
                MariaDbCluster.client().toString(),
                "--protocol=TCP",
                "-h",
                "localhost",
                "-P",
                String.valueOf(port),
                "-u",
                "cli",
                "-pclipw",
                "-N",
                "-B"));
    cmd.addAll(List.of(options));
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
    p.getOutputStream().close();
    boolean done = p.waitFor(60, TimeUnit.SECONDS);
    if (!done) {
      p.destroyForcibly();
    }
    return new Tools.Run(
        done ? p.exitValue() : -1,
        new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8));
  }

  @Test
  void the_mariadb_client_verifies_halo_and_runs_over_tls() throws Exception {
    assumeTrue(MariaDbCluster.client() != null, "no mariadb client");

    Tools.Run r =
        mariadb(
            requirePort(),
            "--ssl",
            "--ssl-verify-server-cert",
            "--ssl-ca=" + ca.caCert(),
            "app",
            "-e",
            "\\s");

    assertThat(r.exit()).as(r.out()).isZero();
    assertThat(r.out()).containsPattern("SSL:\\s+Cipher in use is \\S+, cert is OK");
  }

  @Test
  void connector_j_with_verify_identity_runs_queries_over_tls() throws Exception {
    try (Connection c = jdbc("localhost", requirePort(), verifyIdentity(trustStore));
        Statement s = c.createStatement();
        ResultSet rs = s.executeQuery("select 6 * 7")) {
      rs.next();
      assertThat(rs.getInt(1)).isEqualTo(42);
    }
  }

  @Test
  void a_wrong_host_name_or_an_unknown_ca_is_refused_by_the_clients() throws Exception {
    SQLException wrongHost =
        catchThrowableOfType(
            SQLException.class,
            () -> jdbc("127.0.0.1", requirePort(), verifyIdentity(trustStore)).close());
    assertThat((Object) wrongHost).isNotNull();
    assertThat(causes(wrongHost)).contains("127.0.0.1");
    SQLException unknownCa =
        catchThrowableOfType(
            SQLException.class,
            () -> jdbc("localhost", requirePort(), verifyIdentity(otherTrustStore)).close());
    assertThat((Object) unknownCa).isNotNull();
    assertThat(causes(unknownCa)).contains("does not chain with any of the trust anchors");

    assumeTrue(MariaDbCluster.client() != null, "no mariadb client");
    Tools.Run r =
        mariadb(
            requirePort(),
            "--ssl",
            "--ssl-verify-server-cert",
            "--ssl-ca=" + otherCa.caCert(),
            "app",
            "-e",
            "select 1");
    assertThat(r.exit()).isNotZero();
    assertThat(r.out()).containsIgnoringCase("certificate");
  }

  @Test
  void an_expired_certificate_is_refused_by_the_clients() throws Exception {
    TestCertificates.Pair expired = ca.expiredServer("halo-expired", "localhost");
    try (HaloServer stale = startHalo(expired)) {
      int port = stale.boundAddresses().get(0).getPort();
      SQLException e =
          catchThrowableOfType(
              SQLException.class,
              () -> jdbc("localhost", port, verifyIdentity(trustStore)).close());
      assertThat((Object) e).isNotNull();
      assertThat(causes(e)).contains("NotAfter");

      assumeTrue(MariaDbCluster.client() != null, "no mariadb client");
      Tools.Run r =
          mariadb(
              port,
              "--ssl",
              "--ssl-verify-server-cert",
              "--ssl-ca=" + ca.caCert(),
              "app",
              "-e",
              "select 1");
      assertThat(r.exit()).isNotZero();
      assertThat(r.out()).containsIgnoringCase("expired");
    }
  }

  @Test
  void mode_require_refuses_a_plaintext_client_with_3159() throws Exception {
    SQLException e =
        catchThrowableOfType(
            SQLException.class, () -> jdbc("localhost", requirePort(), "sslMode=DISABLED").close());
    assertThat((Object) e).isNotNull();
    assertThat(e.getErrorCode()).isEqualTo(3159);
    assertThat(e.getMessage()).contains("insecure transport");

    assumeTrue(MariaDbCluster.client() != null, "no mariadb client");
    Tools.Run r = mariadb(requirePort(), "--skip-ssl", "app", "-e", "select 1");
    assertThat(r.exit()).isNotZero();
    assertThat(r.out()).contains("ERROR 3159").contains("insecure transport");
  }

  @Test
  void mode_prefer_serves_plaintext_and_tls_clients() throws Exception {
    try (Connection c = jdbc("localhost", preferPort(), "sslMode=DISABLED");
        Statement s = c.createStatement();
        ResultSet rs = s.executeQuery("select 1")) {
      assertThat(rs.next()).isTrue();
    }
    try (Connection c = jdbc("localhost", preferPort(), verifyIdentity(trustStore));
        Statement s = c.createStatement();
        ResultSet rs = s.executeQuery("select 1")) {
      assertThat(rs.next()).isTrue();
    }
    assumeTrue(MariaDbCluster.client() != null, "no mariadb client");
    Tools.Run plain = mariadb(preferPort(), "--skip-ssl", "app", "-e", "\\s");
    assertThat(plain.exit()).as(plain.out()).isZero();
    assertThat(plain.out()).containsPattern("SSL:\\s+Not in use");
  }

  private static String causes(Throwable t) {
    StringBuilder s = new StringBuilder();
    for (Throwable c = t; c != null; c = c.getCause()) {
      s.append(c.getMessage()).append(" / ");
    }
    return s.toString();
  }
}

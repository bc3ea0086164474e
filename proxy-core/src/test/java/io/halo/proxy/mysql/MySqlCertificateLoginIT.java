package io.halo.proxy.mysql;

import static org.assertj.core.api.Assertions.assertThat;
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
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Login by client certificate ({@code auth: cert}) for MySQL clients: the mariadb client with
 * {@code --ssl-cert}/{@code --ssl-key} and no password. User {@code app} logs in with a certificate
 * whose CN is {@code app}, user {@code billing} with one whose SAN is {@code DNS:billing.example};
 * both log in to MariaDB as {@code app} with its configured password.
 */
class MySqlCertificateLoginIT {

  static MariaDbCluster cluster;
  static HaloServer halo;
  static TestCertificates ca;
  static TestCertificates.Pair app;
  static TestCertificates.Pair mallory;
  static TestCertificates.Pair billing;

  @BeforeAll
  static void start() throws Exception {
    Path dir = Files.createTempDirectory("halo-mysql-cert");
    ca = TestCertificates.create(dir, "Halo test CA");
    TestCertificates.Pair server = ca.server("halo", "localhost");
    app = ca.client("app");
    mallory = ca.client("mallory");
    billing = ca.client("svc", "svc-42", "DNS:billing.example");
    cluster = MariaDbCluster.builder().name("mycert").user("app", "apppw").database("app").start();
    halo =
        MySqlHalo.start(
            new HostPort("127.0.0.1", cluster.primary().port()),
            cluster.rootUser(),
            MySqlHalo.THROTTLE,
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
            l ->
                l.withTls(
                    new ListenerTlsConfig(
                        ListenerTlsConfig.Mode.REQUIRE,
                        server.cert(),
                        server.key(),
                        ca.caCert(),
                        ListenerTlsConfig.ClientCertificates.OPTIONAL)),
            Route.PRIMARY);
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

  /** The mariadb client as {@code user} with {@code cert} (null: none) and no password. */
  private static Tools.Run mariadb(String user, TestCertificates.Pair cert, String sql)
      throws Exception {
    List<String> cmd =
        new ArrayList<>(
            List.of(
                MariaDbCluster.client().toString(),
                "--no-defaults",
                "--protocol=TCP",
                "-h",
                "localhost",
                "-P",
                String.valueOf(halo.boundAddresses().get(0).getPort()),
                "-u",
                user,
                "--ssl",
                "--ssl-verify-server-cert",
                "--ssl-ca=" + ca.caCert(),
                "-N",
                "-B"));
    if (cert != null) {
      cmd.add("--ssl-cert=" + cert.cert());
      cmd.add("--ssl-key=" + cert.key());
    }
    cmd.addAll(List.of("app", "-e", sql));
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
  void the_mariadb_client_logs_in_with_its_certificate_and_no_password() throws Exception {
    assumeTrue(MariaDbCluster.client() != null, "no mariadb client");

    Tools.Run r = mariadb("app", app, "select current_user()");

    assertThat(r.exit()).as(r.out()).isZero();
    assertThat(r.out().trim()).startsWith("app@");
  }

  @Test
  void a_certificate_of_another_name_or_none_is_refused_with_1045() throws Exception {
    assumeTrue(MariaDbCluster.client() != null, "no mariadb client");

    Tools.Run wrong = mariadb("app", mallory, "select 1");
    Tools.Run none = mariadb("app", null, "select 1");

    assertThat(wrong.exit()).isNotZero();
    assertThat(wrong.out()).contains("ERROR 1045").contains("certificate authentication failed");
    assertThat(none.exit()).isNotZero();
    assertThat(none.out()).contains("ERROR 1045");
  }

  @Test
  void a_subject_alternative_name_maps_to_its_user() throws Exception {
    assumeTrue(MariaDbCluster.client() != null, "no mariadb client");

    Tools.Run mapped = mariadb("billing", billing, "select current_user()");
    Tools.Run crossed = mariadb("billing", app, "select 1");

    assertThat(mapped.exit()).as(mapped.out()).isZero();
    assertThat(mapped.out().trim()).startsWith("app@");
    assertThat(crossed.exit()).isNotZero();
    assertThat(crossed.out()).contains("ERROR 1045");
  }
}

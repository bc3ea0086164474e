package io.halo.proxy.pg;

import static org.assertj.core.api.Assertions.assertThat;

import io.halo.conf.model.AuthMethod;
import io.halo.conf.model.BackendConfig;
import io.halo.conf.model.BackendRole;
import io.halo.conf.model.BackendTlsConfig;
import io.halo.conf.model.ClusterConfig;
import io.halo.conf.model.Engine;
import io.halo.conf.model.FailoverConfig;
import io.halo.conf.model.HostPort;
import io.halo.conf.model.ListenerConfig;
import io.halo.conf.model.MonitorConfig;
import io.halo.conf.model.Route;
import io.halo.conf.model.ThrottleConfig;
import io.halo.conf.model.UserConfig;
import io.halo.health.state.BackendNode;
import io.halo.health.state.NodeRole;
import io.halo.health.state.NodeState;
import io.halo.proxy.HaloFixture;
import io.halo.proxy.transport.BackendTls;
import io.halo.proxy.transport.Transports;
import io.halo.testkit.KeepLogsOnFailure;
import io.halo.testkit.PgCluster;
import io.halo.testkit.TestCertificates;
import io.netty.buffer.ByteBuf;
import io.netty.channel.EventLoopGroup;
import io.netty.util.concurrent.Future;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * TLS from Halo to PostgreSQL backends that accept TLS only ({@code ssl = on}, pg_hba.conf of
 * {@code hostssl} lines): the relays and the health probes with {@code verify-full}; an unknown CA
 * and a refused TLS are clear errors; a backend asking for a clear-text password over plaintext is
 * refused unless configured.
 */
class PgBackendTlsIT {

  @RegisterExtension static final KeepLogsOnFailure LOGS = new KeepLogsOnFailure();

  static PgCluster cluster;
  static PgCluster cleartext;
  static HaloFixture halo;
  static TestCertificates ca;
  static TestCertificates otherCa;
  static EventLoopGroup group;

  @BeforeAll
  static void start() throws Exception {
    Path dir = Files.createTempDirectory("halo-pg-backend-tls");
    ca = TestCertificates.create(dir, "Backend CA");
    otherCa = TestCertificates.create(dir, "Unknown CA");
    cluster =
        LOGS.watch(
            PgCluster.builder()
                .name("pgbtls")
                .user("app", "apppw")
                .database("app")
                .tls(ca.server("pg", "localhost", "127.0.0.1"))
                .start());
    cleartext =
        LOGS.watch(
            PgCluster.builder()
                .name("pgclear")
                .hostAuth("password")
                .user("app", "apppw")
                .database("app")
                .start());
    BackendTlsConfig verifyFull =
        new BackendTlsConfig(BackendTlsConfig.Mode.VERIFY_FULL, ca.caCert(), null, null, false);
    halo =
        HaloFixture.start(
            cluster,
            HaloFixture.server(Duration.ofSeconds(15), 64L << 20),
            List.of(new UserConfig("app", "apppw", AuthMethod.SCRAM_SHA_256, "app", "apppw")),
            100,
            c ->
                HaloFixture.withBackends(
                    c,
                    c.backends().stream()
                        .map(
                            b ->
                                new BackendConfig(
                                    b.name(),
                                    b.address(),
                                    b.role(),
                                    b.priority(),
                                    b.weight(),
                                    verifyFull))
                        .toList()));
    group = Transports.nio().newGroup(1);
  }

  @AfterAll
  static void stop() {
    if (group != null) {
      group.shutdownGracefully(0, 1, TimeUnit.SECONDS);
    }
    HaloFixture.stop(halo, cluster);
    if (cleartext != null) {
      cleartext.close();
    }
  }

  /** The relay's backend session and the health probe's, as the backend sees them. */
  @Test
  void relays_and_probes_reach_a_hostssl_only_backend_over_verified_tls() throws Exception {
    try (Connection c = halo.connect("app", "apppw", "app", "");
        Statement s = c.createStatement();
        ResultSet rs =
            s.executeQuery("select ssl, version from pg_stat_ssl where pid = pg_backend_pid()")) {
      assertThat(rs.next()).isTrue();
      assertThat(rs.getBoolean(1)).isTrue();
      assertThat(rs.getString(2)).startsWith("TLSv1.");
    }
    // (the probes' pool may be between connections at any one moment: wait for one)
    long[] probes = new long[1];
    boolean[] allTls = new boolean[1];
    org.awaitility.Awaitility.await()
        .atMost(java.time.Duration.ofSeconds(10))
        .until(
            () -> {
              try (Connection c = cluster.primary().connectAsSuperuser();
                  Statement s = c.createStatement();
                  ResultSet rs =
                      s.executeQuery(
                          "select bool_and(ssl), count(*) from pg_stat_ssl join pg_stat_activity"
                              + " using (pid) where application_name = 'halo-monitor'")) {
                rs.next();
                allTls[0] = rs.getBoolean(1);
                probes[0] = rs.getLong(2);
                return probes[0] > 0;
              }
            });
    assertThat(probes[0]).as("probe connections").isPositive();
    assertThat(allTls[0]).as("every probe connection uses TLS").isTrue();
  }

  @Test
  void an_unknown_ca_fails_the_backend_login_with_a_tls_reason() throws Exception {
    Throwable failure =
        connect(
            cluster,
            new BackendTlsConfig(
                BackendTlsConfig.Mode.VERIFY_CA, otherCa.caCert(), null, null, false));

    assertThat(failure).isNotNull();
    assertThat(failure.getMessage()).contains("TLS handshake failed");
  }

  @Test
  void require_against_a_backend_without_tls_is_refused() throws Exception {
    Throwable failure =
        connect(
            cleartext,
            new BackendTlsConfig(BackendTlsConfig.Mode.REQUIRE, null, null, null, false));

    assertThat(failure).isNotNull();
    assertThat(failure.getMessage()).contains("does not accept TLS").contains("require");
  }

  @Test
  void prefer_goes_on_in_plaintext_against_a_backend_without_tls() throws Exception {
    Throwable failure =
        connect(
            cleartext, new BackendTlsConfig(BackendTlsConfig.Mode.PREFER, null, null, null, true));

    assertThat(failure).isNull();
  }

  @Test
  void a_clear_text_password_over_plaintext_is_refused_unless_allowed() throws Exception {
    Throwable refused = connect(cleartext, BackendTlsConfig.DISABLED);
    assertThat(refused).isNotNull();
    assertThat(refused.getMessage()).contains("clear text").contains("allow_plaintext_password");

    Throwable allowed =
        connect(
            cleartext, new BackendTlsConfig(BackendTlsConfig.Mode.DISABLE, null, null, null, true));
    assertThat(allowed).isNull();
  }

  @Test
  void verify_full_logs_in_when_the_certificate_names_the_backend_host() throws Exception {
    Throwable ok =
        connect(
            cluster,
            new BackendTlsConfig(
                BackendTlsConfig.Mode.VERIFY_FULL, ca.caCert(), null, null, false));
    assertThat(ok).isNull();
  }

  /** A backend login with {@code tls}: null on success, else the failure. */
  private static Throwable connect(PgCluster target, BackendTlsConfig tls) throws Exception {
    ClusterConfig c =
        new ClusterConfig(
            "t",
            Engine.POSTGRESQL,
            List.of(new ListenerConfig(new HostPort("127.0.0.1", 0), Route.PRIMARY, 10, true)),
            List.of(
                new BackendConfig(
                    "db",
                    new HostPort(target.primary().host(), target.primary().port()),
                    BackendRole.PRIMARY,
                    0,
                    1,
                    tls)),
            new MonitorConfig(
                "m", null, "postgres", Duration.ofSeconds(1), Duration.ofSeconds(1), 3, 2),
            new FailoverConfig(
                FailoverConfig.Mode.MANUAL,
                FailoverConfig.Type.HOT,
                1,
                Duration.ofSeconds(1),
                null,
                null,
                null,
                Duration.ofSeconds(1)),
            new ThrottleConfig(10, 10, Duration.ofSeconds(1)));
    Transports transports = Transports.nio().withBackendTls(BackendTls.load(c));
    BackendNode node =
        new BackendNode(
            "db",
            new HostPort(target.primary().host(), target.primary().port()),
            NodeRole.PRIMARY,
            NodeState.UP,
            0);
    Future<PgBackendConnection> f =
        PgBackendConnector.connect(
            group.next(),
            transports,
            node,
            "app",
            "apppw",
            Map.of("user", "app", "database", "app"),
            Duration.ofSeconds(10),
            1 << 20,
            new io.halo.proxy.pg.auth.ScramKeyCache());
    f.await(15, TimeUnit.SECONDS);
    if (!f.isSuccess()) {
      return f.cause();
    }
    PgBackendConnection conn = f.getNow();
    conn.startupMessages().forEach(ByteBuf::release);
    conn.channel().close().await(5, TimeUnit.SECONDS);
    return null;
  }
}

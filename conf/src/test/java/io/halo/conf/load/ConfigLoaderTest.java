package io.halo.conf.load;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.halo.conf.model.AdminConfig;
import io.halo.conf.model.AuthMethod;
import io.halo.conf.model.BackendConfig;
import io.halo.conf.model.BackendRole;
import io.halo.conf.model.ClusterConfig;
import io.halo.conf.model.Engine;
import io.halo.conf.model.FailoverConfig;
import io.halo.conf.model.HaloConfig;
import io.halo.conf.model.HostPort;
import io.halo.conf.model.ListenerConfig;
import io.halo.conf.model.MonitorConfig;
import io.halo.conf.model.Route;
import io.halo.conf.model.ServerConfig;
import io.halo.conf.model.ThrottleConfig;
import io.halo.conf.model.UserConfig;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.Test;

class ConfigLoaderTest {

  private static final String MINIMAL =
      """
      users:
        - name: app
          password: secret
      clusters:
        - name: main
          listeners:
            - listen: 0.0.0.0:6432
          backends:
            - name: pg1
              address: 10.0.0.1:5432
              role: primary
          monitor:
            user: mon
      """;

  @Test
  void binds_every_key_of_a_full_config() throws Exception {
    // Given a config that sets every key to a value other than its default
    String yaml =
        """
        server:
          io_threads: 4
          auth_timeout: 20s
          backend_connect_timeout: 3s
          max_message_size: 32MB
          shutdown_timeout: 1m
        admin:
          listen: 127.0.0.1:9090
          token: tok
        users:
          - name: app
            password: pw
            auth: MD5
            backend_user: app_be
            backend_password: pw_be
          - name: local
            auth: trust
        clusters:
          - name: shop
            engine: mysql
            listeners:
              - listen: 0.0.0.0:3306
                route: replicas
                max_client_connections: 50
                fallback_to_primary: false
            backends:
              - name: db1
                address: "[::1]:3307"
                role: primary
                priority: 2
              - name: db2
                address: db2.internal:3306
                role: cold
                priority: -1
            monitor:
              user: mon
              password: monpw
              database: mysql
              interval: 250ms
              timeout: 2s
              failures: 5
              successes: 4
            failover:
              mode: observe
              type: cold
              max_lag: 64kB
              hold_timeout: 1h
              fence_command: fence
              start_command: start
              switchover_command: switch
              command_timeout: 45s
            throttle:
              max_connections: 10
              max_queue: 0
              queue_timeout: 100ms
        """;

    // When
    HaloConfig config = ConfigLoader.parse(yaml, "full.yaml", Map.of());

    // Then
    assertThat(config.source()).isNull();
    assertThat(config.server())
        .isEqualTo(
            new ServerConfig(
                4,
                Duration.ofSeconds(20),
                Duration.ofSeconds(3),
                32L << 20,
                Duration.ofMinutes(1)));
    assertThat(config.admin()).isEqualTo(new AdminConfig(new HostPort("127.0.0.1", 9090), "tok"));
    assertThat(config.users())
        .containsExactly(
            new UserConfig("app", "pw", AuthMethod.MD5, "app_be", "pw_be"),
            new UserConfig("local", null, AuthMethod.TRUST, "local", null));
    ClusterConfig shop = config.cluster("shop").orElseThrow();
    assertThat(shop.engine()).isEqualTo(Engine.MYSQL);
    assertThat(shop.listeners())
        .containsExactly(
            new ListenerConfig(new HostPort("0.0.0.0", 3306), Route.REPLICAS, 50, false));
    assertThat(shop.backends())
        .containsExactly(
            new BackendConfig("db1", new HostPort("::1", 3307), BackendRole.PRIMARY, 2),
            new BackendConfig("db2", new HostPort("db2.internal", 3306), BackendRole.COLD, -1));
    assertThat(shop.monitor())
        .isEqualTo(
            new MonitorConfig(
                "mon", "monpw", "mysql", Duration.ofMillis(250), Duration.ofSeconds(2), 5, 4));
    assertThat(shop.failover())
        .isEqualTo(
            new FailoverConfig(
                FailoverConfig.Mode.OBSERVE,
                FailoverConfig.Type.COLD,
                64 * 1024,
                Duration.ofHours(1),
                "fence",
                "start",
                "switch",
                Duration.ofSeconds(45)));
    assertThat(shop.throttle()).isEqualTo(new ThrottleConfig(10, 0, Duration.ofMillis(100)));
  }

  @Test
  void state_dir_defaults_to_halo_state_beside_the_config_file_and_resolves_relative_to_it(
      @org.junit.jupiter.api.io.TempDir Path dir) throws Exception {
    Path file = dir.resolve("halo.yaml");
    Files.writeString(file, MINIMAL);
    assertThat(ConfigLoader.load(file, Map.of()).server().stateDir())
        .isEqualTo(dir.toAbsolutePath().resolve("halo-state"));
    Files.writeString(file, "server:\n  state_dir: var/state\n" + MINIMAL);
    assertThat(ConfigLoader.load(file, Map.of()).server().stateDir())
        .isEqualTo(dir.toAbsolutePath().resolve("var/state"));
    Files.writeString(file, "server:\n  state_dir: /srv/halo\n" + MINIMAL);
    assertThat(ConfigLoader.load(file, Map.of()).server().stateDir())
        .isEqualTo(Path.of("/srv/halo"));
    assertThat(ConfigLoader.parse(MINIMAL, "text.yaml", Map.of()).server().stateDir())
        .as("a parsed text has no file to sit beside")
        .isNull();
    assertThatThrownBy(
            () -> ConfigLoader.parse("server:\n  state_dir: ''\n" + MINIMAL, "e.yaml", Map.of()))
        .hasMessageContaining("server.state_dir: is empty");
  }

  private static ServerConfig.Transport transport(String yaml) throws ConfigException {
    return ConfigLoader.parse(yaml + MINIMAL, "t.yaml", Map.of()).server().transport();
  }

  @Test
  void transport_is_auto_by_default_and_names_a_kernel_interface_with_dash_or_underscore()
      throws Exception {
    assertThat(transport("")).isEqualTo(ServerConfig.Transport.AUTO);
    assertThat(transport("server:\n  transport: io_uring\n"))
        .isEqualTo(ServerConfig.Transport.IO_URING);
    assertThat(transport("server:\n  transport: IO-URING\n"))
        .isEqualTo(ServerConfig.Transport.IO_URING);
    assertThat(transport("server:\n  transport: epoll\n")).isEqualTo(ServerConfig.Transport.EPOLL);
    assertThatThrownBy(() -> transport("server:\n  transport: kqueue\n"))
        .hasMessageContaining("server.transport")
        .hasMessageContaining("'kqueue' is not one of: auto, io-uring, epoll, nio");
  }

  private static FailoverConfig withConsensus(String value) throws ConfigException {
    return ConfigLoader.parse(
            MINIMAL + "    failover:\n      require_consensus: " + value + "\n", "c.yaml", Map.of())
        .cluster("main")
        .orElseThrow()
        .failover();
  }

  @Test
  void require_consensus_is_off_by_default_and_takes_true_or_a_number_of_instances()
      throws Exception {
    assertThat(ConfigLoader.parse(MINIMAL, "a.yaml", Map.of()).cluster("main").orElseThrow())
        .extracting(c -> c.failover().requireConsensus())
        .isEqualTo(FailoverConfig.CONSENSUS_OFF);
    assertThat(withConsensus("true").requireConsensus())
        .isEqualTo(FailoverConfig.CONSENSUS_MAJORITY);
    assertThat(withConsensus("false").requireConsensus()).isEqualTo(FailoverConfig.CONSENSUS_OFF);
    assertThat(withConsensus("2").requireConsensus()).isEqualTo(2);
    assertThatThrownBy(() -> withConsensus("0"))
        .hasMessageContaining("failover.require_consensus")
        .hasMessageContaining(">= 1");
    assertThatThrownBy(() -> withConsensus("most"))
        .hasMessageContaining("failover.require_consensus")
        .hasMessageContaining("true (a majority of the live instances), false, or a number");
  }

  @Test
  void coordination_is_absent_by_default_and_binds_zookeeper_with_its_defaults() throws Exception {
    assertThat(ConfigLoader.parse(MINIMAL, "a.yaml", Map.of()).coordination()).isNull();
    io.halo.conf.model.CoordinationConfig c =
        ConfigLoader.parse(
                "coordination:\n  zookeeper:\n    connect: zk1:2181,zk2:2181\n" + MINIMAL,
                "z.yaml",
                Map.of())
            .coordination();
    assertThat(c)
        .isEqualTo(
            new io.halo.conf.model.CoordinationConfig(
                "zk1:2181,zk2:2181", "/halo", Duration.ofSeconds(10), null));
    assertThat(
            ConfigLoader.parse(
                    "coordination:\n  zookeeper:\n    connect: zk:2181\n    root: /prod/halo\n"
                        + "    session_timeout: 6s\n    instance: halo-a\n"
                        + MINIMAL,
                    "z.yaml",
                    Map.of())
                .coordination())
        .isEqualTo(
            new io.halo.conf.model.CoordinationConfig(
                "zk:2181", "/prod/halo", Duration.ofSeconds(6), "halo-a"));
    assertThat(c.fastTakeover()).isTrue();
    assertThat(
            ConfigLoader.parse(
                    "coordination:\n  zookeeper:\n    connect: zk:2181\n"
                        + "    fast_takeover: false\n"
                        + MINIMAL,
                    "z.yaml",
                    Map.of())
                .coordination()
                .fastTakeover())
        .isFalse();
    assertThatThrownBy(
            () ->
                ConfigLoader.parse(
                    "coordination:\n  zookeeper:\n    connect: zk:2181\n    fast_takeover: soon\n"
                        + MINIMAL,
                    "e.yaml",
                    Map.of()))
        .hasMessageContaining("coordination.zookeeper.fast_takeover");
    assertThatThrownBy(
            () ->
                ConfigLoader.parse(
                    "coordination:\n  zookeeper: {}\n" + MINIMAL, "e.yaml", Map.of()))
        .hasMessageContaining("coordination.zookeeper.connect");
    assertThatThrownBy(
            () ->
                ConfigLoader.parse(
                    "coordination:\n  zookeeper:\n    connect: zk:2181\n    root: halo\n" + MINIMAL,
                    "e.yaml",
                    Map.of()))
        .hasMessageContaining("coordination.zookeeper.root: must be an absolute znode path");
    assertThatThrownBy(
            () -> ConfigLoader.parse("coordination:\n  etcd: {}\n" + MINIMAL, "e.yaml", Map.of()))
        .hasMessageContaining("coordination.etcd: unknown key");
    // ZooKeeper digest authentication, from the environment like every secret
    io.halo.conf.model.CoordinationConfig authed =
        ConfigLoader.parse(
                "coordination:\n  zookeeper:\n    connect: zk:2181\n    auth: halo:${ZK_SECRET}\n"
                    + MINIMAL,
                "z.yaml",
                Map.of("ZK_SECRET", "s3cret"))
            .coordination();
    assertThat(authed.auth()).isEqualTo("halo:s3cret");
    assertThat(authed.toString()).doesNotContain("s3cret");
    assertThatThrownBy(
            () ->
                ConfigLoader.parse(
                    "coordination:\n  zookeeper:\n    connect: zk:2181\n    auth: s3cret\n"
                        + MINIMAL,
                    "e.yaml",
                    Map.of()))
        .hasMessageContaining("coordination.zookeeper.auth: must be user:password");
  }

  @Test
  void coordination_tls_resolves_files_beside_the_config_and_checks_certificates_always(
      @org.junit.jupiter.api.io.TempDir Path dir) throws Exception {
    for (String f : new String[] {"zk-ca.pem", "halo.pem", "halo.key"}) {
      Files.writeString(dir.resolve(f), "PEM");
    }
    Path file = dir.resolve("halo.yaml");
    String zk = "coordination:\n  zookeeper:\n    connect: zk1:2281\n    tls: ";
    Files.writeString(file, zk + "{ ca: zk-ca.pem, cert: halo.pem, key: halo.key }\n" + MINIMAL);
    io.halo.conf.model.CoordinationConfig c = ConfigLoader.load(file, Map.of()).coordination();
    assertThat(c.tls().mode()).isEqualTo(io.halo.conf.model.BackendTlsConfig.Mode.VERIFY_FULL);
    assertThat(c.tls().ca()).isEqualTo(dir.resolve("zk-ca.pem"));
    assertThat(c.tls().cert()).isEqualTo(dir.resolve("halo.pem"));
    assertThat(c.tls().key()).isEqualTo(dir.resolve("halo.key"));
    assertThat(c.toString()).contains("tls=verify-full");
    // ZooKeeper's client has no unchecked TLS: only verify-full, and it needs the CA
    Files.writeString(file, zk + "{ mode: require, ca: zk-ca.pem }\n" + MINIMAL);
    assertThatThrownBy(() -> ConfigLoader.load(file, Map.of()))
        .hasMessageContaining("coordination.zookeeper.tls.mode: must be verify-full or disable");
    Files.writeString(file, zk + "{ mode: verify-full }\n" + MINIMAL);
    assertThatThrownBy(() -> ConfigLoader.load(file, Map.of()))
        .hasMessageContaining("coordination.zookeeper.tls.ca: required key is missing");
    Files.writeString(file, zk + "{ ca: zk-ca.pem, cert: halo.pem }\n" + MINIMAL);
    assertThatThrownBy(() -> ConfigLoader.load(file, Map.of()))
        .hasMessageContaining("cert and key go together");
    Files.writeString(file, zk + "{ ca: missing.pem }\n" + MINIMAL);
    assertThatThrownBy(() -> ConfigLoader.load(file, Map.of()))
        .hasMessageContaining("coordination.zookeeper.tls.ca: cannot read file");
    Files.writeString(file, zk + "{ mode: disable }\n" + MINIMAL);
    assertThat(ConfigLoader.load(file, Map.of()).coordination().tls().enabled()).isFalse();
  }

  @Test
  void applies_the_documented_defaults() throws Exception {
    HaloConfig config = ConfigLoader.parse(MINIMAL, "minimal.yaml", Map.of());

    assertThat(config.server())
        .isEqualTo(
            new ServerConfig(
                0,
                Duration.ofSeconds(15),
                Duration.ofSeconds(5),
                64L << 20,
                Duration.ofSeconds(10)));
    assertThat(config.admin()).isEqualTo(new AdminConfig(new HostPort("127.0.0.1", 7070), null));
    assertThat(config.users())
        .containsExactly(
            new UserConfig("app", "secret", AuthMethod.SCRAM_SHA_256, "app", "secret"));
    ClusterConfig main = config.clusters().get(0);
    assertThat(main.engine()).isEqualTo(Engine.POSTGRESQL);
    assertThat(main.listeners())
        .containsExactly(
            new ListenerConfig(new HostPort("0.0.0.0", 6432), Route.PRIMARY, 1000, true));
    assertThat(main.backends())
        .containsExactly(
            new BackendConfig("pg1", new HostPort("10.0.0.1", 5432), BackendRole.PRIMARY, 0));
    assertThat(main.monitor())
        .isEqualTo(
            new MonitorConfig(
                "mon", null, "postgres", Duration.ofMillis(500), Duration.ofSeconds(1), 3, 2));
    assertThat(main.failover())
        .isEqualTo(
            new FailoverConfig(
                FailoverConfig.Mode.AUTOMATIC,
                FailoverConfig.Type.HOT,
                16L << 20,
                Duration.ofSeconds(10),
                null,
                null,
                null,
                Duration.ofSeconds(30)));
    assertThat(main.throttle()).isEqualTo(new ThrottleConfig(200, 1000, Duration.ofSeconds(2)));
  }

  @Test
  void binds_transaction_limits_and_per_user_limits() throws Exception {
    String yaml =
        MINIMAL.replace(
                "    password: secret\n",
                "    password: secret\n    max_connections: 5\n    max_transactions_per_second: 100\n")
            + "    throttle:\n      max_transactions: 40\n      limit: gradient\n";

    HaloConfig config = ConfigLoader.parse(yaml, "limits.yaml", Map.of());

    assertThat(config.clusters().get(0).throttle())
        .isEqualTo(
            new ThrottleConfig(
                200,
                1000,
                Duration.ofSeconds(2),
                40,
                io.halo.conf.model.ThrottleLimit.GRADIENT,
                10));
    assertThat(config.users())
        .containsExactly(
            new UserConfig(
                "app", "secret", AuthMethod.SCRAM_SHA_256, "app", "secret", 5, 100, 100));
  }

  @Test
  void a_transaction_limit_on_a_mysql_cluster_loads() throws Exception {
    String yaml =
        MINIMAL.replace("    listeners:", "    engine: mysql\n    listeners:")
            + "    throttle:\n      max_transactions: 10\n";

    HaloConfig config = ConfigLoader.parse(yaml, "mysql.yaml", Map.of());

    assertThat(config.clusters().get(0).throttle().maxTransactions()).isEqualTo(10);
  }

  @Test
  void max_lag_defaults_to_16_mb_of_wal_on_postgresql_and_to_no_missing_transaction_on_mysql()
      throws Exception {
    HaloConfig pg = ConfigLoader.parse(MINIMAL, "pg.yaml", Map.of());
    assertThat(pg.clusters().get(0).failover().maxLagBytes()).isEqualTo(16L << 20);

    // MySQL lag is a count of GTID transactions: 16 MB read as a count would let a replica 16.7
    // million transactions behind be promoted
    HaloConfig mysql =
        ConfigLoader.parse(
            MINIMAL.replace("    listeners:", "    engine: mysql\n    listeners:"),
            "mysql.yaml",
            Map.of());
    assertThat(mysql.clusters().get(0).failover().maxLagBytes()).isZero();

    HaloConfig set =
        ConfigLoader.parse(
            MINIMAL.replace("    listeners:", "    engine: mysql\n    listeners:")
                + "    failover:\n      max_lag: 50\n",
            "mysql.yaml",
            Map.of());
    assertThat(set.clusters().get(0).failover().maxLagBytes()).isEqualTo(50);
  }

  @Test
  void an_adaptive_limit_without_a_maximum_is_refused() {
    String yaml = MINIMAL + "    throttle:\n      limit: gradient\n";

    assertThatThrownBy(() -> ConfigLoader.parse(yaml, "bad.yaml", Map.of()))
        .hasMessageContaining("limit: gradient needs max_transactions");
  }

  @Test
  void a_backend_without_role_is_a_standby() throws Exception {
    String yaml =
        MINIMAL.replace(
            "    monitor:", "      - name: pg2\n        address: 10.0.0.2:5432\n    monitor:");

    HaloConfig config = ConfigLoader.parse(yaml, "two.yaml", Map.of());

    assertThat(config.clusters().get(0).backend("pg2").orElseThrow().role())
        .isEqualTo(BackendRole.STANDBY);
  }

  @Test
  void load_names_the_file_as_source() throws Exception {
    Path file = Files.createTempFile("halo", ".yaml");
    try {
      Files.writeString(file, MINIMAL);

      HaloConfig config = ConfigLoader.load(file, Map.of());

      assertThat(config.source()).isEqualTo(file);
    } finally {
      Files.delete(file);
    }
  }

  @Test
  void an_unreadable_file_is_one_violation_naming_it() {
    Path missing = Path.of("does-not-exist.yaml");

    ConfigException e = ViolationAssertions.failure(() -> ConfigLoader.load(missing, Map.of()));

    assertThat(e.violations())
        .singleElement()
        .satisfies(
            v -> {
              assertThat(v.file()).isEqualTo("does-not-exist.yaml");
              assertThat(v.message()).isEqualTo("cannot read: no such file");
              assertThat(v.toString())
                  .isEqualTo("does-not-exist.yaml:0:0: cannot read: no such file");
            });
  }
}

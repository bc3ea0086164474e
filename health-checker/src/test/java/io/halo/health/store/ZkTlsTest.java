package io.halo.health.store;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.halo.conf.model.BackendTlsConfig;
import io.halo.conf.model.CoordinationConfig;
import io.halo.testkit.TestCertificates;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.CuratorFrameworkFactory;
import org.apache.curator.retry.RetryOneTime;
import org.apache.curator.test.InstanceSpec;
import org.apache.curator.test.TestingServer;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code coordination.zookeeper.tls}: a real ZooKeeper server (Curator's TestingServer) with a
 * secure client port that wants client certificates, its certificates made by the test from a test
 * CA. The fleet works over TLS; a wrong authority, a wrong host name or a missing client
 * certificate is refused, and Halo says where to look.
 */
class ZkTlsTest {

  @TempDir Path dir;

  TestingServer zk;
  int securePort;
  TestCertificates ca;
  TestCertificates.Pair halo;
  Properties saved;

  /**
   * A ZooKeeper server whose secure client port presents a certificate for {@code names} and wants
   * a client certificate from the same CA.
   */
  void startZooKeeper(String... names) throws Exception {
    // ZooKeeper's server sets its ssl.* settings as zookeeper.* system properties of this JVM:
    // put them back afterwards for the other tests
    saved = (Properties) System.getProperties().clone();
    ca = TestCertificates.create(dir, "ZooKeeper CA");
    TestCertificates.Pair server = ca.server("zk", names);
    halo = ca.client("halo-zk", "halo", "DNS:localhost");
    Path serverPem = dir.resolve("zk-server.pem");
    Files.writeString(
        serverPem, Files.readString(server.cert()) + "\n" + Files.readString(server.key()));
    securePort = io.halo.testkit.Ports.free();
    Map<String, Object> props =
        Map.of(
            "secureClientPort", String.valueOf(securePort),
            "serverCnxnFactory", "org.apache.zookeeper.server.NettyServerCnxnFactory",
            "ssl.keyStore.location", serverPem.toString(),
            "ssl.keyStore.type", "PEM",
            "ssl.trustStore.location", ca.caCert().toString(),
            "ssl.trustStore.type", "PEM",
            "ssl.clientAuth", "need");
    InstanceSpec spec =
        new InstanceSpec(
            Files.createDirectory(dir.resolve("zk-data")).toFile(),
            io.halo.testkit.Ports.free(),
            io.halo.testkit.Ports.free(),
            io.halo.testkit.Ports.free(),
            true,
            1,
            -1,
            -1,
            props,
            "127.0.0.1");
    zk = new TestingServer(spec, true);
  }

  @AfterEach
  void stop() throws IOException {
    if (zk != null) {
      zk.close();
    }
    if (saved != null) {
      System.setProperties(saved);
    }
  }

  private CoordinationConfig config(String host, BackendTlsConfig tls) {
    return new CoordinationConfig(
        host + ":" + securePort, "/halo-tls", Duration.ofSeconds(2), "a", null, tls);
  }

  private BackendTlsConfig tls(BackendTlsConfig.Mode mode, Path caCert, boolean withCert) {
    return new BackendTlsConfig(
        mode, caCert, withCert ? halo.cert() : null, withCert ? halo.key() : null, false);
  }

  @Test
  void over_tls_with_a_client_certificate_the_fleet_elects_a_leader_and_shares_its_state()
      throws Exception {
    startZooKeeper("localhost");
    BackendTlsConfig tls = tls(BackendTlsConfig.Mode.VERIFY_FULL, ca.caCert(), true);
    // Given two instances connected to the secure port only
    try (ZkCoordination a = ZkCoordination.connect(config("localhost", tls), "a", null);
        ZkCoordination b = ZkCoordination.connect(config("localhost", tls), "b", null)) {
      BlockingQueue<SavedState> seen = new LinkedBlockingQueue<>();
      ZkStateStore mine = a.store("main");
      ZkStateStore theirs = b.store("main");
      mine.load("main");
      mine.watch(seen::add);
      theirs.watch(seen::add);
      // When one leads and saves a decision
      Awaitility.await()
          .atMost(Duration.ofSeconds(10))
          .until(() -> mine.leading() || theirs.leading());
      ZkStateStore leader = mine.leading() ? mine : theirs;
      leader.save(
          new SavedState(
              SavedState.FORMAT,
              "main",
              3,
              "pg2",
              List.of("pg1"),
              null,
              null,
              null,
              Instant.now()));
      // Then the other instance gets it through the same TLS session
      SavedState got = seen.poll(10, TimeUnit.SECONDS);
      assertThat(got).isNotNull();
      assertThat(got.epoch()).isEqualTo(3);
      assertThat(got.primary()).isEqualTo("pg2");
    }
    // and the state is in the server, as a plain client on its plain port reads it
    try (CuratorFramework c =
        CuratorFrameworkFactory.newClient(zk.getConnectString(), new RetryOneTime(100))) {
      c.start();
      com.fasterxml.jackson.databind.JsonNode state =
          new com.fasterxml.jackson.databind.ObjectMapper()
              .readTree(c.getData().forPath("/halo-tls/clusters/main/state"));
      assertThat(state.path("primary").asText()).isEqualTo("pg2");
      assertThat(state.path("epoch").asLong()).isEqualTo(3);
    }
  }

  @Test
  void an_unknown_authority_no_client_certificate_or_plaintext_is_refused() throws Exception {
    startZooKeeper("localhost");
    TestCertificates other = TestCertificates.create(dir.resolve("other"), "Other CA");
    // A server certificate from another authority
    assertRefused(
        config("localhost", tls(BackendTlsConfig.Mode.VERIFY_FULL, other.caCert(), true)));
    // No client certificate, where the ensemble wants one
    assertRefused(config("localhost", tls(BackendTlsConfig.Mode.VERIFY_FULL, ca.caCert(), false)));
    // Plaintext to the secure port
    assertRefused(config("localhost", BackendTlsConfig.DISABLED));
  }

  @Test
  void a_certificate_for_another_host_name_is_refused() throws Exception {
    startZooKeeper("zk.example");
    assertRefused(config("localhost", tls(BackendTlsConfig.Mode.VERIFY_FULL, ca.caCert(), true)));
  }

  private static void assertRefused(CoordinationConfig c) {
    assertThatThrownBy(() -> ZkCoordination.connect(c, "x", null).close())
        .as(c.toString())
        .isInstanceOf(IOException.class)
        .hasMessageContaining("cannot reach ZooKeeper at " + c.connect());
  }
}

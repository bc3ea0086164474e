package io.halo.health.store;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.halo.conf.model.CoordinationConfig;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.CuratorFrameworkFactory;
import org.apache.curator.retry.RetryOneTime;
import org.apache.curator.test.TestingServer;
import org.apache.zookeeper.KeeperException;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * {@code coordination.zookeeper.auth}: the fleet's state in ZooKeeper decides where writes go, so
 * with a digest identity configured nobody without it may read, change or delete what Halo keeps
 * there (a real ZooKeeper server, Curator's TestingServer).
 */
class ZkAuthTest {

  private TestingServer zk;

  @BeforeEach
  void start() throws Exception {
    zk = new TestingServer(io.halo.testkit.Ports.free(), true);
  }

  @AfterEach
  void stop() throws Exception {
    zk.close();
  }

  private CoordinationConfig config(String auth) {
    return new CoordinationConfig(
        zk.getConnectString(), "/halo-auth", Duration.ofSeconds(5), "a", auth);
  }

  private CuratorFramework outsider(String auth) {
    CuratorFrameworkFactory.Builder b =
        CuratorFrameworkFactory.builder()
            .connectString(zk.getConnectString())
            .retryPolicy(new RetryOneTime(100));
    if (auth != null) {
      b.authorization("digest", auth.getBytes(StandardCharsets.UTF_8));
    }
    CuratorFramework c = b.build();
    c.start();
    return c;
  }

  @Test
  void with_auth_only_the_fleets_identity_may_touch_its_znodes() throws Exception {
    // Given a Halo instance that made its cluster's znodes with auth configured
    try (ZkCoordination halo = ZkCoordination.connect(config("halo:s3cret"), "a", null)) {
      halo.store("main").load("main");
      String root = "/halo-auth";
      // Then a client without credentials, or with other ones, can neither read, write, add
      // nor delete there
      for (String auth : new String[] {null, "halo:wrong", "intruder:s3cret"}) {
        try (CuratorFramework c = outsider(auth)) {
          assertThatThrownBy(() -> c.getData().forPath(root))
              .as(String.valueOf(auth))
              .isInstanceOf(KeeperException.NoAuthException.class);
          assertThatThrownBy(() -> c.setData().forPath(root, new byte[] {1}))
              .isInstanceOf(KeeperException.NoAuthException.class);
          assertThatThrownBy(() -> c.create().forPath(root + "/forged"))
              .isInstanceOf(KeeperException.NoAuthException.class);
          assertThatThrownBy(() -> c.delete().deletingChildrenIfNeeded().forPath(root))
              .isInstanceOf(KeeperException.NoAuthException.class);
        }
      }
      // and the fleet works under its identity: one instance leads (the election's znodes carry
      // the same ACL), saves a state, and the other one sees it
      try (ZkCoordination other = ZkCoordination.connect(config("halo:s3cret"), "b", null)) {
        java.util.concurrent.BlockingQueue<SavedState> seen =
            new java.util.concurrent.LinkedBlockingQueue<>();
        ZkStateStore mine = halo.store("main");
        ZkStateStore theirs = other.store("main");
        mine.watch(seen::add);
        theirs.watch(seen::add);
        org.awaitility.Awaitility.await()
            .atMost(Duration.ofSeconds(10))
            .until(() -> mine.leading() || theirs.leading());
        ZkStateStore leader = mine.leading() ? mine : theirs;
        leader.save(
            new SavedState(
                SavedState.FORMAT,
                "main",
                2,
                "pg2",
                java.util.List.of("pg1"),
                null,
                null,
                null,
                java.time.Instant.now()));
        SavedState got = seen.poll(10, java.util.concurrent.TimeUnit.SECONDS);
        assertThat(got).isNotNull();
        assertThat(got.epoch()).isEqualTo(2);
        assertThat(got.primary()).isEqualTo("pg2");
        // and the other one, a follower, saves nothing and says so (its caller must not act as
        // if it had saved)
        ZkStateStore follower = leader == mine ? theirs : mine;
        assertThatThrownBy(
                () ->
                    follower.save(
                        new SavedState(
                            SavedState.FORMAT,
                            "main",
                            3,
                            "pg1",
                            java.util.List.of("pg2"),
                            null,
                            null,
                            null,
                            java.time.Instant.now())))
            .isInstanceOf(java.io.IOException.class)
            .hasMessageContaining("not the leader");
        assertThat(leader.load("main")).get().extracting(SavedState::epoch).isEqualTo(2L);
      }
    }
  }

  @Test
  void without_auth_the_znodes_stay_open_as_before() throws Exception {
    try (ZkCoordination halo = ZkCoordination.connect(config(null), "a", null)) {
      halo.store("main").load("main");
      try (CuratorFramework c = outsider(null)) {
        assertThat(c.getChildren().forPath("/halo-auth")).isNotEmpty();
      }
    }
  }
}

package io.halo.proxy.mysql;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.halo.conf.model.AdminConfig;
import io.halo.conf.model.AuthMethod;
import io.halo.conf.model.BackendConfig;
import io.halo.conf.model.BackendRole;
import io.halo.conf.model.Balance;
import io.halo.conf.model.ClusterConfig;
import io.halo.conf.model.Engine;
import io.halo.conf.model.FailoverConfig;
import io.halo.conf.model.HaloConfig;
import io.halo.conf.model.HostPort;
import io.halo.conf.model.ListenerConfig;
import io.halo.conf.model.MonitorConfig;
import io.halo.conf.model.Route;
import io.halo.conf.model.ThrottleConfig;
import io.halo.conf.model.UserConfig;
import io.halo.proxy.HaloFixture;
import io.halo.proxy.HaloServer;
import io.halo.testkit.KeepLogsOnFailure;
import io.halo.testkit.MariaDbCluster;
import io.halo.testkit.MariaDbNode;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * {@code route: split} on a real MariaDB primary and GTID replica through Connector/J: reads
 * outside transactions reach the replica, the rest the primary, and a session never reads older
 * than its own writes (replica SQL thread stopped: 1,000 write-then-read iterations, no stale
 * read).
 */
class MySqlSplitIT {

  @RegisterExtension static final KeepLogsOnFailure LOGS = new KeepLogsOnFailure();

  MariaDbCluster cluster;
  HaloServer halo;

  @AfterEach
  void stop() {
    if (halo != null) {
      halo.close();
    }
    if (cluster != null) {
      cluster.close();
    }
  }

  private void start(Duration wait) throws Exception {
    start(wait, c -> c);
  }

  /** As above, the cluster's config adjusted by {@code adjust} (e.g. given auth_query). */
  private void start(Duration wait, java.util.function.UnaryOperator<ClusterConfig> adjust)
      throws Exception {
    cluster =
        LOGS.watch(
            MariaDbCluster.builder()
                .name("mysplit")
                .replicas(1)
                .user("app", "apppw")
                .user("bob", "bobpw")
                .database("app")
                .setting("max_allowed_packet", "64M")
                .start());
    try (Connection c = cluster.primary().connect("app", "apppw", "app")) {
      c.createStatement().execute("create table kv(id int primary key, v longblob)");
    }
    List<BackendConfig> backends = new ArrayList<>();
    for (MariaDbNode n : cluster.nodes()) {
      backends.add(
          new BackendConfig(
              n.name(),
              new HostPort("127.0.0.1", n.port()),
              n == cluster.primary() ? BackendRole.PRIMARY : BackendRole.STANDBY,
              0));
    }
    ClusterConfig c =
        new ClusterConfig(
            "shop",
            Engine.MYSQL,
            List.of(
                new ListenerConfig(
                    new HostPort("127.0.0.1", 0),
                    Route.SPLIT,
                    200,
                    true,
                    Balance.ROUND_ROBIN,
                    -1,
                    true,
                    wait)),
            backends,
            new MonitorConfig(
                cluster.rootUser(),
                null,
                "mysql",
                Duration.ofMillis(200),
                Duration.ofSeconds(1),
                3,
                2),
            new FailoverConfig(
                FailoverConfig.Mode.AUTOMATIC,
                FailoverConfig.Type.HOT,
                1000,
                Duration.ofSeconds(15),
                null,
                null,
                null,
                Duration.ofSeconds(30)),
            new ThrottleConfig(200, 1000, Duration.ofSeconds(2)));
    halo =
        HaloServer.start(
            new HaloConfig(
                null,
                HaloFixture.server(Duration.ofSeconds(5), 64L << 20),
                new AdminConfig(new HostPort("127.0.0.1", 0), null),
                List.of(
                    new UserConfig("app", "apppw", AuthMethod.SCRAM_SHA_256, "app", "apppw"),
                    new UserConfig("bob", "bobhalo", AuthMethod.SCRAM_SHA_256, "bob", "bobpw")),
                List.of(adjust.apply(c))));
    await()
        .atMost(Duration.ofSeconds(10))
        .until(
            () -> {
              try (Connection r = replica().connect("app", "apppw", "app");
                  ResultSet rs =
                      r.createStatement()
                          .executeQuery(
                              "select count(*) from information_schema.tables where table_schema = 'app' and table_name = 'kv'")) {
                rs.next();
                return rs.getInt(1) == 1;
              }
            });
  }

  private MariaDbNode replica() {
    return cluster.replicas().get(0);
  }

  private Connection connect(String extra) throws SQLException {
    return DriverManager.getConnection(
        "jdbc:mysql://127.0.0.1:"
            + halo.boundAddresses().get(0).getPort()
            + "/app?user=app&password=apppw&allowPublicKeyRetrieval=true&useSSL=false"
            + extra);
  }

  private static int port(Connection c, String sql) throws SQLException {
    try (ResultSet rs = c.createStatement().executeQuery(sql)) {
      rs.next();
      return rs.getInt(1);
    }
  }

  /**
   * An account found by {@code auth_query} (not in Halo's config) reads from the replica: the split
   * engine opens the replica connection with the credentials the login found (it once looked the
   * user up in the config again, and failed for such an account).
   */
  @Test
  void an_account_found_by_auth_query_reads_from_the_replica() throws Exception {
    start(Duration.ofSeconds(2), c -> c.withAuthQuery(MySqlHalo.AUTH_QUERY));
    try (Connection c = cluster.primary().connectAsRoot();
        java.sql.Statement s = c.createStatement()) {
      MySqlHalo.createAuthQueryAccounts(s);
    }
    await()
        .atMost(Duration.ofSeconds(10))
        .ignoreExceptions()
        .until(() -> replica().connect("carol", "carolpw", "app").isValid(1));
    try (Connection c =
        DriverManager.getConnection(
            "jdbc:mysql://127.0.0.1:"
                + halo.boundAddresses().get(0).getPort()
                + "/app?user=carol&password=carolpw&useSSL=false")) {
      assertThat(port(c, "select @@port")).isEqualTo(replica().port());
      c.createStatement().execute("insert into kv values (7, 'carol')");
      assertThat(port(c, "select @@port")).isIn(replica().port(), cluster.primary().port());
    }
  }

  /**
   * An empty command packet gets ERR 1047 as from the server, and later replies stay in step (issue
   * 9.8).
   */
  @Test
  void an_empty_command_packet_gets_1047_and_later_replies_stay_in_step() throws Exception {
    start(Duration.ofSeconds(2));
    try (RawMySqlSocket c =
        RawMySqlSocket.login(halo.boundAddresses().get(0).getPort(), "app", "apppw", "app")) {
      for (String value : new String[] {"one", "two"}) {
        byte[] err = c.emptyCommand();
        assertThat(err[0] & 0xff).as("ERR").isEqualTo(0xff);
        assertThat((err[1] & 0xff) | (err[2] & 0xff) << 8).isEqualTo(1047);
        assertThat(c.value("select '" + value + "'")).isEqualTo(value);
      }
    }
  }

  /**
   * A setting the primary refused is not replayed on the replica: a direct connection stays in its
   * database after a failed USE, and so must a split session whose reads run on a replica that
   * would have accepted it (before, the replica connection got the failed USE and read there).
   */
  @Test
  void a_setting_the_primary_refused_is_not_replayed_on_the_replica() throws Exception {
    start(Duration.ofSeconds(2));
    try (Connection root = replica().connectAsRoot()) {
      root.createStatement().execute("create database replica_only");
      root.createStatement().execute("grant all on replica_only.* to 'app'@'%'");
    }
    try (Connection c = connect("")) {
      assertThatThrownBy(() -> c.createStatement().execute("use replica_only"))
          .isInstanceOf(SQLException.class)
          .hasMessageContaining("replica_only");
      try (ResultSet rs = c.createStatement().executeQuery("select database(), @@port")) {
        rs.next();
        assertThat(rs.getInt(2)).as("read on the replica").isEqualTo(replica().port());
        assertThat(rs.getString(1)).isEqualTo("app");
      }
    }
  }

  /**
   * COM_CHANGE_USER on a split listener, as on the server: the new user is authenticated at Halo
   * and the session starts over as that user, reads on the replica and writes on the primary (both
   * connections as bob's backend user, the old session's variables and pin gone); a wrong password
   * gets 1045 and the session goes on as before. Before, split listeners refused it with 1235.
   */
  @Test
  void change_user_on_a_split_listener_starts_the_session_over_as_the_new_user() throws Exception {
    start(Duration.ofSeconds(2));
    try (Connection root = cluster.primary().connectAsRoot()) {
      root.createStatement().execute("grant all on app.* to 'bob'@'%'");
    }
    int port = halo.boundAddresses().get(0).getPort();
    try (RawMySqlSocket raw = RawMySqlSocket.login(port, "app", "apppw", "app")) {
      assertThat(raw.value("select @@port")).isEqualTo(String.valueOf(replica().port()));
      raw.query("set @x = 5"); // a user variable pins the session to the primary
      assertThat(raw.value("select @@port")).isEqualTo(String.valueOf(cluster.primary().port()));
      assertThatThrownBy(() -> raw.changeUser("bob", "wrong", "app"))
          .isInstanceOfSatisfying(
              RawMySqlSocket.ServerError.class, e -> assertThat(e.code).isEqualTo(1045));
      assertThat(raw.value("select current_user()")).startsWith("app@");
      raw.changeUser("bob", "bobhalo", "app");
      List<String> read = raw.query("select current_user(), @@port").get(0);
      assertThat(read.get(0)).startsWith("bob@");
      assertThat(read.get(1)).as("no longer pinned").isEqualTo(String.valueOf(replica().port()));
      raw.query("insert into kv values (900, 'bob')");
      // the write ran on the primary as bob, and the next read sees it (read-your-writes)
      assertThat(raw.value("select v from kv where id = 900")).isEqualTo("bob");
      assertThat(raw.value("select @x")).as("the old session's variable").isNull();
    }
  }

  private static long abortedClients(MariaDbNode n) throws SQLException {
    try (Connection root = n.connectAsRoot();
        ResultSet rs =
            root.createStatement().executeQuery("show global status like 'Aborted_clients'")) {
      rs.next();
      return rs.getLong(2);
    }
  }

  @Test
  void a_client_that_quits_normally_leaves_no_aborted_client_on_either_backend() throws Exception {
    start(Duration.ofSeconds(2));
    long primaryBefore = abortedClients(cluster.primary());
    long replicaBefore = abortedClients(replica());
    for (int i = 0; i < 3; i++) {
      try (Connection c = connect("")) {
        c.createStatement().execute("insert into kv values (" + (100 + i) + ", 'x')");
        assertThat(port(c, "select @@port")).isPositive();
      }
    }
    Thread.sleep(500); // the servers count an abort when they notice the closed socket
    assertThat(abortedClients(cluster.primary())).as("primary").isEqualTo(primaryBefore);
    assertThat(abortedClients(replica())).as("replica").isEqualTo(replicaBefore);
  }

  @Test
  void reads_go_to_the_replica_and_everything_else_to_the_primary() throws Exception {
    start(Duration.ofSeconds(2));
    int primary = cluster.primary().port();
    int replica = replica().port();
    try (Connection c = connect("")) {
      assertThat(port(c, "select @@port")).isEqualTo(replica);
      assertThat(port(c, "/* halo:primary */ select @@port")).as("hint").isEqualTo(primary);
      c.createStatement().execute("insert into kv values (1, 'one')");
      assertThat(port(c, "select @@port from kv where id = 1 for update")).isEqualTo(primary);
      // after its own insert, the session reads from the replica once it has the row
      assertThat(port(c, "select @@port from kv where id = 1")).isEqualTo(replica);
      c.setAutoCommit(false);
      assertThat(port(c, "select @@port")).as("inside a transaction").isEqualTo(primary);
      c.commit();
      c.setAutoCommit(true);
      assertThat(port(c, "select @@port")).isEqualTo(replica);
      // server-side prepared statements live on the primary
      try (Connection p = connect("&useServerPrepStmts=true");
          PreparedStatement ps = p.prepareStatement("select @@port, v from kv where id = ?")) {
        ps.setInt(1, 1);
        try (ResultSet rs = ps.executeQuery()) {
          rs.next();
          assertThat(rs.getInt(1)).isEqualTo(primary);
          assertThat(rs.getString(2)).isEqualTo("one");
        }
      }
      // a user variable pins the session to the primary
      c.createStatement().execute("set @marker := 42");
      try (ResultSet rs = c.createStatement().executeQuery("select @marker, @@port")) {
        rs.next();
        assertThat(rs.getInt(1)).isEqualTo(42);
        assertThat(rs.getInt(2)).isEqualTo(primary);
      }
    }
    assertThat(halo.splits().get(0).pinnedTotal()).isEqualTo(1);
    assertThat(halo.splits().get(0).readsOnReplica()).isGreaterThanOrEqualTo(3);
  }

  @Test
  void a_20_mb_blob_written_then_read_crosses_both_backends_intact() throws Exception {
    start(Duration.ofSeconds(10));
    byte[] blob = new byte[20 << 20];
    for (int i = 0; i < blob.length; i++) {
      blob[i] = (byte) (i * 31 + 7);
    }
    try (Connection c = connect("")) {
      try (PreparedStatement ps = c.prepareStatement("insert into kv values (2, ?)")) {
        ps.setBytes(1, blob);
        ps.executeUpdate();
      }
      try (ResultSet rs =
          c.createStatement().executeQuery("select v, @@port from kv where id = 2")) {
        rs.next();
        assertThat(Arrays.equals(rs.getBytes(1), blob)).isTrue();
        assertThat(rs.getInt(2)).isEqualTo(replica().port());
      }
    }
  }

  @Test
  void no_stale_read_after_own_writes_with_the_replica_sql_thread_stopped() throws Exception {
    start(Duration.ZERO);
    int primary = cluster.primary().port();
    int replica = replica().port();
    try (Connection r = replica().connectAsRoot()) {
      r.createStatement().execute("STOP SLAVE SQL_THREAD");
    }
    int stale = 0;
    int onPrimary = 0;
    try (Connection c = connect("");
        PreparedStatement write = c.prepareStatement("insert into kv values (?, 'x')");
        PreparedStatement read =
            c.prepareStatement("select count(*), @@port from kv where id = ?")) {
      for (int i = 100; i < 1100; i++) {
        write.setInt(1, i);
        write.executeUpdate();
        read.setInt(1, i);
        try (ResultSet rs = read.executeQuery()) {
          rs.next();
          stale += rs.getInt(1) == 1 ? 0 : 1;
          onPrimary += rs.getInt(2) == primary ? 1 : 0;
        }
      }
      assertThat(stale).as("stale reads").isZero();
      assertThat(onPrimary).isEqualTo(1000);
      try (Connection other = connect("")) {
        assertThat(port(other, "select @@port")).isEqualTo(replica);
      }
      try (Connection r = replica().connectAsRoot()) {
        r.createStatement().execute("START SLAVE SQL_THREAD");
      }
      await()
          .atMost(Duration.ofSeconds(20))
          .untilAsserted(
              () -> {
                read.setInt(1, 1099);
                try (ResultSet rs = read.executeQuery()) {
                  rs.next();
                  assertThat(rs.getInt(1)).isEqualTo(1);
                  assertThat(rs.getInt(2)).isEqualTo(replica);
                }
              });
    }
    assertThat(halo.splits().get(0).readYourWritesOnPrimary()).isGreaterThanOrEqualTo(1000);
  }

  /**
   * COM_SET_OPTION turns multi-statements on for the session's connection; the replica's logged in
   * with the client's first flags and would refuse a batch of reads (1064): the session's
   * statements stay on the primary's connection from then on.
   */
  @Test
  void multi_statements_turned_on_by_com_set_option_run_on_the_primary() throws Exception {
    start(Duration.ZERO);
    try (RawMySqlSocket s =
        RawMySqlSocket.login(halo.boundAddresses().get(0).getPort(), "app", "apppw", "app")) {
      assertThat(s.value("select @@port")).isEqualTo(String.valueOf(replica().port()));
      s.send(new byte[] {0x1b, 0, 0}); // COM_SET_OPTION MYSQL_OPTION_MULTI_STATEMENTS_ON
      assertThat(RawMySqlSocket.errorCode(s.next())).isEqualTo(-1);
      assertThat(s.value("select @@port; select 2"))
          .isEqualTo(String.valueOf(cluster.primary().port()));
    }
  }

  /**
   * With transaction pooling the write's connection goes back to the pool after its OK, and the
   * next read may check out another (here always: the idle ones are killed in between). MariaDB's
   * {@code @@last_gtid} is the connection's, so it is asked before the connection goes (asked on
   * the read's connection, a fresh one answered "" and the read went, stale, to the replica).
   */
  @Test
  void no_stale_read_after_own_writes_when_transaction_pooling_moves_the_session()
      throws Exception {
    io.halo.conf.model.PoolConfig pool =
        new io.halo.conf.model.PoolConfig(
            io.halo.conf.model.PoolConfig.Mode.TRANSACTION,
            4,
            Duration.ofMinutes(5),
            Duration.ofHours(1),
            8,
            Duration.ofSeconds(5),
            io.halo.conf.model.PoolConfig.DEFAULT_MAX_PREPARED,
            Duration.ofSeconds(30),
            0);
    start(
        Duration.ZERO,
        c ->
            new ClusterConfig(
                c.name(),
                c.engine(),
                c.listeners().stream().map(l -> l.withPool(pool)).toList(),
                c.backends(),
                c.monitor(),
                c.failover(),
                c.throttle()));
    int primary = cluster.primary().port();
    try (Connection r = replica().connectAsRoot()) {
      r.createStatement().execute("STOP SLAVE SQL_THREAD");
    }
    int stale = 0;
    try (Connection a = connect("");
        Connection other = connect("");
        Connection root = cluster.primary().connectAsRoot()) {
      await() // the replica serves reads (in rotation), or the test would prove nothing
          .atMost(Duration.ofSeconds(20))
          .until(() -> port(other, "select @@port") == replica().port());
      for (int i = 2000; i < 2020; i++) {
        a.createStatement().executeUpdate("insert into kv values (" + i + ", 'x')");
        // every pooled connection not running a statement goes: the read checks out a new one
        List<Long> idle = new ArrayList<>();
        try (ResultSet rs =
            root.createStatement()
                .executeQuery(
                    "select id from information_schema.processlist"
                        + " where user = 'app' and command = 'Sleep'")) {
          while (rs.next()) {
            idle.add(rs.getLong(1));
          }
        }
        for (long id : idle) {
          root.createStatement().execute("kill " + id);
        }
        Thread.sleep(100); // (Halo's pool sees them close)
        try (ResultSet rs =
            a.createStatement().executeQuery("select count(*), @@port from kv where id = " + i)) {
          rs.next();
          stale += rs.getInt(1) == 1 ? 0 : 1;
          assertThat(rs.getInt(2)).as("read %d", i).isEqualTo(primary);
        }
      }
    } finally {
      try (Connection r = replica().connectAsRoot()) {
        r.createStatement().execute("START SLAVE SQL_THREAD");
      }
    }
    assertThat(stale).as("stale reads").isZero();
  }

  @Test
  void a_hung_replica_does_not_hang_a_read_that_waits_for_its_own_write() throws Exception {
    // Given a split session that has read from the replica once
    start(Duration.ofMillis(200));
    int primary = cluster.primary().port();
    try (Connection c = connect("&socketTimeout=20000");
        PreparedStatement write = c.prepareStatement("insert into kv values (?, 'x')");
        PreparedStatement read =
            c.prepareStatement("select count(*), @@port from kv where id = ?")) {
      assertThat(port(c, "select @@port")).isEqualTo(replica().port());
      // When the replica hangs (SIGSTOP) and the session writes, then reads its write: Halo's
      // MASTER_GTID_WAIT on the replica gets no answer
      replica().pause();
      try {
        write.setInt(1, 7);
        write.executeUpdate();
        read.setInt(1, 7);
        long t = System.nanoTime();
        // Then the read is answered by the primary once Halo's internal query times out, well
        // before the client's own 20 s socket timeout, and the session goes on
        try (ResultSet rs = read.executeQuery()) {
          rs.next();
          assertThat(rs.getInt(1)).isEqualTo(1);
          assertThat(rs.getInt(2)).isEqualTo(primary);
        }
        System.out.printf(
            "read after a hung replica answered in %d ms%n", (System.nanoTime() - t) / 1_000_000);
        write.setInt(1, 8);
        assertThat(write.executeUpdate()).isEqualTo(1);
      } finally {
        replica().resume();
      }
    }
  }
}

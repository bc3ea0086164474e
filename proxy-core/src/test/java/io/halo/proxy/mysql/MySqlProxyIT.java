package io.halo.proxy.mysql;

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
import io.halo.conf.model.ThrottleConfig;
import io.halo.conf.model.UserConfig;
import io.halo.proxy.HaloFixture;
import io.halo.proxy.HaloServer;
import io.halo.testkit.MariaDbCluster;
import io.halo.testkit.MariaDbNode;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Connector/J through Halo to a real MariaDB primary + replica (the proxy path; failover comes
 * later).
 */
class MySqlProxyIT {

  static MariaDbCluster cluster;
  static HaloServer halo;
  static final int MAX_CLIENTS = 250;

  @BeforeAll
  static void start() throws Exception {
    cluster =
        MariaDbCluster.builder()
            .name("myit")
            .replicas(1)
            .user("app", "apppw")
            .database("app")
            .setting("max_allowed_packet", "64M")
            .start();
    try (Connection root = cluster.primary().connectAsRoot();
        Statement st = root.createStatement()) {
      st.execute("create user 'bob'@'%' identified by 'bobpw'");
      st.execute("grant all on app.* to 'bob'@'%'");
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
                new ListenerConfig(new HostPort("127.0.0.1", 0), Route.PRIMARY, MAX_CLIENTS, true),
                new ListenerConfig(
                    new HostPort("127.0.0.1", 0), Route.REPLICAS, MAX_CLIENTS, true)),
            backends,
            new MonitorConfig(
                "root", null, "mysql", Duration.ofMillis(500), Duration.ofSeconds(1), 3, 2),
            new FailoverConfig(
                FailoverConfig.Mode.MANUAL,
                FailoverConfig.Type.HOT,
                16L << 20,
                Duration.ofSeconds(10),
                null,
                null,
                null,
                Duration.ofSeconds(30)),
            // above the listener limit, so that the listener's 1040 is what this class tests
            // (admission: ThrottleIT)
            new ThrottleConfig(MAX_CLIENTS + 50, 1000, Duration.ofSeconds(2)));
    halo =
        HaloServer.start(
            new HaloConfig(
                null,
                HaloFixture.server(Duration.ofSeconds(2), 64L << 20),
                new AdminConfig(new HostPort("127.0.0.1", 0), null),
                List.of(
                    new UserConfig("app", "apppw", AuthMethod.SCRAM_SHA_256, "app", "apppw"),
                    new UserConfig("legacy", "legacypw", AuthMethod.MD5, "app", "apppw"),
                    new UserConfig("local", null, AuthMethod.TRUST, "app", "apppw"),
                    new UserConfig("bob", "bobhalo", AuthMethod.SCRAM_SHA_256, "bob", "bobpw")),
                List.of(c)));
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

  private static Connection connect(int listener, String user, String password, String extra)
      throws SQLException {
    Properties p = new Properties();
    p.setProperty("user", user);
    p.setProperty("password", password);
    p.setProperty("sslMode", "DISABLED");
    p.setProperty("connectTimeout", "10000");
    p.setProperty("socketTimeout", "120000");
    String url =
        "jdbc:mysql://127.0.0.1:"
            + halo.boundAddresses().get(listener).getPort()
            + "/app"
            + (extra.isEmpty() ? "" : "?" + extra);
    return DriverManager.getConnection(url, p);
  }

  private static Connection app(String extra) throws SQLException {
    return connect(0, "app", "apppw", extra);
  }

  @Test
  void clients_that_quit_are_not_taken_for_backend_failures() throws Exception {
    String sample = "halo_backend_suspicions_total{cluster=\"shop\"}";
    double before = MySqlHalo.metric(halo, sample);
    for (int i = 0; i < 20; i++) {
      try (Connection c = connect(0, "bob", "bobhalo", "");
          Statement s = c.createStatement()) {
        s.execute("select 1"); // close() sends COM_QUIT; the server then closes its side
      }
    }
    // once every backend connection of those sessions is gone
    org.awaitility.Awaitility.await()
        .atMost(Duration.ofSeconds(10))
        .until(() -> backendConnections("bob") == 0);
    assertThat(MySqlHalo.metric(halo, sample))
        .as("backend connections closed after the client's COM_QUIT, taken for failures")
        .isEqualTo(before);
  }

  private static int backendConnections(String user) throws SQLException {
    try (Connection root = cluster.primary().connectAsRoot();
        Statement st = root.createStatement();
        ResultSet rs =
            st.executeQuery(
                "select count(*) from information_schema.processlist where user = '"
                    + user
                    + "'")) {
      rs.next();
      return rs.getInt(1);
    }
  }

  @Test
  void caching_sha2_native_and_trust_users_log_in_and_use_their_backend_credentials()
      throws Exception {
    for (Connection c :
        List.of(app(""), connect(0, "legacy", "legacypw", ""), connect(0, "local", "", ""))) {
      try (c;
          Statement s = c.createStatement();
          ResultSet rs = s.executeQuery("select current_user(), database()")) {
        rs.next();
        assertThat(rs.getString(1)).startsWith("app@");
        assertThat(rs.getString(2)).isEqualTo("app");
      }
    }
  }

  @Test
  void wrong_password_and_unknown_user_get_1045_access_denied() {
    assertThatThrownBy(() -> connect(0, "app", "nope", ""))
        .isInstanceOf(SQLException.class)
        .satisfies(
            e -> {
              assertThat(((SQLException) e).getErrorCode()).isEqualTo(1045);
              assertThat(((SQLException) e).getSQLState()).isEqualTo("28000");
            });
    assertThatThrownBy(() -> connect(0, "mallory", "x", ""))
        .satisfies(e -> assertThat(((SQLException) e).getErrorCode()).isEqualTo(1045));
  }

  @Test
  void text_and_server_side_prepared_statements_transactions_and_multi_statements_work()
      throws Exception {
    try (Connection c =
        app("useServerPrepStmts=true&allowMultiQueries=true&rewriteBatchedStatements=true")) {
      try (Statement s = c.createStatement()) {
        s.execute("create table if not exists t(id int primary key, v varchar(20))");
        s.execute("delete from t");
      }
      try (PreparedStatement ps = c.prepareStatement("insert into t values (?, ?)")) {
        for (int i = 0; i < 500; i++) {
          ps.setInt(1, i);
          ps.setString(2, "v" + i);
          ps.addBatch();
        }
        ps.executeBatch();
      }
      c.setAutoCommit(false);
      try (Statement s = c.createStatement()) {
        s.execute("insert into t values (1000, 'rolled back')");
      }
      c.rollback();
      c.setAutoCommit(true);
      try (PreparedStatement ps =
          c.prepareStatement("select count(*), sum(id) from t where id < ?")) {
        ps.setInt(1, 10_000);
        try (ResultSet rs = ps.executeQuery()) {
          rs.next();
          assertThat(rs.getInt(1)).isEqualTo(500);
          assertThat(rs.getLong(2)).isEqualTo(499L * 500 / 2);
        }
      }
      try (Statement s = c.createStatement()) {
        assertThat(s.execute("select 1; select 2, 3")).isTrue();
        try (ResultSet rs = s.getResultSet()) {
          rs.next();
          assertThat(rs.getInt(1)).isEqualTo(1);
        }
        assertThat(s.getMoreResults()).isTrue();
        try (ResultSet rs = s.getResultSet()) {
          rs.next();
          assertThat(rs.getInt(2)).isEqualTo(3);
        }
      }
    }
  }

  @Test
  void a_20_mb_blob_goes_in_and_comes_back_and_a_large_result_streams() throws Exception {
    byte[] blob = new byte[20 << 20];
    new java.util.Random(3).nextBytes(blob);
    try (Connection c = app("")) {
      try (Statement s = c.createStatement()) {
        s.execute("create table if not exists blobs(id int primary key, b longblob)");
        s.execute("delete from blobs");
      }
      try (PreparedStatement ps = c.prepareStatement("insert into blobs values (1, ?)")) {
        ps.setBytes(1, blob);
        ps.executeUpdate();
      }
      try (Statement s = c.createStatement();
          ResultSet rs = s.executeQuery("select b from blobs where id = 1")) {
        rs.next();
        assertThat(rs.getBytes(1)).isEqualTo(blob);
      }
      try (Statement s =
          c.createStatement(
              java.sql.ResultSet.TYPE_FORWARD_ONLY, java.sql.ResultSet.CONCUR_READ_ONLY)) {
        s.setFetchSize(Integer.MIN_VALUE);
        long rows = 0;
        long bytes = 0;
        try (ResultSet rs = s.executeQuery("select repeat('x', 1000) from seq_1_to_60000")) {
          while (rs.next()) {
            bytes += rs.getString(1).length();
            rows++;
          }
        }
        assertThat(rows).isEqualTo(60_000);
        assertThat(bytes).isEqualTo(60_000_000L);
      }
    }
  }

  @Test
  void the_replicas_listener_reaches_the_replica() throws Exception {
    try (Connection c = connect(1, "app", "apppw", "");
        Statement s = c.createStatement();
        ResultSet rs = s.executeQuery("select @@server_id, @@read_only")) {
      rs.next();
      assertThat(rs.getInt(1)).isEqualTo(cluster.replicas().get(0).serverId());
      assertThat(rs.getInt(2)).isEqualTo(1);
    }
  }

  @Test
  void two_hundred_clients_at_once_and_the_listener_limit_answers_1040() throws Exception {
    ExecutorService pool = Executors.newFixedThreadPool(100);
    List<Connection> open = new ArrayList<>();
    try {
      List<Future<Connection>> fs = new ArrayList<>();
      for (int i = 0; i < 200; i++) {
        fs.add(pool.submit(() -> app("")));
      }
      for (Future<Connection> f : fs) {
        open.add(f.get(60, TimeUnit.SECONDS));
      }
      for (Connection c : open) {
        try (Statement s = c.createStatement();
            ResultSet rs = s.executeQuery("select connection_id()")) {
          assertThat(rs.next()).isTrue();
        }
      }
      while (open.size() < MAX_CLIENTS) {
        open.add(app(""));
      }
      assertThatThrownBy(() -> app(""))
          .satisfies(e -> assertThat(((SQLException) e).getErrorCode()).isEqualTo(1040));
    } finally {
      for (Connection c : open) {
        c.close();
      }
      pool.shutdownNow();
    }
  }

  @Test
  void statement_cancel_and_query_timeout_reach_the_backend_thread() throws Exception {
    try (Connection c = app("");
        Statement s = c.createStatement()) {
      java.util.concurrent.CompletableFuture<Void> cancel =
          io.halo.proxy.Cancels.after(Duration.ofMillis(500), s);
      long t0 = System.nanoTime();
      // MariaDB answers a killed SLEEP() with 1 (interrupted) or ER_QUERY_INTERRUPTED
      try (ResultSet rs = s.executeQuery("select sleep(30)")) {
        rs.next();
        assertThat(rs.getInt(1)).isEqualTo(1);
      } catch (SQLException e) {
        // Connector/J reports its own cancel as MySQLStatementCancelledException; the server says
        // 1317
        assertThat(
                e instanceof com.mysql.cj.jdbc.exceptions.MySQLStatementCancelledException
                    || e.getErrorCode() == 1317)
            .as(e.toString())
            .isTrue();
      }
      assertThat(Duration.ofNanos(System.nanoTime() - t0)).isLessThan(Duration.ofSeconds(20));
      cancel.get(5, TimeUnit.SECONDS);
      s.setQueryTimeout(1);
      long t1 = System.nanoTime();
      assertThatThrownBy(() -> s.executeQuery("select sleep(30)").next())
          .isInstanceOf(SQLException.class);
      assertThat(Duration.ofNanos(System.nanoTime() - t1)).isLessThan(Duration.ofSeconds(20));
      s.setQueryTimeout(0);
      try (ResultSet rs = s.executeQuery("select 7")) {
        rs.next();
        assertThat(rs.getInt(1)).as("session usable after the kill").isEqualTo(7);
      }
    }
  }

  @Test
  void kill_of_an_unknown_connection_id_gets_1094() throws Exception {
    try (Connection c = app("");
        Statement s = c.createStatement()) {
      assertThatThrownBy(() -> s.execute("KILL QUERY 2147483000"))
          .satisfies(e -> assertThat(((SQLException) e).getErrorCode()).isEqualTo(1094));
      assertThat(c.isValid(5)).isTrue();
    }
  }

  /** Reads the first packet the server sends after {@code send}; returns its payload. */
  private static byte[] raw(byte[] send, boolean readHandshakeFirst, int timeoutMs)
      throws Exception {
    try (java.net.Socket sock =
        new java.net.Socket("127.0.0.1", halo.boundAddresses().get(0).getPort())) {
      sock.setSoTimeout(timeoutMs);
      java.io.DataInputStream in = new java.io.DataInputStream(sock.getInputStream());
      if (readHandshakeFirst) {
        readPacket(in);
      }
      sock.getOutputStream().write(send);
      sock.getOutputStream().flush();
      return readPacket(in);
    }
  }

  private static byte[] readPacket(java.io.DataInputStream in) throws java.io.IOException {
    int len = in.readUnsignedByte() | in.readUnsignedByte() << 8 | in.readUnsignedByte() << 16;
    in.readUnsignedByte();
    byte[] p = new byte[len];
    in.readFully(p);
    return p;
  }

  private static int errCode(byte[] p) {
    assertThat(p[0] & 0xff).as("an ERR packet").isEqualTo(0xff);
    return (p[1] & 0xff) | (p[2] & 0xff) << 8;
  }

  /**
   * A HandshakeResponse41 for user app whose auth-data lenenc field is {@code lenenc}, as a wire
   * packet.
   */
  private static byte[] handshakeWithAuthLength(byte[] lenenc, int sequenceId) {
    java.nio.ByteBuffer b =
        java.nio.ByteBuffer.allocate(4 + 32 + 4 + lenenc.length + 16)
            .order(java.nio.ByteOrder.LITTLE_ENDIAN);
    int caps =
        0x200 | 0x8000
            | 0x200000; // PROTOCOL_41 | SECURE_CONNECTION | PLUGIN_AUTH_LENENC_CLIENT_DATA
    b.position(4);
    b.putInt(caps).putInt(1 << 24).put((byte) 45).put(new byte[23]);
    b.put("app\0".getBytes(java.nio.charset.StandardCharsets.US_ASCII))
        .put(lenenc)
        .put(new byte[16]);
    int len = b.position() - 4;
    b.put(0, (byte) len).put(1, (byte) (len >> 8)).put(2, (byte) 0).put(3, (byte) sequenceId);
    return java.util.Arrays.copyOf(b.array(), b.position());
  }

  /**
   * Length fields are checked against the bytes present before anything is allocated (issue 9.3): a
   * 60-byte handshake claiming 2 GB of auth data, or a length of -1, gets ERR 1043 (it once
   * allocated 2 GB, or threw NegativeArraySizeException with no ERR packet); so does a handshake
   * response with a sequence id other than 1 (issue 9.8).
   */
  @Test
  void a_handshake_with_a_huge_or_negative_length_or_a_wrong_sequence_id_gets_err_1043()
      throws Exception {
    try (Connection bystander = app("")) {
      byte[] twoGb = {(byte) 0xfe, (byte) 0xf0, (byte) 0xff, (byte) 0xff, 0x7f, 0, 0, 0, 0};
      byte[] minusOne = {(byte) 0xfe, -1, -1, -1, -1, -1, -1, -1, -1};
      assertThat(errCode(raw(handshakeWithAuthLength(twoGb, 1), true, 10_000))).isEqualTo(1043);
      assertThat(errCode(raw(handshakeWithAuthLength(minusOne, 1), true, 10_000))).isEqualTo(1043);
      assertThat(errCode(raw(handshakeWithAuthLength(new byte[] {0}, 7), true, 10_000)))
          .isEqualTo(1043);
      try (Statement s = bystander.createStatement();
          ResultSet rs = s.executeQuery("select 'still here'")) {
        rs.next();
        assertThat(rs.getString(1)).isEqualTo("still here");
      }
    }
  }

  @Test
  void garbage_an_oversized_packet_and_a_stalled_handshake_get_err_packets_and_others_go_on()
      throws Exception {
    try (Connection bystander = app("")) {
      byte[] garbage =
          "GET / HTTP/1.1\r\n\r\n".getBytes(java.nio.charset.StandardCharsets.US_ASCII);
      assertThat(errCode(raw(garbage, true, 10_000))).isIn(1043, 1153);
      byte[] huge = {(byte) 0xff, (byte) 0xff, (byte) 0xff, 1};
      assertThat(errCode(raw(huge, true, 10_000))).isEqualTo(1153);
      assertThat(errCode(raw(new byte[] {10, 0}, true, 10_000)))
          .as("stalled: auth timeout 2 s")
          .isEqualTo(1043);
      try (Statement s = bystander.createStatement();
          ResultSet rs = s.executeQuery("select 'still here'")) {
        rs.next();
        assertThat(rs.getString(1)).isEqualTo("still here");
      }
    }
  }

  @Test
  void
      change_user_is_authenticated_at_halo_and_gives_a_fresh_backend_session_as_the_new_backend_user()
          throws Exception {
    int port = halo.boundAddresses().get(0).getPort();
    try (RawMySqlSocket raw = RawMySqlSocket.login(port, "app", "apppw", "app")) {
      // Given a session with a user variable and an open transaction
      raw.query("set @x = 42");
      raw.query("begin");
      String before = raw.value("select connection_id()");
      assertThat(raw.value("select current_user()")).startsWith("app@");
      // When it changes to a mysql_native_password user (the client's plugin: checked at once)
      raw.changeUser("legacy", "legacypw", "app");
      // Then a fresh backend session as that user's backend user
      List<String> row =
          raw.query("select current_user(), @x, database(), @@in_transaction, connection_id()")
              .get(0);
      assertThat(row.get(0)).startsWith("app@");
      assertThat(row.get(1)).as("user variable of the old session").isNull();
      assertThat(row.get(2)).isEqualTo("app");
      assertThat(row.get(3)).isEqualTo("0");
      assertThat(row.get(4)).isNotEqualTo(before);
      // and to a caching_sha2_password user (auth switch) whose backend user differs
      raw.changeUser("bob", "bobhalo", "app");
      assertThat(raw.value("select current_user()")).startsWith("bob@");
      assertThat(raw.value("select database()")).isEqualTo("app");
    }
  }

  @Test
  void an_empty_command_packet_is_answered_as_the_server_answers_it_and_later_replies_stay_in_step()
      throws Exception {
    int port = halo.boundAddresses().get(0).getPort();
    try (RawMySqlSocket direct =
            RawMySqlSocket.login(cluster.primary().port(), "app", "apppw", "app");
        RawMySqlSocket proxied = RawMySqlSocket.login(port, "app", "apppw", "app")) {
      byte[] expected = direct.emptyCommand();
      assertThat((expected[0] & 0xff))
          .as("the server answers an empty command with ERR")
          .isEqualTo(0xff);
      assertThat(proxied.emptyCommand()).as("byte for byte as the server").isEqualTo(expected);
      assertThat(proxied.value("select 'in step'")).isEqualTo("in step");
      assertThat(direct.value("select 'in step'")).isEqualTo("in step");
    }
  }

  /**
   * Many commands Halo answers itself, in one go: each answered, in order, and the session goes on.
   */
  @Test
  void a_hundred_thousand_empty_command_packets_at_once_are_each_answered() throws Exception {
    int port = halo.boundAddresses().get(0).getPort();
    try (RawMySqlSocket proxied = RawMySqlSocket.login(port, "app", "apppw", "app")) {
      int n = 100_000; // the reads grow to 64 kB: 16,384 packets in one (the stack held 1,750)
      proxied.sendPackets(new byte[4 * n]); // length 0, sequence 0, over and over
      for (int i = 0; i < n; i++) {
        assertThat(RawMySqlSocket.errorCode(proxied.nextReply())).isEqualTo(1047);
      }
      assertThat(proxied.value("select 'in step'")).isEqualTo("in step");
    }
  }

  @Test
  void change_user_with_a_wrong_password_gets_1045_and_the_session_goes_on_as_before_as_directly()
      throws Exception {
    int port = halo.boundAddresses().get(0).getPort();
    for (int at : new int[] {cluster.primary().port(), port}) {
      String where = at == port ? "through Halo" : "directly";
      // bob: an auth switch first (sequence ids 0..3); nobody: no such user
      for (String[] login : new String[][] {{"bob", "wrong"}, {"nobody", "x"}, {"app", "wrong"}}) {
        try (RawMySqlSocket raw = RawMySqlSocket.login(at, "app", "apppw", "app")) {
          String thread = raw.value("select connection_id()");
          // the ERR's sequence id is checked by RawMySqlSocket (one after the client's last packet)
          assertThatThrownBy(() -> raw.changeUser(login[0], login[1], "app"))
              .as(where + ": " + login[0])
              .isInstanceOfSatisfying(
                  RawMySqlSocket.ServerError.class,
                  e -> {
                    assertThat(e.code).isEqualTo(1045);
                    assertThat(e.sqlState).isEqualTo("28000");
                  });
          List<String> row = raw.query("select current_user(), database(), connection_id()").get(0);
          assertThat(row.get(0)).as(where).startsWith("app@");
          // (MariaDB also clears the session's user variables on a refused change; Halo keeps them:
          // docs/mysql.md)
          assertThat(row.get(1)).as(where).isEqualTo("app");
          assertThat(row.get(2)).as(where + ": the same server session").isEqualTo(thread);
        }
      }
    }
  }

  @Test
  void connector_j_change_user_and_reset_server_state_go_through_halo() throws Exception {
    try (Connection c = app("")) {
      com.mysql.cj.jdbc.JdbcConnection j = c.unwrap(com.mysql.cj.jdbc.JdbcConnection.class);
      try (Statement s = c.createStatement()) {
        s.execute("set @x = 5");
      }
      // COM_CHANGE_USER from the driver: authenticated at Halo, a fresh backend session as bob
      j.changeUser("bob", "bobhalo");
      try (Statement s = c.createStatement();
          ResultSet rs = s.executeQuery("select current_user(), @x, database()")) {
        rs.next();
        assertThat(rs.getString(1)).startsWith("bob@");
        assertThat(rs.getString(2)).isNull();
      }
      // COM_RESET_CONNECTION passes through: user variables and the transaction are gone
      long backendId;
      try (Statement s = c.createStatement()) {
        s.execute("set @y = 6");
        try (ResultSet id = s.executeQuery("select connection_id()")) {
          id.next();
          backendId = id.getLong(1);
        }
      }
      j.resetServerState();
      try (Statement s = c.createStatement();
          ResultSet rs = s.executeQuery("select current_user(), @y, connection_id()")) {
        rs.next();
        assertThat(rs.getString(1)).startsWith("bob@");
        assertThat(rs.getString(2)).isNull();
        assertThat(rs.getLong(3))
            .as("reset on the same backend connection, not a new login")
            .isEqualTo(backendId);
      }
      // and a wrong password is refused with 1045
      assertThatThrownBy(() -> j.changeUser("app", "wrong"))
          .isInstanceOfSatisfying(
              SQLException.class, e -> assertThat(e.getErrorCode()).isEqualTo(1045));
    }
  }

  @Test
  void reset_connection_passes_through_and_the_session_goes_on() throws Exception {
    int port = halo.boundAddresses().get(0).getPort();
    try (RawMySqlSocket raw = RawMySqlSocket.login(port, "app", "apppw", "app")) {
      raw.query("set @x = 1");
      raw.query("begin");
      String id = raw.value("select connection_id()");
      raw.resetConnection();
      List<String> row = raw.query("select @x, @@in_transaction, connection_id()").get(0);
      assertThat(row.get(0)).isNull();
      assertThat(row.get(1)).isEqualTo("0");
      assertThat(row.get(2)).as("same backend connection").isEqualTo(id);
    }
  }

  @Test
  void kill_reaches_a_session_on_another_backend() throws Exception {
    // Given a session on the replicas listener (the replica) running a long query
    try (Connection onReplica = connect(1, "app", "apppw", "");
        Connection onPrimary = app("");
        Statement slow = onReplica.createStatement();
        Statement killer = onPrimary.createStatement()) {
      assertThat(serverId(onReplica)).isNotEqualTo(serverId(onPrimary));
      long haloId = ((com.mysql.cj.jdbc.JdbcConnection) onReplica).getId();
      java.util.concurrent.CompletableFuture<Void> kill =
          java.util.concurrent.CompletableFuture.runAsync(
              () -> {
                try {
                  Thread.sleep(500);
                  // When a session on the primary kills it by the id Halo gave it
                  killer.execute("KILL QUERY " + haloId);
                } catch (Exception e) {
                  throw new IllegalStateException(e);
                }
              });
      long t0 = System.nanoTime();
      // Then the query on the replica is interrupted (SLEEP() returns 1 when killed)
      try (ResultSet rs = slow.executeQuery("select sleep(30)")) {
        rs.next();
        assertThat(rs.getInt(1)).isEqualTo(1);
      } catch (SQLException e) {
        assertThat(e.getErrorCode()).as(e.toString()).isEqualTo(1317);
      }
      assertThat(Duration.ofNanos(System.nanoTime() - t0)).isLessThan(Duration.ofSeconds(20));
      kill.get(10, TimeUnit.SECONDS);
      // and both sessions go on
      assertThat(serverId(onReplica)).isNotEqualTo(serverId(onPrimary));
      // KILL CONNECTION of the replica session ends it
      killer.execute("KILL CONNECTION " + haloId);
      assertThatThrownBy(() -> slow.executeQuery("select 1")).isInstanceOf(SQLException.class);
    }
  }

  private static int serverId(Connection c) throws SQLException {
    try (Statement s = c.createStatement();
        ResultSet rs = s.executeQuery("select @@server_id")) {
      rs.next();
      return rs.getInt(1);
    }
  }
}

package io.halo.proxy.pg;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.halo.conf.model.AuthMethod;
import io.halo.conf.model.BackendConfig;
import io.halo.conf.model.BackendRole;
import io.halo.conf.model.ClusterConfig;
import io.halo.conf.model.HaloConfig;
import io.halo.conf.model.HostPort;
import io.halo.conf.model.UserConfig;
import io.halo.proxy.HaloFixture;
import io.halo.proxy.HaloServer;
import io.halo.proxy.pg.auth.Scram;
import io.halo.proxy.pg.message.PgMessages;
import io.halo.testkit.KeepLogsOnFailure;
import io.halo.testkit.PgCluster;
import io.netty.buffer.UnpooledByteBufAllocator;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Bad input from raw sockets and misbehaving clients: each gets its SQLSTATE and a close, and a
 * session opened before keeps working.
 */
class PgBadInputIT {

  @RegisterExtension static final KeepLogsOnFailure LOGS = new KeepLogsOnFailure();

  static PgCluster cluster;
  static HaloFixture halo;
  static final int MAX_CLIENTS = 5;
  Connection bystander;

  @BeforeAll
  static void start() throws Exception {
    cluster =
        LOGS.watch(
            PgCluster.builder().name("badinput").user("app", "apppw").database("app").start());
    halo =
        HaloFixture.start(
            cluster,
            HaloFixture.server(Duration.ofSeconds(2), 1 << 20),
            List.of(
                new UserConfig("app", "apppw", AuthMethod.SCRAM_SHA_256, "app", "apppw"),
                new UserConfig("local", null, AuthMethod.TRUST, "app", "apppw"),
                new UserConfig("rep", "reppw", AuthMethod.MD5, "app", "apppw"),
                new UserConfig(
                    "stale", "stalepw", AuthMethod.MD5, "app", "not-the-backend-password")),
            MAX_CLIENTS);
  }

  @AfterAll
  static void stop() {
    HaloFixture.stop(halo, cluster);
  }

  @BeforeEach
  void openBystander() throws SQLException {
    bystander = halo.connect("app", "apppw", "app", "");
  }

  @AfterEach
  void bystanderStillServed() throws SQLException {
    try (Statement s = bystander.createStatement();
        ResultSet rs = s.executeQuery("select 'still here'")) {
      rs.next();
      assertThat(rs.getString(1)).isEqualTo("still here");
    }
    bystander.close();
    try (Connection fresh = halo.connect("app", "apppw", "app", "")) {
      assertThat(fresh.isValid(5)).as("new sessions still accepted").isTrue();
    }
  }

  private static RawPgSocket raw() throws java.io.IOException {
    return new RawPgSocket(halo.primaryListener(), 10_000);
  }

  @Test
  void wrong_password_gets_28P01() {
    assertThatThrownBy(() -> halo.connect("app", "nope", "app", ""))
        .isInstanceOf(SQLException.class)
        .satisfies(e -> assertThat(((SQLException) e).getSQLState()).isEqualTo("28P01"));
  }

  @Test
  void unknown_user_gets_the_same_28P01_as_a_wrong_password() {
    assertThatThrownBy(() -> halo.connect("mallory", "x", "app", ""))
        .satisfies(
            e -> {
              assertThat(((SQLException) e).getSQLState()).isEqualTo("28P01");
              assertThat(e.getMessage())
                  .contains("password authentication failed for user \"mallory\"");
            });
  }

  /** A message built by Halo's own encoder, as bytes for the raw socket. */
  private static byte[] bytes(io.netty.buffer.ByteBuf message) {
    try {
      return io.netty.buffer.ByteBufUtil.getBytes(message);
    } finally {
      message.release();
    }
  }

  /** The SCRAM server-first-message Halo answers to a client-first-message for {@code user}. */
  private static String scramServerFirst(String user) throws Exception {
    try (RawPgSocket s = raw()) {
      s.send(RawPgSocket.startup(user, "app"));
      assertThat(s.read().type()).isEqualTo('R');
      s.send(
          bytes(
              PgMessages.saslInitialResponse(
                  UnpooledByteBufAllocator.DEFAULT,
                  Scram.MECHANISM,
                  "n,,n=,r=probeprobeprobe".getBytes(java.nio.charset.StandardCharsets.US_ASCII))));
      RawPgSocket.Message m = s.read();
      assertThat(m.type()).isEqualTo('R');
      assertThat(ByteBuffer.wrap(m.body()).getInt()).as("AuthenticationSASLContinue").isEqualTo(11);
      return new String(
          m.body(), 4, m.body().length - 4, java.nio.charset.StandardCharsets.US_ASCII);
    }
  }

  private static String saltAndIterations(String serverFirst) {
    return serverFirst.substring(serverFirst.indexOf(",s="));
  }

  /**
   * An unknown user got a fresh random salt at each attempt and a real user always the same one, so
   * two probes told whether a name exists (issue 9.5). Now both look alike.
   */
  @Test
  void scram_gives_an_unknown_user_the_same_salt_each_time_as_a_real_user_gets() throws Exception {
    String unknown = saltAndIterations(scramServerFirst("mallory"));
    assertThat(saltAndIterations(scramServerFirst("mallory"))).isEqualTo(unknown);
    String real = saltAndIterations(scramServerFirst("app"));
    assertThat(saltAndIterations(scramServerFirst("app"))).isEqualTo(real);
    assertThat(unknown).isNotEqualTo(real);
    assertThat(unknown.substring(unknown.indexOf(",i=")))
        .isEqualTo(real.substring(real.indexOf(",i=")));
    assertThat(saltAndIterations(scramServerFirst("trudy"))).isNotEqualTo(unknown);
  }

  /**
   * A frame whose type byte is 0, sent after the password in the same write, once became a second
   * StartupMessage and replaced the session's user (issue 9.1): it must be a protocol violation.
   */
  @Test
  void a_type_0_frame_after_the_password_is_a_protocol_violation_not_a_new_startup()
      throws Exception {
    try (RawPgSocket s = raw()) {
      s.send(RawPgSocket.startup("rep", "app"));
      RawPgSocket.Message md5 = s.read();
      assertThat(md5.type()).isEqualTo('R');
      byte[] salt = java.util.Arrays.copyOfRange(md5.body(), 4, 8);
      String response =
          io.halo.proxy.pg.auth.Md5.response(
              io.halo.proxy.pg.auth.Md5.stored("rep", "reppw"), salt);
      byte[] password =
          bytes(
              PgMessages.passwordMessage(
                  UnpooledByteBufAllocator.DEFAULT,
                  (response + "\0").getBytes(java.nio.charset.StandardCharsets.US_ASCII)));
      byte[] startupApp = RawPgSocket.startup("app", "app");
      ByteBuffer both = ByteBuffer.allocate(password.length + 1 + startupApp.length);
      both.put(password);
      // Type 0, then the StartupMessage's own length and body: a typed frame of type 0.
      // (a StartupMessage's length and body read as a typed message's length and body).
      both.put((byte) 0).put(startupApp);
      s.send(both.array());
      Map<Character, String> error = null;
      while (error == null) {
        RawPgSocket.Message m = s.read();
        assertThat(m.type() == 'R' && ByteBuffer.wrap(m.body()).getInt() != 0)
            .as("Halo asked for another authentication: the type-0 frame became a StartupMessage")
            .isFalse();
        if (m.type() == 'E') {
          error = m.fields();
        }
      }
      assertThat(error).containsEntry('C', "08P01").containsEntry('S', "FATAL");
      assertThat(s.closedByServer()).isTrue();
    }
  }

  @Test
  void an_oversized_password_message_before_authentication_gets_08P01() throws Exception {
    try (RawPgSocket s = raw()) {
      s.send(RawPgSocket.startup("rep", "app"));
      assertThat(s.read().type()).isEqualTo('R');
      // Only the header of a 60 MB password message: refused from the length alone.
      s.send(ByteBuffer.allocate(5).put((byte) 'p').putInt(60 << 20).array());
      Map<Character, String> e = s.readError();
      assertThat(e).containsEntry('C', "08P01");
      assertThat(e.get('M')).contains("before authentication");
      assertThat(s.closedByServer()).isTrue();
    }
  }

  @Test
  void garbage_bytes_get_08P01_and_a_close() throws Exception {
    try (RawPgSocket s = raw()) {
      s.send(
          "GET / HTTP/1.1\r\nHost: halo\r\n\r\n".getBytes(java.nio.charset.StandardCharsets.UTF_8));
      assertThat(s.readError()).containsEntry('C', "08P01");
      assertThat(s.closedByServer()).isTrue();
    }
  }

  @Test
  void an_unknown_protocol_version_gets_0A000() throws Exception {
    try (RawPgSocket s = raw()) {
      s.send(ByteBuffer.allocate(9).putInt(9).putInt(4 << 16).put((byte) 0).array());
      Map<Character, String> e = s.readError();
      assertThat(e).containsEntry('C', "0A000");
      assertThat(e.get('M')).contains("4.0");
    }
  }

  @Test
  void a_malformed_startup_packet_gets_08P01() throws Exception {
    try (RawPgSocket s = raw()) {
      // protocol 3.0, a key without value and no terminator
      s.send(
          ByteBuffer.allocate(12)
              .putInt(12)
              .putInt(196608)
              .put(new byte[] {'u', 's', 'e', 'r'})
              .array());
      assertThat(s.readError()).containsEntry('C', "08P01");
    }
  }

  @Test
  void an_oversized_message_after_login_gets_08P01() throws Exception {
    try (RawPgSocket s = raw()) {
      s.send(RawPgSocket.startup("local", "app"));
      s.readUntilReady();
      // a Query claiming 512 MB, over the 1 MB limit of this listener
      s.send(
          ByteBuffer.allocate(5 + 16).put((byte) 'Q').putInt(512 << 20).put(new byte[16]).array());
      Map<Character, String> e = s.readError();
      assertThat(e).containsEntry('C', "08P01");
      assertThat(e.get('M')).contains("limit of 1048576");
      assertThat(s.closedByServer()).isTrue();
    }
  }

  @Test
  void an_oversized_startup_packet_gets_08P01() throws Exception {
    try (RawPgSocket s = raw()) {
      s.send(ByteBuffer.allocate(8).putInt(1 << 30).putInt(196608).array());
      assertThat(s.readError()).containsEntry('C', "08P01");
    }
  }

  @Test
  void a_client_that_stalls_mid_startup_is_closed_after_the_auth_timeout() throws Exception {
    try (RawPgSocket s = raw()) {
      byte[] startup = RawPgSocket.startup("app", "app");
      s.send(java.util.Arrays.copyOf(startup, 10)); // half a packet, then silence
      long t0 = System.nanoTime();
      Map<Character, String> e = s.readError();
      assertThat(e).containsEntry('C', "08P01");
      assertThat(e.get('M')).contains("not completed within 2000 ms");
      assertThat(Duration.ofNanos(System.nanoTime() - t0)).isLessThan(Duration.ofSeconds(9));
    }
  }

  @Test
  void connections_beyond_the_listener_limit_get_53300() throws Exception {
    List<Connection> held = new ArrayList<>();
    try {
      // the bystander holds one; fill the rest
      for (int i = 1; i < MAX_CLIENTS; i++) {
        held.add(halo.connect("app", "apppw", "app", ""));
      }
      assertThatThrownBy(() -> halo.connect("app", "apppw", "app", ""))
          .satisfies(
              e -> {
                assertThat(((SQLException) e).getSQLState()).isEqualTo("53300");
                assertThat(e.getMessage()).contains("allows " + MAX_CLIENTS);
              });
    } finally {
      for (Connection c : held) {
        c.close();
      }
    }
    // a slot freed by a close is usable again (checked by bystanderStillServed)
    Thread.sleep(200);
  }

  @Test
  void an_unreachable_backend_gets_08001_naming_the_backend_but_not_its_address() throws Exception {
    int deadPort = io.halo.testkit.Ports.free();
    ClusterConfig base = halo.config().clusters().get(0);
    ClusterConfig dead =
        new ClusterConfig(
            base.name(),
            base.engine(),
            base.listeners(),
            List.of(
                new BackendConfig(
                    "ghost", new HostPort("127.0.0.1", deadPort), BackendRole.PRIMARY, 0)),
            base.monitor(),
            base.failover(),
            base.throttle());
    HaloConfig cfg =
        new HaloConfig(
            null,
            halo.config().server(),
            halo.config().admin(),
            halo.config().users(),
            List.of(dead));
    try (HaloServer other = HaloServer.start(cfg)) {
      InetSocketAddress at = other.boundAddresses().get(0);
      java.util.Properties p = new java.util.Properties();
      p.setProperty("user", "app");
      p.setProperty("password", "apppw");
      assertThatThrownBy(
              () ->
                  java.sql.DriverManager.getConnection(
                      "jdbc:postgresql://127.0.0.1:" + at.getPort() + "/app", p))
          .satisfies(
              e -> {
                assertThat(((SQLException) e).getSQLState()).isEqualTo("08001");
                assertThat(e.getMessage())
                    .contains("could not connect to backend ghost: connection refused")
                    .doesNotContain(String.valueOf(deadPort))
                    .doesNotContain("127.0.0.1");
              });
    }
  }

  @Test
  void
      a_backend_that_refuses_halos_login_is_named_but_the_backend_user_and_address_stay_in_the_log() {
    assertThatThrownBy(() -> halo.connect("stale", "stalepw", "app", ""))
        .satisfies(
            e -> {
              assertThat(((SQLException) e).getSQLState()).isEqualTo("28P01");
              assertThat(e.getMessage())
                  .contains("backend " + cluster.primary().name() + " refused Halo's login")
                  .doesNotContain("\"app\"")
                  .doesNotContain(String.valueOf(cluster.primary().port()));
            });
  }

  @Test
  void a_backend_session_ended_under_the_client_gives_it_an_error_and_others_go_on()
      throws Exception {
    try (Connection victim = halo.connect("app", "apppw", "app", "ApplicationName=victim");
        Statement s = victim.createStatement()) {
      try (Connection admin = cluster.primary().connectAsSuperuser();
          Statement a = admin.createStatement()) {
        a.execute(
            "select pg_terminate_backend(pid) from pg_stat_activity where application_name = 'victim'");
      }
      assertThatThrownBy(() -> s.execute("select 1"))
          .satisfies(e -> assertThat(((SQLException) e).getSQLState()).isIn("57P01", "08006"));
    }
  }

  @Test
  void after_the_backends_own_fatal_error_the_client_gets_no_second_one() throws Exception {
    // Given a session through Halo (trust user, raw protocol so that every message is seen)
    try (RawPgSocket raw = new RawPgSocket(halo.primaryListener(), 5_000)) {
      raw.send(RawPgSocket.startup("local", "app", "application_name", "fatal-once"));
      raw.readUntilReady();
      // When the server terminates its backend
      try (Connection admin = cluster.primary().connectAsSuperuser();
          Statement a = admin.createStatement()) {
        a.execute(
            "select pg_terminate_backend(pid) from pg_stat_activity where application_name = 'fatal-once'");
      }
      // Then the client reads the backend's FATAL 57P01, and then the end of the connection
      Map<Character, String> e = raw.readError();
      assertThat(e).containsEntry('C', "57P01").containsEntry('S', "FATAL");
      assertThatThrownBy(raw::read)
          .as("nothing after the backend's FATAL")
          .isInstanceOf(java.io.EOFException.class);
    }
  }
}

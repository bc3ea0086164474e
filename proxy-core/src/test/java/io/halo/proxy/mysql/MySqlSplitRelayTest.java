package io.halo.proxy.mysql;

import static org.assertj.core.api.Assertions.assertThat;

import io.halo.conf.model.AuthMethod;
import io.halo.conf.model.Balance;
import io.halo.conf.model.HostPort;
import io.halo.conf.model.ListenerConfig;
import io.halo.conf.model.Route;
import io.halo.conf.model.UserConfig;
import io.halo.health.state.BackendNode;
import io.halo.health.state.NodeRole;
import io.halo.health.state.NodeState;
import io.halo.proxy.HaloFixture;
import io.halo.proxy.mysql.auth.MySqlCredentials;
import io.halo.proxy.mysql.packet.HandshakeResponse;
import io.halo.proxy.mysql.packet.MySqlPacketDecoder;
import io.halo.proxy.mysql.packet.MySqlPackets;
import io.halo.proxy.session.CancelRegistry;
import io.halo.proxy.session.SplitContext;
import io.halo.proxy.transport.Transports;
import io.halo.routing.RouteResult;
import io.halo.routing.split.StatementClassifier;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.embedded.EmbeddedChannel;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The MySQL adapter of the split engine on EmbeddedChannels, byte-exact, for what a session does
 * with its primary alone (no replica here, so reads go to the primary too): what reaches the
 * backend, with which sequence ids, and what the client gets back.
 */
class MySqlSplitRelayTest {

  static final int AC = MySqlPackets.SERVER_STATUS_AUTOCOMMIT;

  private final ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor();
  private final EmbeddedChannel client = new EmbeddedChannel();
  private final EmbeddedChannel primary = new EmbeddedChannel();
  private final CancelRegistry<MySqlKill.Target> ids = new CancelRegistry<>();
  private final SplitContext split = new SplitContext(StatementClassifier.mysql());

  @BeforeEach
  void start() {
    UserConfig u = new UserConfig("app", "pw", AuthMethod.SCRAM_SHA_256, "app", "pw");
    MySqlCredentials creds = MySqlCredentials.of(List.of(u));
    MySqlListenerContext ctx =
        new MySqlListenerContext(
            "test",
            "main",
            new ListenerConfig(
                new HostPort("127.0.0.1", 0),
                Route.SPLIT,
                10,
                true,
                Balance.ROUND_ROBIN,
                -1,
                true,
                Duration.ofSeconds(1)),
            HaloFixture.server(Duration.ofSeconds(3), 1 << 20),
            creds,
            request -> new RouteResult.Unavailable("no replica in this test"),
            Transports.nio(),
            new AtomicInteger(),
            ids,
            new io.halo.proxy.session.Rejections(),
            new io.halo.proxy.session.LogThrottle(1, TimeUnit.SECONDS),
            Duration.ofSeconds(1),
            new io.halo.proxy.session.ClusterSessions("main"),
            new io.halo.proxy.session.Admission(
                new io.halo.conf.model.ThrottleConfig(10, 10, Duration.ofSeconds(1)), timer),
            split,
            new io.halo.proxy.session.AuthFailures(Duration.ofSeconds(10)));
    HandshakeResponse hello =
        new HandshakeResponse(
            MySqlFrontendHandler.CAPABILITIES,
            1 << 24,
            45,
            "app",
            new byte[0],
            "app",
            "caching_sha2_password",
            Map.of());
    BackendNode node =
        new BackendNode("db1", new HostPort("127.0.0.1", 1), NodeRole.PRIMARY, NodeState.UP, 0);
    client.pipeline().addLast("frames", new MySqlPacketDecoder(1 << 20));
    client.pipeline().addLast("frontend", new ChannelInboundHandlerAdapter());
    MySqlSplitRelay relay =
        new MySqlSplitRelay(
            ctx,
            client,
            hello,
            ctx.credentials().lookup("app").orElseThrow(),
            new byte[20],
            MySqlFrontendHandler.CAPABILITIES,
            split,
            (n, thread) -> {});
    relay.start(
        client.pipeline().context("frontend"), new MySqlBackendConnection(primary, node, 7, AC));
    client.pipeline().remove("frontend");
  }

  @AfterEach
  void stop() {
    client.finishAndReleaseAll();
    primary.finishAndReleaseAll();
    timer.shutdownNow();
  }

  private static ByteBuf packet(int seq, byte[] payload) {
    return Unpooled.buffer().writeMediumLE(payload.length).writeByte(seq).writeBytes(payload);
  }

  private static byte[] command(int com, String text) {
    byte[] b = text.getBytes(StandardCharsets.UTF_8);
    byte[] p = new byte[b.length + 1];
    p[0] = (byte) com;
    System.arraycopy(b, 0, p, 1, b.length);
    return p;
  }

  private static byte[] ok(int status) {
    return new byte[] {0, 0, 0, (byte) status, (byte) (status >> 8), 0, 0};
  }

  /** Everything written to {@code ch} since last asked, as hex. */
  private static String wire(EmbeddedChannel ch) {
    ch.flush();
    StringBuilder sb = new StringBuilder();
    for (Object o; (o = ch.readOutbound()) != null; ) {
      ByteBuf b = (ByteBuf) o;
      sb.append(ByteBufUtil.hexDump(b));
      b.release();
    }
    return sb.toString();
  }

  private static String hex(ByteBuf b) {
    String s = ByteBufUtil.hexDump(b);
    b.release();
    return s;
  }

  /**
   * Only a lone autocommit assignment is left to the server status; autocommit beside another
   * setting, or text that merely contains the word (a database, a variable), is not dropped.
   */
  @Test
  void only_a_lone_autocommit_assignment_is_followed_through_the_server_status() {
    for (String only :
        List.of(
            "SET autocommit=1",
            "set autocommit = 0;",
            "SET SESSION autocommit=ON",
            "SET @@session.autocommit = 'OFF'",
            "set @@autocommit:=1")) {
      assertThat(MySqlSplitRelay.onlyAutocommit(only.toLowerCase(java.util.Locale.ROOT)))
          .as(only)
          .isTrue();
    }
    for (String not :
        List.of(
            "SET NAMES latin1, autocommit=1",
            "SET autocommit=1, sql_mode=''",
            "USE autocommit_log",
            "SET @autocommit = 1",
            "SET GLOBAL autocommit=1",
            "/* x */ SET autocommit=1",
            "SETautocommit=1")) {
      assertThat(MySqlSplitRelay.onlyAutocommit(not.toLowerCase(java.util.Locale.ROOT)))
          .as(not)
          .isFalse();
    }
  }

  @Test
  void settings_that_may_turn_on_ansi_quotes() {
    for (String may :
        List.of(
            "SET sql_mode = 'ANSI'",
            "set session sql_mode='ANSI_QUOTES,STRICT_TRANS_TABLES'",
            "SET sql_mode = DEFAULT",
            "SET SESSION sql_mode = (SELECT REPLACE(@@sql_mode, 'ONLY_FULL_GROUP_BY', ''))",
            "SET sql_mode = @@GLOBAL.sql_mode",
            "SET sql_mode = 'ORACLE'",
            "set sql_mode = concat(char(65), 'NSI')")) {
      assertThat(MySqlSplitRelay.mayTurnOnAnsiQuotes(may)).as(may).isTrue();
    }
    for (String not :
        List.of(
            "SET sql_mode = 'STRICT_TRANS_TABLES,NO_ZERO_DATE'",
            "SET NAMES utf8mb4",
            "set session transaction read only")) {
      assertThat(MySqlSplitRelay.mayTurnOnAnsiQuotes(not)).as(not).isFalse();
    }
  }

  @Test
  void a_query_and_its_reply_pass_unchanged_with_their_sequence_ids() {
    client.writeInbound(packet(0, command(0x03, "select 1")));
    assertThat(wire(primary)).isEqualTo(hex(packet(0, command(0x03, "select 1"))));
    primary.writeInbound(packet(1, ok(AC)));
    assertThat(wire(client)).isEqualTo(hex(packet(1, ok(AC))));
  }

  @Test
  void an_empty_command_gets_1047_and_the_session_goes_on() {
    client.writeInbound(packet(0, new byte[0]));
    String err = wire(client);
    assertThat(err.substring(6)).startsWith("01ff1704"); // sequence id 1, ERR, 1047 little-endian
    assertThat(wire(primary)).isEmpty();
    client.writeInbound(packet(0, command(0x03, "select 2")));
    assertThat(wire(primary)).isEqualTo(hex(packet(0, command(0x03, "select 2"))));
  }

  @Test
  void commands_sent_together_go_in_order_each_after_the_reply_before_it_on_another_leg() {
    ByteBuf two = Unpooled.buffer();
    two.writeBytes(packet(0, command(0x03, "begin")));
    two.writeBytes(packet(0, command(0x03, "insert into t values (1)")));
    client.writeInbound(two);
    // the same leg: pipelined as they came
    assertThat(wire(primary))
        .isEqualTo(
            hex(packet(0, command(0x03, "begin")))
                + hex(packet(0, command(0x03, "insert into t values (1)"))));
    primary.writeInbound(packet(1, ok(AC | MySqlPackets.SERVER_STATUS_IN_TRANS)));
    primary.writeInbound(packet(1, ok(AC | MySqlPackets.SERVER_STATUS_IN_TRANS)));
    assertThat(wire(client))
        .isEqualTo(
            hex(packet(1, ok(AC | MySqlPackets.SERVER_STATUS_IN_TRANS)))
                + hex(packet(1, ok(AC | MySqlPackets.SERVER_STATUS_IN_TRANS))));
  }

  @Test
  void a_kill_of_an_id_no_session_has_gets_1094_from_halo() {
    client.writeInbound(packet(0, command(0x03, "KILL 987654")));
    assertThat(wire(primary)).as("not forwarded").isEmpty();
    String reply = wire(client);
    assertThat(reply.substring(6)).startsWith("01ff4604"); // sequence id 1, ERR, code 1094
    primary.writeInbound(packet(1, ok(AC)));
    assertThat(wire(client)).as("nothing was owed by the primary").isEmpty();
  }

  @Test
  void com_quit_says_goodbye_to_the_backend_and_closes_the_client() {
    client.writeInbound(packet(0, new byte[] {0x01}));
    assertThat(wire(primary)).isEqualTo("0100000001");
    assertThat(client.isOpen()).isFalse();
  }

  @Test
  void a_packet_over_the_limit_gets_1153_and_closes_the_session() {
    client.writeInbound(Unpooled.buffer().writeMediumLE((1 << 20) + 1).writeByte(0));
    String reply = wire(client);
    assertThat(reply.substring(6)).as("only ERR 1153").startsWith("01ff8104");
    assertThat(reply.length() / 2).isEqualTo(4 + Integer.parseInt(reply.substring(0, 2), 16));
    assertThat(client.isOpen()).isFalse();
    assertThat(wire(primary)).isEqualTo("0100000001"); // COM_QUIT to the backend
  }
}

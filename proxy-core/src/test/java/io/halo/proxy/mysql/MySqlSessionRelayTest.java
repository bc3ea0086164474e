package io.halo.proxy.mysql;

import static org.assertj.core.api.Assertions.assertThat;

import io.halo.conf.model.AuthMethod;
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
import io.halo.proxy.mysql.packet.MySqlPackets;
import io.halo.proxy.session.CancelRegistry;
import io.halo.proxy.transport.Transports;
import io.halo.routing.RouteResult;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
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
 * The MySQL relay on real (embedded) channels: when a switchover may hold a session (only between
 * transactions with nothing in flight, from the status flags), and that a KILL split over reads is
 * still translated.
 */
class MySqlSessionRelayTest {

  static final int AC = MySqlPackets.SERVER_STATUS_AUTOCOMMIT;

  EmbeddedChannel client;
  EmbeddedChannel backend;
  io.halo.proxy.session.ClusterSessions sessions;
  CancelRegistry<MySqlKill.Target> ids;
  MySqlSession session;
  ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor();
  BackendNode node =
      new BackendNode("db1", new HostPort("127.0.0.1", 1), NodeRole.PRIMARY, NodeState.UP, 0);

  @BeforeEach
  void start() {
    client = new EmbeddedChannel();
    backend = new EmbeddedChannel();
    sessions = new io.halo.proxy.session.ClusterSessions("main");
    ids = new CancelRegistry<>();
    UserConfig u = new UserConfig("app", "pw", AuthMethod.SCRAM_SHA_256, "app", "pw");
    MySqlCredentials creds = MySqlCredentials.of(List.of(u));
    MySqlListenerContext ctx =
        new MySqlListenerContext(
            "test",
            "main",
            new ListenerConfig(new HostPort("127.0.0.1", 0), Route.PRIMARY, 10, true),
            HaloFixture.server(Duration.ofSeconds(3), 1 << 20),
            creds,
            request -> new RouteResult.Unavailable("unused"),
            Transports.nio(),
            new AtomicInteger(),
            ids,
            new io.halo.proxy.session.Rejections(),
            new io.halo.proxy.session.LogThrottle(1, TimeUnit.SECONDS),
            Duration.ofSeconds(1),
            sessions,
            new io.halo.proxy.session.Admission(
                new io.halo.conf.model.ThrottleConfig(10, 10, Duration.ofSeconds(1)), timer),
            null,
            new io.halo.proxy.session.AuthFailures(java.time.Duration.ofSeconds(10)));
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
    MySqlFrontendHandler.SessionTarget target = new MySqlFrontendHandler.SessionTarget();
    ids.register(target);
    session =
        new MySqlSession(
            ctx,
            client,
            hello,
            new byte[20],
            creds.lookup("app").orElseThrow(),
            target,
            new MySqlBackendConnection(backend, node, 100, AC),
            ctx.listener().route());
    session.start();
  }

  @AfterEach
  void stop() {
    drain(backend);
    drain(client);
    client.finishAndReleaseAll();
    backend.finishAndReleaseAll();
    timer.shutdownNow();
  }

  static ByteBuf packet(int seq, byte[] payload) {
    return Unpooled.buffer().writeMediumLE(payload.length).writeByte(seq).writeBytes(payload);
  }

  static ByteBuf query(String sql) {
    byte[] b = sql.getBytes(StandardCharsets.UTF_8);
    byte[] p = new byte[b.length + 1];
    p[0] = 0x03;
    System.arraycopy(b, 0, p, 1, b.length);
    return packet(0, p);
  }

  static ByteBuf ok(int status) {
    return packet(1, new byte[] {0, 0, 0, (byte) status, (byte) (status >> 8), 0, 0});
  }

  static String forwarded(EmbeddedChannel ch) {
    StringBuilder sb = new StringBuilder();
    for (Object o; (o = ch.readOutbound()) != null; ) {
      ByteBuf b = (ByteBuf) o;
      sb.append(b.toString(b.readerIndex() + 5, b.readableBytes() - 5, StandardCharsets.US_ASCII));
      b.release();
    }
    return sb.toString();
  }

  static void drain(EmbeddedChannel ch) {
    for (Object o; (o = ch.readOutbound()) != null; ) {
      ((ByteBuf) o).release();
    }
  }

  @Test
  void a_switchover_holds_a_session_only_between_transactions_with_nothing_in_flight() {
    // Given a session that opened a transaction
    client.writeInbound(query("begin"));
    assertThat(session.quiescent()).as("reply pending").isFalse();
    assertThat(session.pendingReplies()).isEqualTo(1);
    backend.writeInbound(ok(AC | MySqlPackets.SERVER_STATUS_IN_TRANS));
    assertThat(session.quiescent()).as("in a transaction").isFalse();
    assertThat(session.inTransaction()).isTrue();
    assertThat(session.autocommit()).isTrue();
    assertThat(session.pendingReplies()).isZero();
    drain(backend);
    // When the cluster holds and asks the session (on its loop) to say when it is quiescent:
    // statements of the running transaction still go through, and the answer waits for the commit
    sessions.holding(true);
    java.util.concurrent.atomic.AtomicInteger answers =
        new java.util.concurrent.atomic.AtomicInteger();
    session.awaitQuiescence(answers::incrementAndGet);
    client.writeInbound(query("insert into t values (1)"));
    assertThat(forwarded(backend)).isEqualTo("insert into t values (1)");
    backend.writeInbound(ok(AC | MySqlPackets.SERVER_STATUS_IN_TRANS));
    client.writeInbound(query("commit"));
    assertThat(forwarded(backend)).isEqualTo("commit");
    assertThat(answers).as("quiescent before the commit's reply").hasValue(0);
    backend.writeInbound(ok(AC));
    assertThat(answers).as("quiescent once, at the commit's reply").hasValue(1);
    // Then the next transaction is held, not sent
    client.writeInbound(query("begin"));
    assertThat(forwarded(backend)).isEmpty();
    assertThat(session.held()).isTrue();
    assertThat(session.quiescent()).isTrue();
    // and goes on when the hold is lifted with the session staying where it is
    sessions.holding(false);
    session.finishRelease();
    assertThat(forwarded(backend)).isEqualTo("begin");
    assertThat(session.held()).isFalse();
  }

  @Test
  void a_held_kill_is_still_translated_when_it_is_let_go() {
    MySqlFrontendHandler.SessionTarget other = new MySqlFrontendHandler.SessionTarget();
    other.bind(node, 555);
    int id = ids.register(other).processId();
    sessions.holding(true);
    client.writeInbound(query("KILL " + id));
    assertThat(forwarded(backend)).isEmpty();
    // a resume while the cluster still holds (a moved session) keeps it held
    session.resume();
    assertThat(forwarded(backend)).isEmpty();
    assertThat(session.held()).isTrue();
    sessions.holding(false);
    session.finishRelease();
    assertThat(forwarded(backend)).isEqualTo("KILL 555");
  }

  @Test
  void a_kill_split_over_reads_is_still_translated_to_the_backend_thread() {
    MySqlFrontendHandler.SessionTarget other = new MySqlFrontendHandler.SessionTarget();
    other.bind(node, 777);
    int id = ids.register(other).processId();
    ByteBuf kill = query("KILL QUERY " + id);
    client.writeInbound(kill.readRetainedSlice(3));
    client.writeInbound(kill.readRetainedSlice(4));
    assertThat(forwarded(backend)).isEmpty();
    client.writeInbound(kill);
    assertThat(forwarded(backend)).isEqualTo("KILL QUERY 777");
    // and a query after it in the same read is not taken for part of it
    backend.writeInbound(ok(AC));
    ByteBuf two = Unpooled.wrappedBuffer(query("KILL " + id), query("select 1"));
    client.writeInbound(two);
    assertThat(forwarded(backend)).isEqualTo("KILL 777" + "select 1");
  }

  static ByteBuf err(int seq, int code, String state, String message) {
    byte[] m = message.getBytes(StandardCharsets.UTF_8);
    ByteBuf p = Unpooled.buffer().writeByte(0xff).writeShortLE(code).writeByte('#');
    p.writeCharSequence(state, StandardCharsets.US_ASCII);
    p.writeBytes(m);
    ByteBuf out = Unpooled.buffer().writeMediumLE(p.readableBytes()).writeByte(seq).writeBytes(p);
    p.release();
    return out;
  }

  @Test
  void an_idle_session_does_not_see_its_dying_backends_goodbye_until_it_is_sure_to_end() {
    // Given an idle session that set something
    client.writeInbound(query("SET autocommit=0"));
    assertThat(forwarded(backend)).isEqualTo("SET autocommit=0");
    backend.writeInbound(ok(0));
    drain(client);
    // When its backend says goodbye (an unsolicited ERR) and closes
    backend.writeInbound(err(0, 1927, "70100", "Connection was killed"));
    backend.close();
    client.runPendingTasks();
    // Then the client sees nothing yet: the session waits for a new primary
    assertThat(client.<Object>readOutbound()).isNull();
    assertThat(client.isActive()).isTrue();
    // and when none comes within hold_timeout, the command the client sent meanwhile gets the
    // server's words, as a direct client would have read them
    client.writeInbound(query("select 1"));
    assertThat(client.<Object>readOutbound()).isNull();
    client.advanceTimeBy(5, TimeUnit.SECONDS);
    client.runPendingTasks();
    ByteBuf answer = client.readOutbound();
    assertThat(answer).isNotNull();
    assertThat(answer.getUnsignedByte(3)).as("sequence id").isEqualTo((short) 1);
    assertThat(answer.getUnsignedByte(4)).isEqualTo((short) 0xff);
    assertThat(answer.getUnsignedShortLE(5)).isEqualTo(1927);
    assertThat(answer.toString(StandardCharsets.US_ASCII)).contains("Connection was killed");
    answer.release();
  }
}

package io.halo.proxy.pg;

import static io.halo.proxy.pg.RawPgSocket.concat;
import static io.halo.proxy.pg.RawPgSocket.cstrings;
import static io.halo.proxy.pg.RawPgSocket.flush;
import static io.halo.proxy.pg.RawPgSocket.message;
import static io.halo.proxy.pg.RawPgSocket.parse;
import static io.halo.proxy.pg.RawPgSocket.query;
import static io.halo.proxy.pg.RawPgSocket.sync;
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
import io.halo.proxy.pg.auth.Credentials;
import io.halo.proxy.pg.message.PgFrameDecoder;
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
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The PostgreSQL split relay on EmbeddedChannels, byte-exact, for what a session does with its
 * primary alone (no replica is available here, so reads go to the primary as well): what reaches
 * the backend, when, and what the client gets back.
 */
class PgSplitRelayTest {

  private final SplitContext split = new SplitContext(StatementClassifier.postgres());
  private final EmbeddedChannel client = new EmbeddedChannel();
  private final EmbeddedChannel primary = new EmbeddedChannel();
  private final PgSession session;

  PgSplitRelayTest() {
    PgListenerContext ctx =
        new PgListenerContext(
            "test",
            "main",
            new ListenerConfig(
                new HostPort("127.0.0.1", 0),
                Route.SPLIT,
                10,
                true,
                io.halo.conf.model.Balance.ROUND_ROBIN,
                -1,
                true,
                Duration.ofSeconds(1)),
            HaloFixture.server(Duration.ofSeconds(3), 64L << 20),
            Credentials.of(
                List.of(new UserConfig("app", "pw", AuthMethod.SCRAM_SHA_256, "app", "pw"))),
            request -> new RouteResult.Unavailable("no replica in this test"),
            new CancelRegistry<>(),
            Transports.nio(),
            new AtomicInteger(),
            Duration.ofSeconds(1),
            new io.halo.proxy.session.ClusterSessions("main"),
            new io.halo.proxy.session.Rejections(),
            new io.halo.proxy.session.LogThrottle(1, java.util.concurrent.TimeUnit.SECONDS),
            new io.halo.proxy.session.Admission(
                new io.halo.conf.model.ThrottleConfig(10, 10, Duration.ofSeconds(1)),
                java.util.concurrent.Executors.newSingleThreadScheduledExecutor()),
            new io.halo.proxy.pg.auth.ScramKeyCache(),
            split,
            new io.halo.proxy.session.AuthFailures(Duration.ofSeconds(10)));
    BackendNode node =
        new BackendNode("db1", new HostPort("127.0.0.1", 5432), NodeRole.PRIMARY, NodeState.UP, 0);
    PgBackendConnection connection =
        new PgBackendConnection(primary, node, List.of(), 7, 8, (byte) 'I');
    client
        .pipeline()
        .addLast("frames", PgFrameDecoder.forBackend(1 << 20)); // typed messages (past the startup)
    client.pipeline().addLast("frontend", new ChannelInboundHandlerAdapter());
    session =
        new PgSession(
            ctx,
            client,
            "app",
            "app",
            new UserConfig("app", "pw", AuthMethod.SCRAM_SHA_256, "app", "pw"),
            Map.of(),
            connection);
    PgSplitRelay relay = new PgSplitRelay(session, split, true);
    session.split(relay);
    relay.start(client.pipeline().context("frontend"), connection, List.of());
    client.pipeline().remove("frontend");
  }

  @AfterEach
  void close() {
    client.finishAndReleaseAll();
    primary.finishAndReleaseAll();
  }

  // ---------------------------------------------------------------- messages

  private static byte[] ready(char status) {
    return message('Z', new byte[] {(byte) status});
  }

  private static byte[] complete(String tag) {
    return message('C', cstrings(tag));
  }

  private static byte[] error(String code, String text) {
    return message('E', concat(cstrings("SERROR", "C" + code, "M" + text), new byte[] {0}));
  }

  private void fromClient(byte[]... messages) {
    client.writeInbound(Unpooled.wrappedBuffer(concat(messages)));
    client.runPendingTasks();
    primary.runPendingTasks();
  }

  private void fromPrimary(byte[]... messages) {
    primary.writeInbound(Unpooled.wrappedBuffer(concat(messages)));
    primary.runPendingTasks();
    client.runPendingTasks();
  }

  private static byte[] drain(EmbeddedChannel ch) {
    if (ch.isOpen()) {
      ch.flushOutbound();
    }
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    for (Object o = ch.readOutbound(); o != null; o = ch.readOutbound()) {
      ByteBuf b = (ByteBuf) o;
      out.writeBytes(ByteBufUtil.getBytes(b));
      b.release();
    }
    return out.toByteArray();
  }

  private byte[] toPrimary() {
    return drain(primary);
  }

  private byte[] toClient() {
    return drain(client);
  }

  // ---------------------------------------------------------------- behaviours

  @Test
  void aQueryAndItsRepliesPassUnchanged() {
    fromClient(query("select 1"));
    assertThat(toPrimary()).isEqualTo(query("select 1"));
    byte[] reply = concat(complete("SELECT 1"), ready('I'));
    fromPrimary(reply);
    assertThat(toClient()).isEqualTo(reply);
    assertThat(split.readsOnPrimary()).as("no replica: the read ran on the primary").isEqualTo(1);
  }

  @Test
  void aClientOwedTooManyRepliesIsNotReadUntilTheyCome() {
    int n = io.halo.proxy.session.split.SplitRelay.MAX_OWED;
    fromClient(concat(java.util.Collections.nCopies(n, sync()).toArray(byte[][]::new)));
    assertThat(toPrimary()).hasSize(5 * n);
    assertThat(client.config().isAutoRead()).as("owed " + n + " replies").isFalse();
    fromPrimary(ready('I'));
    assertThat(client.config().isAutoRead()).as("owed one fewer").isTrue();
    fromPrimary(concat(java.util.Collections.nCopies(n - 1, ready('I')).toArray(byte[][]::new)));
    assertThat(toClient()).hasSize(6 * n);
  }

  @Test
  void aReplyReadInOnePieceReachesTheClientAsOneWrite() {
    fromClient(query("select 1"));
    toPrimary();
    byte[] reply =
        concat(
            message('T', new byte[] {0, 0}),
            message('D', new byte[] {0, 1, 0, 0, 0, 1, '1'}),
            complete("SELECT 1"),
            ready('I'));
    fromPrimary(reply);
    client.flushOutbound();
    List<Object> writes = new java.util.ArrayList<>();
    for (Object o = client.readOutbound(); o != null; o = client.readOutbound()) {
      writes.add(o);
    }
    try {
      assertThat(writes).as("four messages of one read, one buffer").hasSize(1);
      assertThat(ByteBufUtil.getBytes((ByteBuf) writes.get(0))).isEqualTo(reply);
    } finally {
      writes.forEach(io.netty.util.ReferenceCountUtil::release);
    }
    // a reply that arrives in two reads: each read's part, in order
    fromClient(query("select 2"));
    toPrimary();
    fromPrimary(complete("SELECT 1"));
    fromPrimary(ready('I'));
    assertThat(toClient()).isEqualTo(concat(complete("SELECT 1"), ready('I')));
  }

  @Test
  void anExtendedBatchWaitsForItsSyncAndAFlushSendsItAsItComes() {
    fromClient(parse("s1", "select 1"));
    assertThat(toPrimary()).as("buffered until Sync or Flush").isEmpty();
    fromClient(flush());
    assertThat(toPrimary()).isEqualTo(concat(parse("s1", "select 1"), flush()));
    // the rest of the open batch follows at once, Sync included
    fromClient(sync());
    assertThat(toPrimary()).isEqualTo(sync());
  }

  @Test
  void aSyncDuringCopyInGoesToTheCopyAndExpectsNoReply() {
    fromClient(query("copy t from stdin"));
    assertThat(toPrimary()).isEqualTo(query("copy t from stdin"));
    byte[] copyIn = message('G', new byte[] {0, 0, 0});
    fromPrimary(copyIn);
    assertThat(toClient()).isEqualTo(copyIn);
    byte[] data =
        concat(
            message('d', "1\n".getBytes(StandardCharsets.UTF_8)),
            sync(),
            flush(),
            message('d', "2\n".getBytes(StandardCharsets.UTF_8)),
            message('c', new byte[0]));
    fromClient(data);
    assertThat(toPrimary()).isEqualTo(data);
    fromPrimary(complete("COPY 2"), ready('I'));
    assertThat(toClient()).isEqualTo(concat(complete("COPY 2"), ready('I')));
    // in step: the next request goes out at once, its reply is the client's
    fromClient(query("select 2"));
    assertThat(toPrimary()).isEqualTo(query("select 2"));
    fromPrimary(complete("SELECT 1"), ready('I'));
    assertThat(toClient()).isEqualTo(concat(complete("SELECT 1"), ready('I')));
    assertThat(session.quiescent())
        .as("no reply still expected (a switchover could not hold it)")
        .isTrue();
  }

  @Test
  void aSettingInsideATransactionPinsTheSessionOneOutsideDoesNot() {
    fromClient(query("set work_mem = '2MB'"));
    assertThat(toPrimary()).isEqualTo(query("set work_mem = '2MB'"));
    fromPrimary(complete("SET"), ready('I'));
    assertThat(split.pinnedNow()).isZero();
    fromClient(query("begin"));
    fromPrimary(complete("BEGIN"), ready('T'));
    fromClient(query("set work_mem = '3MB'"));
    assertThat(toPrimary()).isEqualTo(concat(query("begin"), query("set work_mem = '3MB'")));
    assertThat(split.pinnedNow()).isEqualTo(1);
  }

  @Test
  void aSettingThatEndsInsideAPipelinedTransactionPinsTheSession() {
    // BEGIN and SET sent together: the SET is answered inside the transaction, it may roll back
    fromClient(query("begin"), query("set work_mem = '3MB'"));
    fromPrimary(complete("BEGIN"), ready('T'), complete("SET"), ready('T'));
    assertThat(toClient())
        .isEqualTo(concat(complete("BEGIN"), ready('T'), complete("SET"), ready('T')));
    assertThat(split.pinnedNow()).isEqualTo(1);
  }

  private static byte[] bind(String statement) {
    return message('B', concat(cstrings("", statement), new byte[] {0, 0, 0, 0, 0, 0}));
  }

  private static byte[] execute() {
    return message('E', concat(cstrings(""), new byte[] {0, 0, 0, 0}));
  }

  @Test
  void aSettingParsedAsANamedStatementAndRunAgainDoesNotPin() {
    // pgjdbc past prepareThreshold: Parse of a new named statement and its Bind in one unit
    fromClient(parse("S_1", "set work_mem = '2MB'"), bind("S_1"), execute(), sync());
    fromPrimary(message('1', new byte[0]), message('2', new byte[0]), complete("SET"), ready('I'));
    assertThat(split.pinnedNow()).as("the unit's own Parse decides its kind").isZero();
    // and the same statement run again (Bind only)
    fromClient(bind("S_1"), execute(), sync());
    fromPrimary(message('2', new byte[0]), complete("SET"), ready('I'));
    assertThat(split.pinnedNow()).as("kept as a setting by its statement's text").isZero();
  }

  @Test
  void aFailedSettingIsAnsweredAsTheServerSaidAndDoesNotPin() {
    fromClient(query("set work_mem = 'lots'"));
    byte[] reply =
        concat(error("22023", "invalid value for parameter \"work_mem\": \"lots\""), ready('I'));
    fromPrimary(reply);
    assertThat(toClient()).isEqualTo(reply);
    assertThat(split.pinnedNow()).isZero();
  }

  @Test
  void emptyParseAndDescribeBodiesGoToTheServerWhichAnswersThem() {
    // A hostile or broken client: a Parse and a Describe with no body at all. Halo reads nothing
    // past the bytes present; the primary (where anything not understood goes) answers them
    fromClient(message('P', new byte[0]), message('D', new byte[0]), sync());
    assertThat(toPrimary())
        .isEqualTo(concat(message('P', new byte[0]), message('D', new byte[0]), sync()));
    fromPrimary(error("08P01", "invalid message format"), ready('I'));
    assertThat(toClient()).isEqualTo(concat(error("08P01", "invalid message format"), ready('I')));
    assertThat(client.isOpen()).isTrue();
  }

  @Test
  void terminateEndsTheBackendConnectionAndTheClient() {
    fromClient(message('X', new byte[0]));
    assertThat(toPrimary()).isEqualTo(message('X', new byte[0]));
    assertThat(primary.isOpen()).isFalse();
    assertThat(client.isOpen()).isFalse();
  }
}

package io.halo.proxy.pg;

import static org.assertj.core.api.Assertions.assertThat;

import io.halo.conf.model.AuthMethod;
import io.halo.conf.model.HostPort;
import io.halo.conf.model.ListenerConfig;
import io.halo.conf.model.Route;
import io.halo.conf.model.ThrottleConfig;
import io.halo.conf.model.ThrottleLimit;
import io.halo.conf.model.UserConfig;
import io.halo.health.state.BackendNode;
import io.halo.health.state.NodeRole;
import io.halo.health.state.NodeState;
import io.halo.proxy.HaloFixture;
import io.halo.proxy.pg.auth.Credentials;
import io.halo.proxy.session.Admission;
import io.halo.proxy.session.CancelRegistry;
import io.halo.proxy.session.UserLimits;
import io.halo.proxy.transport.Transports;
import io.halo.routing.RouteResult;
import io.halo.routing.balance.BackendLoads;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Transaction admission in the relay, on embedded channels: a session idle between transactions
 * takes a permit before its next transaction, waits for one while the backend is at its limit, gets
 * ERROR 53300 (and stays usable) beyond the queue, and gives the permit back at the ReadyForQuery
 * that leaves it idle.
 */
class PgTransactionAdmissionTest {

  private final ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor();
  private final BackendLoads loads = new BackendLoads(Duration.ofSeconds(5), System::nanoTime);
  private final List<EmbeddedChannel> channels = new ArrayList<>();

  @AfterEach
  void close() {
    channels.forEach(EmbeddedChannel::finishAndReleaseAll);
    timer.shutdownNow();
  }

  private record Pair(PgSession session, EmbeddedChannel client, EmbeddedChannel backend) {
    void fromClient(ByteBuf... messages) {
      client.writeInbound(Unpooled.wrappedBuffer(messages));
    }

    void ready(char status) {
      backend.writeInbound(Unpooled.buffer().writeByte('Z').writeInt(5).writeByte(status));
    }

    /** Message types the backend received since the last call. */
    String backendGot() {
      return types(backend);
    }

    /** Message types Halo wrote to the client since the last call (relayed or its own). */
    String clientGot() {
      return types(client);
    }
  }

  private static String types(EmbeddedChannel ch) {
    StringBuilder out = new StringBuilder();
    for (Object o; (o = ch.readOutbound()) != null; ) {
      ByteBuf b = (ByteBuf) o;
      while (b.isReadable()) {
        char type = (char) b.readByte();
        int len = b.readInt();
        if (type == 'E') {
          out.append("E[")
              .append(
                  b.toString(b.readerIndex(), len - 4, StandardCharsets.UTF_8).replace('\0', '|'))
              .append(']');
        } else {
          out.append(type);
        }
        b.skipBytes(len - 4);
      }
      b.release();
    }
    return out.toString();
  }

  private static ByteBuf msg(char type, String body) {
    byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
    return Unpooled.buffer()
        .writeByte(type)
        .writeInt(4 + bytes.length + 1)
        .writeBytes(bytes)
        .writeByte(0);
  }

  private static ByteBuf query(String sql) {
    return msg('Q', sql);
  }

  private static ByteBuf sync() {
    return Unpooled.buffer().writeByte('S').writeInt(4);
  }

  private Admission admission(int maxTransactions, int maxQueue, UserLimits users) {
    return new Admission(
        new ThrottleConfig(
            100, maxQueue, Duration.ofSeconds(30), maxTransactions, ThrottleLimit.FIXED, 1),
        timer,
        loads,
        users);
  }

  private Pair session(Admission admission, String user) {
    EmbeddedChannel client = new EmbeddedChannel();
    EmbeddedChannel backend = new EmbeddedChannel();
    channels.add(client);
    channels.add(backend);
    PgListenerContext ctx =
        new PgListenerContext(
            "test",
            "main",
            new ListenerConfig(new HostPort("127.0.0.1", 0), Route.PRIMARY, 10, true),
            HaloFixture.server(Duration.ofSeconds(3), 1 << 20),
            Credentials.of(List.of()),
            request -> new RouteResult.Unavailable("unused"),
            new CancelRegistry<>(),
            Transports.nio(),
            new AtomicInteger(),
            Duration.ofSeconds(1),
            new io.halo.proxy.session.ClusterSessions("main"),
            new io.halo.proxy.session.Rejections(),
            new io.halo.proxy.session.LogThrottle(1, TimeUnit.SECONDS),
            admission,
            new io.halo.proxy.pg.auth.ScramKeyCache(),
            null,
            new io.halo.proxy.session.AuthFailures(java.time.Duration.ofSeconds(10)));
    BackendNode node =
        new BackendNode("pg1", new HostPort("127.0.0.1", 1), NodeRole.PRIMARY, NodeState.UP, 0);
    PgSession session =
        new PgSession(
            ctx,
            client,
            user,
            "d",
            new UserConfig(user, null, AuthMethod.TRUST, user, null),
            Map.of(),
            new PgBackendConnection(backend, node, List.of(), 1, 2, (byte) 'I'));
    PgRelayHandler toBackend = new PgRelayHandler(session, true, backend, 1 << 20);
    PgRelayHandler toClient = new PgRelayHandler(session, false, client, 1 << 20);
    PgRelayHandler.pair(toBackend, toClient);
    session.relays(toBackend, toClient);
    client.pipeline().addLast(toBackend);
    backend.pipeline().addLast(toClient);
    return new Pair(session, client, backend);
  }

  @Test
  void
      a_transaction_waits_for_a_permit_at_the_limit_and_the_excess_is_refused_with_53300_leaving_the_session_usable() {
    // Given one transaction per backend and a queue of one
    Admission admission = admission(1, 1, UserLimits.none());
    Pair a = session(admission, "a");
    Pair b = session(admission, "b");
    Pair c = session(admission, "c");

    // When A opens a transaction
    a.fromClient(query("BEGIN"));
    assertThat(a.backendGot()).isEqualTo("Q");
    a.ready('T');
    assertThat(a.session.transactionOpen()).isTrue();
    assertThat(loads.counters("pg1").snapshot(false).inFlightTransactions()).isEqualTo(1);

    // Then B's statement waits: held by Halo, not sent to the backend
    b.fromClient(query("SELECT 1"));
    assertThat(b.backendGot()).isEmpty();
    assertThat(b.client.config().isAutoRead())
        .as("B's client is not read while it waits")
        .isFalse();

    // And C, beyond the queue, is refused at once with 53300 and a ReadyForQuery, for a simple
    // query and for a whole extended batch alike
    c.fromClient(query("SELECT 2"));
    String refused = c.clientGot();
    assertThat(refused).startsWith("E[SERROR|VERROR|C53300|M").endsWith("]Z");
    assertThat(refused)
        .contains(
            "backend pg1: 1 of 1 concurrent transactions in use, 1 waiting (queue limit 1)",
            "the wait queue is full");
    c.fromClient(
        msg('P', "\0SELECT 3\0\0\0"), msg('B', "\0\0\0\0\0\0\0"), msg('E', "\0\0\0\0"), sync());
    assertThat(c.clientGot()).matches("E\\[[^]]*C53300[^]]*\\]Z");
    assertThat(c.backendGot()).isEmpty();

    // When A's transaction ends inside it: nothing is released; at the idle ReadyForQuery it is
    a.fromClient(query("INSERT 1"));
    a.ready('T');
    assertThat(b.backendGot()).isEmpty();
    a.fromClient(query("COMMIT"));
    a.ready('I');
    assertThat(a.session.transactionOpen()).isFalse();

    // Then B's held statement goes to its backend, on B's event loop
    b.client.runPendingTasks();
    assertThat(b.backendGot()).isEqualTo("Q");
    assertThat(b.client.config().isAutoRead()).isTrue();
    b.ready('I');

    // And C, still connected and usable, now runs a statement
    c.fromClient(query("SELECT 4"));
    assertThat(c.backendGot()).isEqualTo("Q");
    c.ready('I');
    assertThat(loads.counters("pg1").snapshot(false).inFlightTransactions()).isZero();
    assertThat(loads.counters("pg1").snapshot(false).latencyKnown()).isTrue();
    assertThat(admission.limiters())
        .filteredOn(l -> l.unit().equals("transactions"))
        .singleElement()
        .satisfies(
            l -> {
              assertThat(l.inUse()).isZero();
              assertThat(l.rejectedQueueFull()).isEqualTo(2);
              assertThat(l.admitted()).isEqualTo(3);
            });
  }

  @Test
  void
      a_refused_batch_split_over_reads_gets_one_error_and_one_ready_and_the_next_work_is_admitted_afresh() {
    Admission admission = admission(1, 0, UserLimits.none());
    Pair a = session(admission, "a");
    Pair b = session(admission, "b");
    a.fromClient(query("BEGIN"));
    a.ready('T');

    // B's batch arrives in two reads, the second with a Parse split in the middle of its body
    ByteBuf parse = msg('P', "\0SELECT 1\0\0\0");
    ByteBuf firstHalf = parse.readRetainedSlice(7);
    b.fromClient(firstHalf);
    assertThat(b.clientGot()).matches("E\\[[^]]*C53300[^]]*\\]");
    b.fromClient(parse, msg('B', "\0\0\0\0\0\0\0"), msg('E', "\0\0\0\0"), sync());
    assertThat(b.clientGot()).isEqualTo("Z");
    assertThat(b.backendGot()).isEmpty();

    // once A is done, B's next statement runs
    a.fromClient(query("COMMIT"));
    a.ready('I');
    b.fromClient(query("SELECT 2"));
    assertThat(b.backendGot()).isEqualTo("Q");
  }

  @Test
  void a_client_that_sends_terminate_while_refused_is_closed() {
    Admission admission = admission(1, 0, UserLimits.none());
    Pair a = session(admission, "a");
    Pair b = session(admission, "b");
    a.fromClient(query("BEGIN"));
    a.ready('T');
    b.fromClient(msg('P', "\0SELECT 1\0\0\0"), Unpooled.buffer().writeByte('X').writeInt(4));
    assertThat(b.clientGot()).contains("C53300");
    assertThat(b.client.isActive()).isFalse();
    assertThat(b.backendGot()).isEqualTo("X");
  }

  @Test
  void pipelined_statements_keep_the_permit_until_the_last_reply() {
    Admission admission = admission(1, 0, UserLimits.none());
    Pair a = session(admission, "a");
    Pair b = session(admission, "b");

    a.fromClient(query("SELECT 1"), query("SELECT 2"));
    a.ready('I'); // the first reply: the second statement still runs
    b.fromClient(query("SELECT 3"));
    assertThat(b.clientGot()).contains("C53300");
    a.ready('I');
    b.fromClient(query("SELECT 4"));
    assertThat(b.backendGot()).isEqualTo("Q");
  }

  @Test
  void a_user_over_its_transaction_rate_gets_53300_naming_the_rate_and_stays_usable() {
    UserLimits users =
        new UserLimits(
            List.of(new UserConfig("app", null, AuthMethod.TRUST, "app", null, 0, 1, 2)),
            () -> 0L); // a clock that never moves: the bucket never refills
    Admission admission = admission(0, 0, users);
    Pair a = session(admission, "app");

    for (int i = 0; i < 2; i++) {
      a.fromClient(query("SELECT " + i));
      assertThat(a.backendGot()).isEqualTo("Q");
      a.ready('I');
      a.clientGot();
    }
    a.fromClient(query("SELECT 3"));
    assertThat(a.backendGot()).isEmpty();
    assertThat(a.clientGot())
        .contains(
            "C53300", "user app: more than max_transactions_per_second 1 (transaction_burst 2)")
        .endsWith("Z");
    assertThat(a.client.isActive()).isTrue();
    assertThat(users.views())
        .singleElement()
        .satisfies(v -> assertThat(v.rejectedTransactions()).isEqualTo(1));
  }

  @Test
  void a_cancel_of_a_statement_waiting_for_a_permit_answers_57014_and_it_never_runs() {
    // Given one transaction per backend, held by A, and B's statement waiting for the permit
    Admission admission = admission(1, 5, UserLimits.none());
    Pair a = session(admission, "a");
    Pair b = session(admission, "b");
    a.fromClient(query("BEGIN"));
    a.backendGot();
    a.ready('T');
    b.fromClient(query("SELECT 1"));
    assertThat(b.backendGot()).isEmpty();

    // When B's client cancels it (a CancelRequest on another connection)
    AtomicInteger forwarded = new AtomicInteger();
    b.session.cancel(forwarded::incrementAndGet);
    b.client.runPendingTasks();

    // Then B gets what a server answers a cancelled statement, and nothing went to a server
    assertThat(b.clientGot())
        .matches("E\\[[^]]*C57014\\|Mcanceling statement due to user request[^]]*\\]Z");
    assertThat(forwarded).hasValue(0);
    assertThat(b.backendGot()).isEmpty();
    assertThat(b.client.config().isAutoRead()).isTrue();
    assertThat(admission.limiters())
        .filteredOn(l -> l.unit().equals("transactions"))
        .singleElement()
        .satisfies(l -> assertThat(l.waiting()).isZero());

    // And when A's transaction ends, the cancelled statement still does not run; B's next does
    a.fromClient(query("COMMIT"));
    a.ready('I');
    b.client.runPendingTasks();
    assertThat(b.backendGot()).isEmpty();
    b.fromClient(query("SELECT 2"));
    assertThat(b.backendGot()).isEqualTo("Q");
    b.ready('I');

    // A cancel while nothing waits goes to the backend, as before
    b.session.cancel(forwarded::incrementAndGet);
    b.client.runPendingTasks();
    assertThat(forwarded).hasValue(1);
  }

  @Test
  void a_client_that_leaves_while_waiting_gives_up_its_place_and_the_permit_is_not_leaked() {
    Admission admission = admission(1, 5, UserLimits.none());
    Pair a = session(admission, "a");
    Pair b = session(admission, "b");
    a.fromClient(query("BEGIN"));
    a.ready('T');
    b.fromClient(query("SELECT 1"));
    b.client.close(); // the client goes away while queued
    b.backend.close();
    a.fromClient(query("COMMIT"));
    a.ready('I');
    b.client.runPendingTasks();
    assertThat(admission.limiters())
        .filteredOn(l -> l.unit().equals("transactions"))
        .singleElement()
        .satisfies(
            l -> {
              assertThat(l.inUse()).isZero();
              assertThat(l.waiting()).isZero();
            });
  }
}

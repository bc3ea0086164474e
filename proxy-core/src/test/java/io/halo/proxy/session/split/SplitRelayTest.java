package io.halo.proxy.session.split;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.halo.conf.model.Balance;
import io.halo.conf.model.HostPort;
import io.halo.conf.model.ListenerConfig;
import io.halo.conf.model.Route;
import io.halo.conf.model.ThrottleConfig;
import io.halo.health.state.BackendNode;
import io.halo.health.state.NodeRole;
import io.halo.health.state.NodeState;
import io.halo.proxy.HaloFixture;
import io.halo.proxy.session.Admission;
import io.halo.proxy.session.SplitContext;
import io.halo.routing.RouteRequest;
import io.halo.routing.RouteResult;
import io.halo.routing.Router;
import io.halo.routing.split.StatementClassifier;
import io.halo.routing.split.StatementKind;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.Promise;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The split engine's routing flow, with a toy protocol on EmbeddedChannels (a message is a line of
 * text; its first word says its kind; a backend answers rows, then "done" or "done-tx"): which leg
 * each request reaches and when, read-your-writes, hung and departed replicas, a lost primary. The
 * PostgreSQL and MySQL adapters have their own tests; this one covers what neither can alone.
 */
class SplitRelayTest {

  private static final BackendNode PRIMARY = node("p1", NodeRole.PRIMARY);
  private static final BackendNode REPLICA = node("r1", NodeRole.STANDBY);
  private static final Duration RYW_WAIT = Duration.ofMillis(100);

  /** Positions are numbers; the replica is re-asked (PostgreSQL's way). */
  private static final PositionProbe<Long> PROBE =
      new PositionProbe<>() {
        @Override
        public String primaryQuery() {
          return "position";
        }

        @Override
        public Long required(String value) {
          return Long.parseLong(value);
        }

        @Override
        public String replicaQuery(Long required, Duration wait) {
          return "replayed";
        }

        @Override
        public Long reached(String value, Long required) {
          return value == null ? null : Long.parseLong(value);
        }

        @Override
        public boolean covers(Long reached, Long required) {
          return reached != null && reached >= required;
        }

        @Override
        public boolean waitsOnServer() {
          return false;
        }
      };

  private final ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor();
  private final EmbeddedChannel client = new EmbeddedChannel();
  private final Map<String, EmbeddedChannel> backends = new HashMap<>();
  private final Set<String> unreachable = new HashSet<>();
  private final List<String> ended = new ArrayList<>();
  private boolean replicaInRotation = true;

  /** The router's primary (a failover changes it). */
  private BackendNode primaryNow = PRIMARY;

  /** The health checker's verdict on a suspected backend: answered (true), down (false). */
  private final java.util.concurrent.CompletableFuture<Boolean> verdict =
      new java.util.concurrent.CompletableFuture<>();

  private final io.halo.proxy.session.ClusterSessions sessions =
      new io.halo.proxy.session.ClusterSessions("main");
  private Relay relay;

  private static BackendNode node(String name, NodeRole role) {
    return new BackendNode(name, new HostPort("127.0.0.1", 1), role, NodeState.UP, 0);
  }

  @AfterEach
  void close() {
    client.finishAndReleaseAll();
    backends.values().forEach(EmbeddedChannel::finishAndReleaseAll);
    timer.shutdownNow();
  }

  private void start(boolean readYourWrites) {
    Router router =
        new Router() {
          @Override
          public RouteResult route(RouteRequest request) {
            return new RouteResult.Routed(PRIMARY, 1, Route.SPLIT);
          }

          @Override
          public RouteResult routeReplica(RouteRequest request) {
            return new RouteResult.Routed(REPLICA, 1, Route.SPLIT);
          }

          @Override
          public boolean inRotation(String backend) {
            return replicaInRotation;
          }

          @Override
          public RouteResult routeTo(io.halo.conf.model.RuleTarget target) {
            return new RouteResult.Routed(primaryNow, 1, Route.PRIMARY);
          }
        };
    ListenerConfig config =
        new ListenerConfig(
            new HostPort("127.0.0.1", 0),
            Route.SPLIT,
            10,
            true,
            Balance.ROUND_ROBIN,
            -1,
            readYourWrites,
            RYW_WAIT);
    Admission admission = new Admission(new ThrottleConfig(10, 10, Duration.ofSeconds(1)), timer);
    relay =
        new Relay(
            new SplitRelay.Setup(
                "test",
                config,
                HaloFixture.server(Duration.ofSeconds(3), 1 << 20),
                router,
                new SplitContext(StatementClassifier.postgres()),
                admission.transactionGate("app"),
                client,
                new RouteRequest("app", "db", null, null),
                "bye".getBytes(StandardCharsets.UTF_8)));
    EmbeddedChannel p = new EmbeddedChannel();
    backends.put(PRIMARY.name(), p);
    relay.begin(p);
  }

  /** The toy adapter: a request is one message; "done-tx" leaves a transaction open. */
  private final class Relay extends SplitRelay<String, Leg, EmbeddedChannel> {
    private String waiting;
    private boolean inTx;

    Relay(Setup setup) {
      super(setup, PROBE);
    }

    void begin(EmbeddedChannel connection) {
      primary = new Leg(true, PRIMARY) {};
      adopt(primary, connection);
      client.pipeline().addLast(clientHandler());
    }

    @Override
    protected io.halo.proxy.session.ClusterSessions sessions() {
      return sessions;
    }

    @Override
    protected Duration holdTimeout() {
      return Duration.ofSeconds(30);
    }

    @Override
    protected Leg newLeg(boolean isPrimary, BackendNode node) {
      return new Leg(isPrimary, node) {};
    }

    @Override
    protected void handle(String message) {
      waiting = message;
      kind = null;
      dispatch();
    }

    @Override
    protected boolean hasPending() {
      return waiting != null;
    }

    @Override
    protected boolean holdNow() {
      return false;
    }

    @Override
    protected Leg transactionLeg() {
      return inTx ? primary : null;
    }

    @Override
    protected StatementKind classify() {
      return switch (waiting.split(" ")[0]) {
        case "read" -> StatementKind.READ;
        case "set" -> StatementKind.SESSION;
        case "begin" -> StatementKind.TRANSACTION;
        case "pin" -> StatementKind.PIN;
        default -> StatementKind.WRITE;
      };
    }

    @Override
    protected boolean settingsAreTransactional() {
      return true;
    }

    @Override
    protected void keepSetting() {}

    @Override
    protected boolean startsWork() {
      return false;
    }

    @Override
    protected boolean inTransaction() {
      return inTx;
    }

    @Override
    protected void refuse(String message) {}

    @Override
    protected void cancelled() {}

    @Override
    protected void send(Leg target) {
      target.owe(Owed.client());
      last = target;
      target.channel().writeAndFlush(waiting);
      waiting = null;
    }

    @Override
    protected ByteBuf encodeQuery(Leg leg, byte[] sql) {
      return Unpooled.wrappedBuffer("hidden ".getBytes(StandardCharsets.UTF_8), sql);
    }

    @Override
    protected Future<EmbeddedChannel> open(Leg leg) {
      Promise<EmbeddedChannel> p = client.eventLoop().newPromise();
      client
          .eventLoop()
          .execute(
              () -> {
                if (unreachable.contains(leg.node().name())) {
                  p.setFailure(new IOException("connection refused"));
                } else {
                  EmbeddedChannel ch = new EmbeddedChannel();
                  backends.put(leg.node().name(), ch);
                  p.setSuccess(ch);
                }
              });
      return p;
    }

    @Override
    protected Channel channelOf(EmbeddedChannel connection) {
      return connection;
    }

    @Override
    protected void attach(Leg leg, EmbeddedChannel connection) {}

    @Override
    protected void endSession(End why, String message) {
      ended.add(why + ": " + message);
      closed();
    }

    @Override
    protected void clientRead(Object msg) {
      inbox.add((String) msg);
      drain();
    }

    @Override
    protected void backendRead(Leg leg, Object msg) {
      String line = (String) msg;
      Owed o = leg.next();
      if (o == null) {
        return;
      }
      if (o.isHidden()) {
        if (line.startsWith("row ")) {
          o.value(line.substring(4));
        }
      } else {
        client.write(leg.node().name() + ": " + line);
      }
      if (line.startsWith("done")) {
        answered(leg);
        if (!o.isHidden() && leg.isPrimary()) {
          inTx = line.equals("done-tx");
        }
        replied(leg);
      }
    }

    @Override
    protected void releaseBuffered() {
      waiting = null;
    }

    @Override
    protected Object who() {
      return "app";
    }
  }

  // ------------------------------------------------------------------ helpers

  private void send(String message) {
    client.writeInbound(message);
    settle();
  }

  /** Runs what the event loop has queued (connects completing). */
  private void settle() {
    for (int i = 0; i < 5; i++) {
      client.runPendingTasks();
      backends.values().forEach(EmbeddedChannel::runPendingTasks);
    }
  }

  private EmbeddedChannel backend(BackendNode n) {
    return backends.get(n.name());
  }

  /** What a backend received since last asked, as text. */
  private List<String> received(BackendNode n) {
    List<String> out = new ArrayList<>();
    EmbeddedChannel ch = backend(n);
    if (ch == null) {
      return out;
    }
    for (Object o; (o = ch.readOutbound()) != null; ) {
      if (o instanceof ByteBuf b) {
        out.add(b.toString(StandardCharsets.UTF_8));
        b.release();
      } else {
        out.add(String.valueOf(o));
      }
    }
    return out;
  }

  private void answer(BackendNode n, String... lines) {
    for (String l : lines) {
      backend(n).writeInbound(l);
    }
    settle();
  }

  private List<String> toClient() {
    List<String> out = new ArrayList<>();
    for (Object o; (o = client.readOutbound()) != null; ) {
      out.add(String.valueOf(o));
    }
    return out;
  }

  // ------------------------------------------------------------------ tests

  @Test
  void reads_go_to_a_replica_and_writes_to_the_primary() {
    start(false);
    send("read a");
    assertThat(received(REPLICA)).containsExactly("read a");
    answer(REPLICA, "row 1", "done");
    send("write b");
    assertThat(received(PRIMARY)).containsExactly("write b");
    answer(PRIMARY, "done");
    assertThat(toClient()).containsExactly("r1: row 1", "r1: done", "p1: done");
  }

  @Test
  void a_request_for_the_other_leg_waits_until_the_previous_one_has_answered() {
    start(false);
    send("write a");
    send("read b");
    assertThat(received(PRIMARY)).containsExactly("write a");
    assertThat(received(REPLICA)).as("the read waits for the write's reply").isEmpty();
    assertThat(client.config().isAutoRead()).as("the client is not read meanwhile").isFalse();
    answer(PRIMARY, "done");
    assertThat(received(REPLICA)).containsExactly("read b");
    answer(REPLICA, "done");
    assertThat(toClient()).containsExactly("p1: done", "r1: done");
    assertThat(client.config().isAutoRead()).isTrue();
  }

  @Test
  void inside_a_transaction_reads_stay_on_the_primary_and_leave_it_after() {
    start(false);
    send("begin");
    answer(PRIMARY, "done-tx");
    send("read a");
    assertThat(received(PRIMARY)).containsExactly("begin", "read a");
    answer(PRIMARY, "done-tx");
    send("commit");
    answer(PRIMARY, "done");
    send("read b");
    assertThat(received(REPLICA)).containsExactly("read b");
  }

  @Test
  void a_pinning_statement_keeps_every_later_read_on_the_primary() {
    start(false);
    send("pin");
    answer(PRIMARY, "done");
    send("read a");
    assertThat(received(PRIMARY)).containsExactly("pin", "read a");
    assertThat(backend(REPLICA)).as("no replica connection").isNull();
  }

  @Test
  void a_setting_inside_a_transaction_pins_the_session() {
    start(false);
    send("begin");
    answer(PRIMARY, "done-tx");
    send("set x");
    answer(PRIMARY, "done-tx");
    send("commit");
    answer(PRIMARY, "done");
    send("read a");
    assertThat(received(PRIMARY)).containsExactly("begin", "set x", "commit", "read a");
  }

  @Test
  void after_a_write_a_read_waits_for_the_replica_to_replay_it() {
    start(true);
    send("read warm-up"); // the replica connection is open
    answer(REPLICA, "done");
    received(REPLICA);
    send("write a");
    answer(PRIMARY, "done");
    received(PRIMARY);
    send("read b");
    assertThat(received(PRIMARY)).containsExactly("hidden position");
    answer(PRIMARY, "row 10", "done");
    assertThat(received(REPLICA)).containsExactly("hidden replayed");
    answer(REPLICA, "row 10", "done");
    assertThat(received(REPLICA)).containsExactly("read b");
    assertThat(toClient()).doesNotContain("p1: row 10", "r1: row 10");
  }

  @Test
  void a_replica_that_stays_behind_for_read_your_writes_wait_sends_the_read_to_the_primary()
      throws InterruptedException {
    start(true);
    send("read warm-up");
    answer(REPLICA, "done");
    received(REPLICA);
    send("write a");
    answer(PRIMARY, "done");
    received(PRIMARY);
    send("read b");
    answer(PRIMARY, "row 10", "done");
    received(PRIMARY);
    List<String> onPrimary = new ArrayList<>();
    for (int i = 0; i < 200 && onPrimary.isEmpty(); i++) {
      assertThat(received(REPLICA)).containsExactly("hidden replayed");
      answer(REPLICA, "row 5", "done");
      Thread.sleep(5); // the wait is measured in real time
      client.advanceTimeBy(5, TimeUnit.MILLISECONDS); // the re-ask timer
      client.runScheduledPendingTasks();
      settle();
      onPrimary.addAll(received(PRIMARY));
    }
    assertThat(onPrimary).containsExactly("read b");
    assertThat(relay.stats.readYourWritesOnPrimaryCount()).isEqualTo(1);
  }

  @Test
  void a_hung_replica_is_dropped_and_the_read_goes_to_the_primary() {
    start(true);
    send("read warm-up");
    answer(REPLICA, "done");
    received(REPLICA);
    send("write a");
    answer(PRIMARY, "done");
    received(PRIMARY);
    send("read b");
    answer(PRIMARY, "row 10", "done");
    assertThat(received(REPLICA)).containsExactly("hidden replayed");
    client.advanceTimeBy(6, TimeUnit.SECONDS); // backend_connect_timeout + read_your_writes_wait
    client.runScheduledPendingTasks();
    settle();
    assertThat(received(PRIMARY)).containsExactly("hidden position", "read b");
    assertThat(backend(REPLICA).isOpen()).as("the hung replica's connection").isFalse();
    assertThat(ended).isEmpty();
  }

  @Test
  void an_unreachable_replica_sends_reads_to_the_primary() {
    unreachable.add(REPLICA.name());
    start(false);
    send("read a");
    assertThat(received(PRIMARY)).containsExactly("read a");
    assertThat(ended).isEmpty();
  }

  @Test
  void a_replica_that_left_rotation_is_closed_and_reads_go_to_the_primary_for_a_while() {
    start(false);
    send("read a");
    answer(REPLICA, "done");
    EmbeddedChannel first = backend(REPLICA);
    replicaInRotation = false; // (this router still offers it: no reconnect per request)
    send("read b");
    assertThat(first.isOpen()).isFalse();
    assertThat(received(PRIMARY)).containsExactly("read b");
    assertThat(backend(REPLICA)).isSameAs(first);
  }

  @Test
  void a_primary_that_closes_mid_request_ends_the_session() {
    start(false);
    send("write a");
    backend(PRIMARY).close();
    settle();
    assertThat(ended)
        .containsExactly("BACKEND_LOST: backend p1 closed the connection unexpectedly");
  }

  @Test
  void a_session_that_lost_its_idle_primary_waits_and_goes_on_on_the_new_primary() {
    start(false);
    sessions.suspicion(b -> verdict);
    send("write a");
    answer(PRIMARY, "done");
    send("read a");
    answer(REPLICA, "done");
    EmbeddedChannel lost = backend(PRIMARY);
    EmbeddedChannel reads = backend(REPLICA);
    // When the primary's connection drops between requests
    lost.close();
    settle();
    // Then the session stays, without a connection the next topology change could end
    assertThat(ended).isEmpty();
    assertThat(relay.unbound()).isTrue();
    assertThat(reads.isOpen()).as("the idle read connection goes too").isFalse();
    // and its next request waits while the router still names the lost primary
    send("write b");
    assertThat(backend(PRIMARY)).isSameAs(lost);
    // until the router names another primary: the request runs there
    BackendNode next = node("p2", NodeRole.PRIMARY);
    primaryNow = next;
    await()
        .atMost(Duration.ofSeconds(5))
        .until(
            () -> {
              settle();
              return backend(next) != null && backend(next).outboundMessages().size() == 1;
            });
    assertThat(received(next)).containsExactly("write b");
    assertThat(ended).isEmpty();
    assertThat(sessions.outlived().moved()).isEqualTo(1);
  }

  @Test
  void a_session_whose_primary_is_up_after_its_connection_dropped_ends() {
    start(false);
    sessions.suspicion(b -> verdict);
    send("write a");
    answer(PRIMARY, "done");
    backend(PRIMARY).close();
    settle();
    assertThat(ended).isEmpty();
    // When the health checker finds the primary up, and it is still the primary
    verdict.complete(true);
    await()
        .atMost(Duration.ofSeconds(5))
        .until(
            () -> {
              settle();
              return !ended.isEmpty();
            });
    // Then only this connection died: the session ends as a direct one would
    assertThat(ended)
        .containsExactly(
            "BACKEND_LOST: backend p1 closed the connection unexpectedly; p1 is up and still the"
                + " primary: only this session's connection was closed");
    assertThat(sessions.outlived().ended()).isEqualTo(1);
  }

  @Test
  void a_replica_that_closes_while_idle_is_forgotten_and_the_session_goes_on() {
    start(false);
    send("read a");
    answer(REPLICA, "done");
    backend(REPLICA).close();
    settle();
    assertThat(ended).isEmpty();
    send("read b");
    assertThat(received(REPLICA)).containsExactly("read b");
  }
}

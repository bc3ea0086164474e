package io.halo.proxy.pg;

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
import io.halo.proxy.session.CancelRegistry;
import io.halo.proxy.transport.Transports;
import io.halo.routing.RouteResult;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/**
 * When a switchover may hold a session: only between transactions, with no reply pending and no
 * extended-protocol batch half sent (a batch cut there would be split across two primaries).
 */
class PgSessionQuiescenceTest {

  private static ByteBuf msg(char type, int bodyLength) {
    ByteBuf b = Unpooled.buffer().writeByte(type).writeInt(4 + bodyLength);
    return b.writeZero(bodyLength);
  }

  @Test
  void an_open_extended_batch_or_a_pending_reply_is_never_quiescent() {
    // Given a relaying session on real (embedded) channels
    EmbeddedChannel client = new EmbeddedChannel();
    EmbeddedChannel backend = new EmbeddedChannel();
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
            new io.halo.proxy.session.Admission(
                new io.halo.conf.model.ThrottleConfig(10, 10, Duration.ofSeconds(1)),
                Executors.newSingleThreadScheduledExecutor()),
            new io.halo.proxy.pg.auth.ScramKeyCache(),
            null,
            new io.halo.proxy.session.AuthFailures(java.time.Duration.ofSeconds(10)));
    BackendNode node =
        new BackendNode("pg1", new HostPort("127.0.0.1", 1), NodeRole.PRIMARY, NodeState.UP, 0);
    PgSession session =
        new PgSession(
            ctx,
            client,
            "u",
            "d",
            new UserConfig("u", null, AuthMethod.TRUST, "u", null),
            Map.of(),
            new PgBackendConnection(backend, node, List.of(), 1, 2, (byte) 'I'));
    PgRelayHandler toBackend = new PgRelayHandler(session, true, backend, 1 << 20);
    PgRelayHandler toClient = new PgRelayHandler(session, false, client, 1 << 20);
    PgRelayHandler.pair(toBackend, toClient);
    session.relays(toBackend, toClient);
    client.pipeline().addLast(toBackend);
    backend.pipeline().addLast(toClient);
    assertThat(session.quiescent()).isTrue();

    // When the client has sent Parse, Bind, Execute but not yet the Sync
    client.writeInbound(Unpooled.wrappedBuffer(msg('P', 10), msg('B', 10), msg('E', 5)));
    assertThat(session.quiescent()).as("half a batch").isFalse();
    // Then the Sync: still waiting for its ReadyForQuery
    client.writeInbound(msg('S', 0));
    assertThat(session.quiescent()).as("reply pending").isFalse();
    // And the ReadyForQuery (idle) makes it quiescent again
    backend.writeInbound(Unpooled.buffer().writeByte('Z').writeInt(5).writeByte('I'));
    assertThat(session.quiescent()).isTrue();
    // A simple query inside a transaction: not quiescent until the transaction ends
    client.writeInbound(msg('Q', 6));
    backend.writeInbound(Unpooled.buffer().writeByte('Z').writeInt(5).writeByte('T'));
    assertThat(session.quiescent()).as("in a transaction").isFalse();
    // A switchover's question (asked on the session's loop) is answered once, at the reply that
    // ends the transaction, not before
    AtomicInteger answers = new AtomicInteger();
    session.awaitQuiescence(answers::incrementAndGet);
    assertThat(answers).hasValue(0);
    client.writeInbound(msg('Q', 6));
    backend.writeInbound(Unpooled.buffer().writeByte('Z').writeInt(5).writeByte('T'));
    assertThat(answers).as("still in the transaction").hasValue(0);
    client.writeInbound(msg('Q', 6));
    backend.writeInbound(Unpooled.buffer().writeByte('Z').writeInt(5).writeByte('I'));
    assertThat(answers).as("the transaction ended").hasValue(1);
    // A message whose header is only partly here is in flight: not quiescent
    client.writeInbound(Unpooled.buffer().writeByte('Q').writeShort(0));
    assertThat(session.quiescent()).as("half a header forwarded").isFalse();
    client.writeInbound(Unpooled.buffer().writeShort(4 + 2).writeZero(2));
    backend.writeInbound(Unpooled.buffer().writeByte('Z').writeInt(5).writeByte('I'));
    assertThat(session.quiescent()).isTrue();

    for (Object o; (o = backend.readOutbound()) != null; ) {
      ((ByteBuf) o).release();
    }
    for (Object o; (o = client.readOutbound()) != null; ) {
      ((ByteBuf) o).release();
    }
    client.finishAndReleaseAll();
    backend.finishAndReleaseAll();
  }
}

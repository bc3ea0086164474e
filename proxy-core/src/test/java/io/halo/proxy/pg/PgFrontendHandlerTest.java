package io.halo.proxy.pg;

import static org.assertj.core.api.Assertions.assertThat;

import io.halo.conf.model.AuthMethod;
import io.halo.conf.model.HostPort;
import io.halo.conf.model.ListenerConfig;
import io.halo.conf.model.Route;
import io.halo.conf.model.UserConfig;
import io.halo.proxy.HaloFixture;
import io.halo.proxy.pg.auth.Credentials;
import io.halo.proxy.pg.message.PgFrameDecoder;
import io.halo.proxy.pg.message.PgMessages;
import io.halo.proxy.session.CancelRegistry;
import io.halo.proxy.transport.Transports;
import io.halo.routing.RouteResult;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/** Startup and authentication on an EmbeddedChannel: every bad input gets its SQLSTATE. */
class PgFrontendHandlerTest {

  private static EmbeddedChannel channel() {
    PgListenerContext ctx =
        new PgListenerContext(
            "test",
            "main",
            new ListenerConfig(new HostPort("127.0.0.1", 0), Route.PRIMARY, 10, true),
            HaloFixture.server(Duration.ofSeconds(3), 64L << 20),
            Credentials.of(
                List.of(
                    new UserConfig("app", "pw", AuthMethod.SCRAM_SHA_256, "app", "pw"),
                    new UserConfig("old", "pw", AuthMethod.MD5, "old", "pw"))),
            request -> new RouteResult.Unavailable("no backend in this test"),
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
            null,
            new io.halo.proxy.session.AuthFailures(java.time.Duration.ofSeconds(10)));
    EmbeddedChannel ch = new EmbeddedChannel();
    ch.pipeline().addLast("frames", PgFrameDecoder.forClient(64 << 20));
    ch.pipeline().addLast("frontend", new PgFrontendHandler(ctx));
    return ch;
  }

  private static ByteBuf startup(String user) {
    Map<String, String> p = new LinkedHashMap<>();
    if (user != null) {
      p.put("user", user);
    }
    p.put("database", "app");
    return PgMessages.startupMessage(Unpooled.buffer().alloc(), p);
  }

  /** Reads the first ErrorResponse's fields from the outbound side. */
  private static Map<Character, String> error(EmbeddedChannel ch) {
    ByteBuf out = Unpooled.buffer();
    for (Object o; (o = ch.readOutbound()) != null; ) {
      out.writeBytes((ByteBuf) o);
      ((ByteBuf) o).release();
    }
    try {
      while (out.isReadable()) {
        byte type = out.readByte();
        int len = out.readInt();
        ByteBuf body = out.readSlice(len - 4);
        if (type == 'E') {
          Map<Character, String> fields = new HashMap<>();
          for (byte f; (f = body.readByte()) != 0; ) {
            fields.put((char) f, PgMessages.readCString(body));
          }
          return fields;
        }
      }
      return Map.of();
    } finally {
      out.release();
    }
  }

  @Test
  void answers_ssl_request_with_n_then_accepts_the_startup() {
    EmbeddedChannel ch = channel();
    ch.writeInbound(Unpooled.buffer().writeInt(8).writeInt(PgMessages.SSL_REQUEST_CODE));
    ByteBuf n = ch.readOutbound();
    assertThat(n.readableBytes()).isEqualTo(1);
    assertThat(n.getByte(0)).isEqualTo((byte) 'N');
    n.release();
    ch.writeInbound(startup("app"));
    ByteBuf sasl = ch.readOutbound();
    assertThat(sasl.getByte(0)).isEqualTo((byte) 'R');
    assertThat(sasl.getInt(5)).isEqualTo(PgMessages.AUTH_SASL);
    assertThat(sasl.toString(9, sasl.readableBytes() - 9, StandardCharsets.UTF_8))
        .startsWith("SCRAM-SHA-256");
    sasl.release();
    ch.finishAndReleaseAll();
  }

  @Test
  void rejects_garbage_with_protocol_violation_and_closes() {
    EmbeddedChannel ch = channel();
    ch.writeInbound(
        Unpooled.wrappedBuffer(
            "\u0016\u0003\u0001 hello garbage".getBytes(StandardCharsets.ISO_8859_1)));
    assertThat(error(ch)).containsEntry('C', "08P01").containsEntry('S', "FATAL");
    assertThat(ch.isOpen()).isFalse();
    ch.finishAndReleaseAll();
  }

  @Test
  void rejects_an_unknown_protocol_version_with_feature_not_supported() {
    EmbeddedChannel ch = channel();
    ch.writeInbound(Unpooled.buffer().writeInt(9).writeInt(2 << 16).writeByte(0));
    Map<Character, String> e = error(ch);
    assertThat(e).containsEntry('C', "0A000");
    assertThat(e.get('M')).contains("2.0");
    ch.finishAndReleaseAll();
  }

  @Test
  void refuses_a_replication_connection_with_feature_not_supported() {
    EmbeddedChannel ch = channel();
    ch.writeInbound(
        PgMessages.startupMessage(
            Unpooled.buffer().alloc(),
            Map.of("user", "app", "database", "app", "replication", "database")));
    Map<Character, String> e = error(ch);
    assertThat(e).containsEntry('C', "0A000");
    assertThat(e.get('M')).contains("replication");
    assertThat(ch.isOpen()).isFalse();
    ch.finishAndReleaseAll();
  }

  @Test
  void rejects_a_startup_without_user_name() {
    EmbeddedChannel ch = channel();
    ch.writeInbound(startup(null));
    assertThat(error(ch)).containsEntry('C', "28000");
    ch.finishAndReleaseAll();
  }

  @Test
  void rejects_a_wrong_md5_password_with_invalid_password() {
    EmbeddedChannel ch = channel();
    ch.writeInbound(startup("old"));
    ByteBuf md5 = ch.readOutbound();
    assertThat(md5.getInt(5)).isEqualTo(PgMessages.AUTH_MD5);
    md5.release();
    ch.writeInbound(
        PgMessages.passwordMessage(
            Unpooled.buffer().alloc(),
            "md5deadbeef\0".getBytes(java.nio.charset.StandardCharsets.UTF_8)));
    Object early = ch.readOutbound();
    assertThat(early).as("a failed login is answered after a delay").isNull();
    ch.advanceTimeBy(250, java.util.concurrent.TimeUnit.MILLISECONDS);
    ch.runScheduledPendingTasks();
    Map<Character, String> e = error(ch);
    assertThat(e).containsEntry('C', "28P01");
    assertThat(e.get('M')).isEqualTo("password authentication failed for user \"old\"");
    ch.finishAndReleaseAll();
  }

  @Test
  void a_client_that_stalls_in_startup_is_closed_after_the_auth_timeout() {
    EmbeddedChannel ch = channel();
    ch.writeInbound(Unpooled.buffer().writeInt(100)); // half a startup packet, then nothing
    ch.advanceTimeBy(4, TimeUnit.SECONDS);
    ch.runPendingTasks();
    Map<Character, String> e = error(ch);
    assertThat(e).containsEntry('C', "08P01");
    assertThat(e.get('M')).contains("not completed within 3000 ms");
    assertThat(ch.isOpen()).isFalse();
    ch.finishAndReleaseAll();
  }
}

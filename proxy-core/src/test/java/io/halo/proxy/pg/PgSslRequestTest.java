package io.halo.proxy.pg;

import static org.assertj.core.api.Assertions.assertThat;

import io.halo.conf.model.AuthMethod;
import io.halo.conf.model.HostPort;
import io.halo.conf.model.ListenerConfig;
import io.halo.conf.model.ListenerTlsConfig;
import io.halo.conf.model.Route;
import io.halo.conf.model.UserConfig;
import io.halo.proxy.HaloFixture;
import io.halo.proxy.pg.auth.Credentials;
import io.halo.proxy.pg.message.PgFrameDecoder;
import io.halo.proxy.pg.message.PgMessages;
import io.halo.proxy.session.CancelRegistry;
import io.halo.proxy.transport.ServerTls;
import io.halo.proxy.transport.Transports;
import io.halo.routing.RouteResult;
import io.halo.testkit.TestCertificates;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.ssl.SslHandler;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A PostgreSQL client's SSLRequest and GSSENCRequest on a listener with TLS. */
class PgSslRequestTest {

  @TempDir static Path dir;
  static TestCertificates.Pair cert;

  @BeforeAll
  static void certificates() throws Exception {
    cert = TestCertificates.create(dir, "Test CA").server("halo", "localhost");
  }

  private static EmbeddedChannel channel(ListenerTlsConfig.Mode mode) {
    PgListenerContext ctx =
        new PgListenerContext(
            "test",
            "main",
            new ListenerConfig(new HostPort("127.0.0.1", 0), Route.PRIMARY, 10, true),
            HaloFixture.server(Duration.ofSeconds(3), 64L << 20),
            Credentials.of(
                List.of(new UserConfig("app", "pw", AuthMethod.SCRAM_SHA_256, "app", "pw"))),
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
            new io.halo.proxy.session.AuthFailures(Duration.ofSeconds(10)));
    ServerTls tls =
        ServerTls.load(
            "test",
            new ListenerTlsConfig(
                mode, cert.cert(), cert.key(), null, ListenerTlsConfig.ClientCertificates.NONE));
    EmbeddedChannel ch = new EmbeddedChannel();
    ch.pipeline().addLast("frames", PgFrameDecoder.forClient(64 << 20));
    ch.pipeline().addLast("frontend", new PgFrontendHandler(ctx, tls));
    return ch;
  }

  private static ByteBuf sslRequest() {
    return Unpooled.buffer().writeInt(8).writeInt(PgMessages.SSL_REQUEST_CODE);
  }

  private static ByteBuf startup() {
    Map<String, String> p = new LinkedHashMap<>();
    p.put("user", "app");
    p.put("database", "app");
    return PgMessages.startupMessage(Unpooled.buffer().alloc(), p);
  }

  private static String outbound(EmbeddedChannel ch) {
    StringBuilder s = new StringBuilder();
    for (Object o; (o = ch.readOutbound()) != null; ) {
      ByteBuf b = (ByteBuf) o;
      s.append(b.toString(StandardCharsets.ISO_8859_1));
      b.release();
    }
    return s.toString();
  }

  @Test
  void answers_ssl_request_with_s_and_puts_tls_in_front_of_the_decoder() {
    EmbeddedChannel ch = channel(ListenerTlsConfig.Mode.PREFER);

    ch.writeInbound(sslRequest());

    assertThat(outbound(ch)).isEqualTo("S");
    assertThat(ch.pipeline().first()).isInstanceOf(SslHandler.class);
    ch.finishAndReleaseAll();
  }

  @Test
  void refuses_plaintext_bytes_sent_behind_the_ssl_request() {
    EmbeddedChannel ch = channel(ListenerTlsConfig.Mode.PREFER);

    // A man in the middle appends a plaintext startup packet to the client's SSLRequest, hoping
    // it is read as if it had come over TLS (CVE-2021-23214).
    ch.writeInbound(Unpooled.wrappedBuffer(sslRequest(), startup()));

    String out = outbound(ch);
    assertThat(out)
        .startsWith("E")
        .contains("08P01")
        .contains("unencrypted data after SSL request");
    assertThat(ch.pipeline().get(SslHandler.class)).isNull();
    assertThat(ch.isOpen()).isFalse();
    ch.finishAndReleaseAll();
  }

  @Test
  void answers_gssenc_request_with_n() {
    EmbeddedChannel ch = channel(ListenerTlsConfig.Mode.PREFER);

    ch.writeInbound(Unpooled.buffer().writeInt(8).writeInt(PgMessages.GSSENC_REQUEST_CODE));

    assertThat(outbound(ch)).isEqualTo("N");
    assertThat(ch.pipeline().get(SslHandler.class)).isNull();
    ch.finishAndReleaseAll();
  }

  @Test
  void a_second_gssenc_request_ends_the_connection_as_postgresql_ends_it() {
    EmbeddedChannel ch = channel(ListenerTlsConfig.Mode.PREFER);
    ByteBuf gss = Unpooled.buffer().writeInt(8).writeInt(PgMessages.GSSENC_REQUEST_CODE);

    // a client that asks over and over without reading would have each 'N' held for it
    ch.writeInbound(Unpooled.wrappedBuffer(gss.retainedDuplicate(), gss.retainedDuplicate(), gss));

    String out = outbound(ch);
    assertThat(out).startsWith("NE").contains("0A000").contains("unsupported frontend protocol");
    assertThat(ch.isOpen()).isFalse();
    ch.finishAndReleaseAll();
  }

  @Test
  void mode_require_refuses_a_plaintext_startup_with_28000() {
    EmbeddedChannel ch = channel(ListenerTlsConfig.Mode.REQUIRE);

    ch.writeInbound(startup());

    String out = outbound(ch);
    assertThat(out).startsWith("E").contains("28000").contains("this listener requires TLS");
    assertThat(ch.isOpen()).isFalse();
    ch.finishAndReleaseAll();
  }

  @Test
  void mode_prefer_accepts_a_plaintext_startup() {
    EmbeddedChannel ch = channel(ListenerTlsConfig.Mode.PREFER);

    ch.writeInbound(startup());

    assertThat(outbound(ch)).startsWith("R");
    ch.finishAndReleaseAll();
  }
}

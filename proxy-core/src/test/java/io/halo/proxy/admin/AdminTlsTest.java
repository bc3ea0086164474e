package io.halo.proxy.admin;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;

import io.halo.conf.model.AdminConfig;
import io.halo.conf.model.HostPort;
import io.halo.conf.model.ListenerTlsConfig;
import io.halo.proxy.Halo;
import io.halo.proxy.transport.Transports;
import io.halo.testkit.TestCertificates;
import io.netty.channel.EventLoopGroup;
import java.io.InputStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.math.BigInteger;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLHandshakeException;
import javax.net.ssl.TrustManagerFactory;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * The admin API over HTTPS ({@code admin.tls}): the JDK's HttpClient trusting the test CA, the
 * CLI's {@code --cacert}, client certificates, and a certificate rotated without a restart.
 */
class AdminTlsTest {

  @TempDir static Path dir;
  static TestCertificates ca;
  static TestCertificates otherCa;
  static TestCertificates.Pair server;
  static TestCertificates.Pair client;

  private final EventLoopGroup boss = Transports.nio().newGroup(1);
  private final EventLoopGroup workers = Transports.nio().newGroup(1);
  private AdminServer admin;
  private final StringWriter out = new StringWriter();
  private final StringWriter err = new StringWriter();

  @BeforeAll
  static void certificates() throws Exception {
    ca = TestCertificates.create(dir, "Halo admin CA");
    otherCa = TestCertificates.create(dir, "Unknown CA");
    server = ca.server("admin", "localhost", "127.0.0.1");
    client = ca.client("operator");
  }

  private void start(ListenerTlsConfig.ClientCertificates clients) throws Exception {
    admin =
        new AdminServer(
            new AdminConfig(
                new HostPort("127.0.0.1", 0),
                AdminFixture.TOKEN,
                null,
                new ListenerTlsConfig(
                    ListenerTlsConfig.Mode.REQUIRE,
                    server.cert(),
                    server.key(),
                    clients == ListenerTlsConfig.ClientCertificates.NONE ? null : ca.caCert(),
                    clients)),
            List.of(new FakeCluster("main", "pg1", "pg2")),
            new FakeProxy(),
            Transports.nio(),
            boss,
            workers);
    admin.start();
  }

  @AfterEach
  void stop() {
    if (admin != null) {
      admin.close();
    }
    boss.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
    workers.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
  }

  private String url(String scheme) {
    return scheme + "://localhost:" + admin.boundAddress().getPort();
  }

  private static SSLContext trusting(Path caCert) throws Exception {
    KeyStore ks = KeyStore.getInstance("PKCS12");
    ks.load(null, null);
    try (InputStream in = Files.newInputStream(caCert)) {
      ks.setCertificateEntry("ca", CertificateFactory.getInstance("X.509").generateCertificate(in));
    }
    TrustManagerFactory tmf =
        TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
    tmf.init(ks);
    SSLContext ctx = SSLContext.getInstance("TLS");
    ctx.init(null, tmf.getTrustManagers(), null);
    return ctx;
  }

  private HttpResponse<String> get(SSLContext ssl, String url) throws Exception {
    HttpClient http =
        HttpClient.newBuilder()
            .version(HttpClient.Version.HTTP_1_1)
            .connectTimeout(Duration.ofSeconds(5))
            .sslContext(ssl)
            .build();
    return http.send(
        HttpRequest.newBuilder(URI.create(url + "/api/v1/clusters"))
            .timeout(Duration.ofSeconds(10))
            .header("Authorization", "Bearer " + AdminFixture.TOKEN)
            .GET()
            .build(),
        HttpResponse.BodyHandlers.ofString());
  }

  private int halo(String... args) {
    CommandLine cmd = new CommandLine(new Halo());
    cmd.setOut(new PrintWriter(out, true));
    cmd.setErr(new PrintWriter(err, true));
    return cmd.execute(args);
  }

  @Test
  void the_jdk_client_trusting_the_ca_reads_the_api_over_https() throws Exception {
    start(ListenerTlsConfig.ClientCertificates.NONE);

    HttpResponse<String> r = get(trusting(ca.caCert()), url("https"));

    assertThat(r.statusCode()).isEqualTo(200);
    assertThat(r.body()).contains("main");
    assertThat(r.sslSession()).isPresent();
  }

  @Test
  void an_unknown_ca_and_plain_http_are_refused() throws Exception {
    start(ListenerTlsConfig.ClientCertificates.NONE);

    Throwable unknown = catchThrowable(() -> get(trusting(otherCa.caCert()), url("https")));
    Throwable plain = catchThrowable(() -> get(SSLContext.getDefault(), url("http")));

    assertThat(unknown).isInstanceOf(SSLHandshakeException.class);
    assertThat(plain).isInstanceOf(java.io.IOException.class);
  }

  @Test
  void halo_status_speaks_https_with_cacert() throws Exception {
    start(ListenerTlsConfig.ClientCertificates.NONE);

    int ok =
        halo(
            "status",
            "--admin",
            url("https"),
            "--cacert",
            ca.caCert().toString(),
            "--token",
            AdminFixture.TOKEN);
    assertThat(ok).as(err.toString()).isZero();
    assertThat(out.toString()).contains("cluster main  epoch 1  primary pg1");

    int untrusted =
        halo(
            "status",
            "--admin",
            url("https"),
            "--cacert",
            otherCa.caCert().toString(),
            "--token",
            AdminFixture.TOKEN);
    assertThat(untrusted).isEqualTo(1);
    assertThat(err.toString()).contains("TLS to the admin API at " + url("https") + " failed");
  }

  @Test
  void required_client_certificates_admit_the_cli_with_its_certificate_only() throws Exception {
    start(ListenerTlsConfig.ClientCertificates.REQUIRE);

    int without =
        halo(
            "status",
            "--admin",
            url("https"),
            "--cacert",
            ca.caCert().toString(),
            "--token",
            AdminFixture.TOKEN);
    int with =
        halo(
            "status",
            "--admin",
            url("https"),
            "--cacert",
            ca.caCert().toString(),
            "--cert",
            client.cert().toString(),
            "--key",
            client.key().toString(),
            "--token",
            AdminFixture.TOKEN);

    assertThat(without).isEqualTo(1);
    assertThat(with).as(err.toString()).isZero();
    assertThat(out.toString()).contains("cluster main  epoch 1  primary pg1");
  }

  @Test
  void a_rotated_certificate_serves_new_connections_without_a_restart() throws Exception {
    start(ListenerTlsConfig.ClientCertificates.NONE);
    BigInteger before = servedSerial();
    TestCertificates.Pair next = ca.server("admin-next", "localhost", "127.0.0.1");
    Files.copy(next.key(), server.key(), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
    Files.copy(next.cert(), server.cert(), java.nio.file.StandardCopyOption.REPLACE_EXISTING);

    boolean reloaded = admin.tls().reloadIfChanged(); // what Halo's TLS reload thread calls

    assertThat(reloaded).isTrue();
    assertThat(servedSerial()).isNotEqualTo(before).isEqualTo(serial(next.cert()));
  }

  private BigInteger servedSerial() throws Exception {
    HttpResponse<String> r = get(trusting(ca.caCert()), url("https"));
    assertThat(r.statusCode()).isEqualTo(200);
    return ((X509Certificate) r.sslSession().orElseThrow().getPeerCertificates()[0])
        .getSerialNumber();
  }

  private static BigInteger serial(Path cert) throws Exception {
    try (InputStream in = Files.newInputStream(cert)) {
      return ((X509Certificate) CertificateFactory.getInstance("X.509").generateCertificate(in))
          .getSerialNumber();
    }
  }
}

package io.halo.proxy.admin;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The connection-level behaviour, on raw sockets: ordering, malformed requests, close. */
class AdminConnectionTest {

  private static final String AUTH = "Authorization: Bearer " + AdminFixture.TOKEN + "\r\n";

  private FakeCluster main;
  private AdminFixture admin;

  @BeforeEach
  void start() throws Exception {
    main = new FakeCluster("main", "pg1", "pg2");
    admin = new AdminFixture(AdminFixture.TOKEN, List.of(main));
  }

  @AfterEach
  void stop() {
    admin.close();
  }

  private record Answer(int status, String headers, String body) {}

  private Socket connect() throws IOException {
    Socket s = new Socket("127.0.0.1", admin.server.boundAddress().getPort());
    s.setSoTimeout(5000);
    return s;
  }

  /** Reads one HTTP/1.1 response with a Content-Length. */
  private static Answer read(InputStream in) throws IOException {
    ByteArrayOutputStream head = new ByteArrayOutputStream();
    while (!head.toString(StandardCharsets.ISO_8859_1).endsWith("\r\n\r\n")) {
      int b = in.read();
      if (b < 0) {
        throw new IOException("connection closed after " + head);
      }
      head.write(b);
    }
    String headers = head.toString(StandardCharsets.ISO_8859_1);
    int status = Integer.parseInt(headers.substring(9, 12));
    int length = 0;
    for (String line : headers.split("\r\n")) {
      if (line.toLowerCase(Locale.ROOT).startsWith("content-length:")) {
        length = Integer.parseInt(line.substring(15).trim());
      }
    }
    return new Answer(status, headers, new String(in.readNBytes(length), StandardCharsets.UTF_8));
  }

  /** This host's first non-loopback IPv4 address, or null. */
  private static java.net.InetAddress hostAddress() throws IOException {
    for (java.net.NetworkInterface n :
        java.util.Collections.list(java.net.NetworkInterface.getNetworkInterfaces())) {
      if (n.isUp() && !n.isLoopback()) {
        for (java.net.InetAddress a : java.util.Collections.list(n.getInetAddresses())) {
          if (a instanceof java.net.Inet4Address) {
            return a;
          }
        }
      }
    }
    return null;
  }

  @Test
  void one_remote_address_cannot_take_every_admin_connection() throws Exception {
    java.net.InetAddress host = hostAddress();
    org.junit.jupiter.api.Assumptions.assumeTrue(host != null, "no non-loopback address");
    // Given an admin API on every address (with a token), and one non-loopback address holding as
    // many idle admin connections as it may
    AdminFixture wide =
        new AdminFixture(
            new io.halo.conf.model.HostPort("0.0.0.0", 0),
            AdminFixture.TOKEN,
            List.of(main),
            AdminServer.ACTION_THREADS,
            AdminServer.ACTION_QUEUE);
    int port = wide.server.boundAddress().getPort();
    List<Socket> flood = new java.util.ArrayList<>();
    try {
      for (int i = 0; i < AdminServer.MAX_CONNECTIONS_PER_ADDRESS; i++) {
        Socket s = new Socket(host, port);
        s.setSoTimeout(5000);
        flood.add(s);
      }
      assertThat(get(flood.get(0), "/health").status()).isEqualTo(200);
      // When it opens one more
      try (Socket more = new Socket(host, port)) {
        more.setSoTimeout(5000);
        // Then that one is closed at once
        assertThat(more.getInputStream().read()).isEqualTo(-1);
      }
      // while loopback, which local tools share, is still answered
      try (Socket local = new Socket("127.0.0.1", port)) {
        local.setSoTimeout(5000);
        assertThat(get(local, "/health").status()).isEqualTo(200);
      }
    } finally {
      for (Socket s : flood) {
        s.close();
      }
      wide.close();
    }
  }

  private static Answer get(Socket s, String path) throws IOException {
    s.getOutputStream()
        .write(
            ("GET " + path + " HTTP/1.1\r\nHost: halo\r\n\r\n")
                .getBytes(StandardCharsets.US_ASCII));
    s.getOutputStream().flush();
    return read(s.getInputStream());
  }

  @Test
  void a_client_that_does_not_read_its_answers_is_not_read_further() throws Exception {
    try (Socket s = connect()) {
      byte[] one = "GET /health HTTP/1.1\r\nHost: halo\r\n\r\n".getBytes(StandardCharsets.US_ASCII);
      ByteArrayOutputStream many = new ByteArrayOutputStream();
      for (int i = 0; i < 100; i++) {
        many.write(one);
      }
      byte[] batch = many.toByteArray();
      OutputStream out = s.getOutputStream();
      long stalledAt =
          io.halo.proxy.StalledSends.untilStalled(
              () -> {
                out.write(batch);
                out.flush();
              },
              100);
      assertThat(stalledAt).isPositive();
      InputStream in = s.getInputStream();
      for (int i = 0; i < 50_000; i++) { // more than the sockets held at the stall
        assertThat(read(in).status()).isEqualTo(200);
      }
    }
  }

  @Test
  void pipelined_requests_behind_an_action_are_answered_in_order_after_it() throws Exception {
    // Given a failover held by the test, and a GET pipelined behind it on the same connection
    CountDownLatch release = new CountDownLatch(1);
    main.release = release;
    try (Socket s = connect()) {
      OutputStream out = s.getOutputStream();
      out.write(
          ("POST /api/v1/clusters/main/failover HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                  + AUTH
                  + "Content-Type: application/json\r\nContent-Length: 0\r\n\r\n"
                  + "GET /api/v1/clusters/main HTTP/1.1\r\nHost: halo\r\n"
                  + AUTH
                  + "\r\n")
              .getBytes(StandardCharsets.US_ASCII));
      out.flush();
      assertThat(main.actionStarted.await(5, TimeUnit.SECONDS)).isTrue();
      // When nothing is answered while the action runs
      s.setSoTimeout(200);
      boolean answeredEarly;
      try {
        answeredEarly = s.getInputStream().read() >= 0;
      } catch (SocketTimeoutException e) {
        answeredEarly = false;
      }
      assertThat(answeredEarly).isFalse();
      s.setSoTimeout(5000);
      release.countDown();
      // Then the failover's answer comes first, and the GET sees its result
      Answer failover = read(s.getInputStream());
      Answer cluster = read(s.getInputStream());
      assertThat(failover.status()).isEqualTo(200);
      assertThat(failover.body()).contains("\"outcome\":\"SUCCEEDED\"");
      assertThat(cluster.status()).isEqualTo(200);
      assertThat(cluster.body()).contains("\"epoch\":2");
    }
  }

  /**
   * A page on evil.example that rebinds its name to 127.0.0.1 sends JSON with its own Origin and
   * Host: same-origin for the browser, refused by the Host check.
   */
  @Test
  void a_rebound_name_in_host_is_refused_on_a_loopback_listener() throws Exception {
    int port = admin.server.boundAddress().getPort();
    try (Socket s = connect()) {
      s.getOutputStream()
          .write(
              ("POST /api/v1/clusters/main/failover HTTP/1.1\r\nHost: evil.example:"
                      + port
                      + "\r\nOrigin: http://evil.example:"
                      + port
                      + "\r\n"
                      + AUTH
                      + "Content-Type: application/json\r\nContent-Length: 0\r\n\r\n")
                  .getBytes(StandardCharsets.US_ASCII));
      Answer a = read(s.getInputStream());
      assertThat(a.status()).isEqualTo(403);
      assertThat(a.body()).contains("loopback");
    }
    assertThat(main.failovers()).as("no failover ran").isEmpty();
  }

  @Test
  void a_malformed_request_is_400_and_the_connection_closes() throws Exception {
    // Given a request line with a header that cannot be parsed
    try (Socket s = connect()) {
      s.getOutputStream()
          .write(
              "GET /health HTTP/1.1\r\nHost: halo\r\nno-colon-here\r\n\r\n"
                  .getBytes(StandardCharsets.US_ASCII));
      // When
      Answer a = read(s.getInputStream());
      // Then
      assertThat(a.status()).isEqualTo(400);
      assertThat(a.body()).contains("malformed HTTP request");
      assertThat(s.getInputStream().read()).isEqualTo(-1);
    }
  }

  @Test
  void connection_close_is_honoured_and_keep_alive_is_the_default() throws Exception {
    try (Socket s = connect()) {
      OutputStream out = s.getOutputStream();
      // Given / When two requests, the second asking to close
      out.write("GET /health HTTP/1.1\r\nHost: halo\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
      Answer first = read(s.getInputStream());
      out.write(
          "GET /health HTTP/1.1\r\nHost: halo\r\nConnection: close\r\n\r\n"
              .getBytes(StandardCharsets.US_ASCII));
      Answer second = read(s.getInputStream());
      // Then
      assertThat(first.status()).isEqualTo(200);
      assertThat(second.status()).isEqualTo(200);
      assertThat(second.headers().toLowerCase(Locale.ROOT)).contains("connection: close");
      assertThat(s.getInputStream().read()).isEqualTo(-1);
    }
  }

  @Test
  void an_unexpected_exception_in_an_action_is_500_with_its_message() throws Exception {
    // Given
    main.failWith = new UnsupportedOperationException("promote is not wired yet");
    // When
    var r = admin.post("/api/v1/clusters/main/failover", "");
    // Then
    assertThat(r.statusCode()).isEqualTo(500);
    assertThat(r.body()).contains("promote is not wired yet");
    assertThat(admin.get("/health").statusCode()).isEqualTo(200);
  }
}

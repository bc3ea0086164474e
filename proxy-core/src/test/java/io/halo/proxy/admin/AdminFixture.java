package io.halo.proxy.admin;

import io.halo.conf.model.AdminConfig;
import io.halo.conf.model.HostPort;
import io.halo.health.ClusterControl;
import io.halo.proxy.transport.Transports;
import io.netty.channel.EventLoopGroup;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/** A real AdminServer on 127.0.0.1:0 with NIO groups, and a java.net.http client for it. */
final class AdminFixture implements AutoCloseable {

  static final String TOKEN = "s3cret-token";

  /** The read-only token, configured whenever a token is. */
  static final String READ_TOKEN = "read-only-token";

  final EventLoopGroup boss = Transports.nio().newGroup(1);
  final EventLoopGroup workers = Transports.nio().newGroup(1);
  final AdminServer server;
  final HttpClient http =
      HttpClient.newBuilder()
          .version(HttpClient.Version.HTTP_1_1)
          .connectTimeout(Duration.ofSeconds(5))
          .build();

  AdminFixture(String token, List<ClusterControl> clusters) throws InterruptedException {
    this(token, clusters, AdminServer.ACTION_THREADS, AdminServer.ACTION_QUEUE);
  }

  AdminFixture(String token, List<ClusterControl> clusters, int threads, int queue)
      throws InterruptedException {
    this(new HostPort("127.0.0.1", 0), token, clusters, threads, queue);
  }

  AdminFixture(HostPort listen, String token, List<ClusterControl> clusters, int threads, int queue)
      throws InterruptedException {
    server =
        new AdminServer(
            new AdminConfig(listen, token, token == null ? null : READ_TOKEN),
            clusters,
            new FakeProxy(),
            Transports.nio(),
            boss,
            workers,
            threads,
            queue);
    server.start();
  }

  String url() {
    return "http://127.0.0.1:" + server.boundAddress().getPort();
  }

  HttpRequest.Builder request(String path) {
    return HttpRequest.newBuilder(URI.create(url() + path))
        .timeout(Duration.ofSeconds(10))
        .header("Authorization", "Bearer " + TOKEN);
  }

  HttpResponse<String> get(String path) throws Exception {
    return send(request(path).GET().build());
  }

  HttpResponse<String> post(String path, String body) throws Exception {
    return send(postRequest(path, body));
  }

  HttpRequest postRequest(String path, String body) {
    return request(path)
        .header("Content-Type", "application/json")
        .POST(HttpRequest.BodyPublishers.ofString(body, StandardCharsets.UTF_8))
        .build();
  }

  HttpResponse<String> send(HttpRequest request) throws Exception {
    return http.send(request, HttpResponse.BodyHandlers.ofString(StandardCharsets.UTF_8));
  }

  CompletableFuture<HttpResponse<String>> sendAsync(HttpRequest request) {
    return http.sendAsync(request, HttpResponse.BodyHandlers.ofString(StandardCharsets.UTF_8));
  }

  @Override
  public void close() {
    server.close();
    boss.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
    workers.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
  }
}

package io.halo.proxy.admin;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.halo.conf.model.AdminConfig;
import io.halo.conf.model.HostPort;
import io.halo.health.failover.FailoverReport;
import io.halo.proxy.transport.Transports;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The admin API over real HTTP, against in-memory clusters. */
class AdminServerTest {

  private final ObjectMapper mapper = new ObjectMapper();
  private FakeCluster main;
  private FakeCluster other;
  private AdminFixture admin;

  @BeforeEach
  void start() throws Exception {
    main = new FakeCluster("main", "pg1", "pg2", "pg3");
    other = new FakeCluster("other", "a1", "a2");
    admin = new AdminFixture(AdminFixture.TOKEN, List.of(main, other));
  }

  @AfterEach
  void stop() {
    admin.close();
  }

  private JsonNode json(HttpResponse<String> r) throws Exception {
    assertThat(r.headers().firstValue("Content-Type"))
        .hasValueSatisfying(v -> assertThat(v).startsWith("application/json"));
    return mapper.readTree(r.body());
  }

  @Test
  void health_is_ok_without_a_token_when_every_cluster_has_a_routable_primary() throws Exception {
    // Given two clusters with an UP primary; When GET /health without Authorization
    HttpResponse<String> r =
        admin.send(HttpRequest.newBuilder(URI.create(admin.url() + "/health")).GET().build());
    // Then
    assertThat(r.statusCode()).isEqualTo(200);
    assertThat(json(r).path("status").asText()).isEqualTo("ok");
  }

  @Test
  void health_is_503_naming_the_cluster_without_a_routable_primary() throws Exception {
    // Given
    other.primaryDown();
    // When
    HttpResponse<String> r = admin.get("/health");
    // Then
    assertThat(r.statusCode()).isEqualTo(503);
    JsonNode body = json(r);
    assertThat(body.path("error").asText()).contains("other");
    assertThat(body.path("clusters_without_primary").toString()).isEqualTo("[\"other\"]");
  }

  @Test
  void requests_without_or_with_a_wrong_token_get_401_with_www_authenticate() throws Exception {
    // Given a token-protected API; When no token / a wrong token / the right one
    HttpResponse<String> none =
        admin.send(
            HttpRequest.newBuilder(URI.create(admin.url() + "/api/v1/clusters")).GET().build());
    HttpResponse<String> wrong =
        admin.send(
            HttpRequest.newBuilder(URI.create(admin.url() + "/api/v1/clusters"))
                .header("Authorization", "Bearer s3cret-tokeN")
                .GET()
                .build());
    HttpResponse<String> right = admin.get("/api/v1/clusters");
    // Then
    for (HttpResponse<String> r : List.of(none, wrong)) {
      assertThat(r.statusCode()).isEqualTo(401);
      assertThat(r.headers().firstValue("WWW-Authenticate"))
          .hasValueSatisfying(v -> assertThat(v).startsWith("Bearer"));
      assertThat(json(r).path("error").asText()).contains("bearer token");
    }
    assertThat(right.statusCode()).isEqualTo(200);
  }

  @Test
  void without_a_configured_token_no_authorization_is_needed() throws Exception {
    // Given an API without token
    try (AdminFixture open = new AdminFixture(null, List.of(main))) {
      // When
      HttpResponse<String> r =
          open.send(
              HttpRequest.newBuilder(URI.create(open.url() + "/api/v1/clusters")).GET().build());
      // Then
      assertThat(r.statusCode()).isEqualTo(200);
    }
  }

  @Test
  void lists_clusters_with_epoch_primary_and_backends_by_state() throws Exception {
    // When
    JsonNode body = json(admin.get("/api/v1/clusters"));
    // Then
    assertThat(body.size()).isEqualTo(2);
    JsonNode c = body.get(0);
    assertThat(c.path("name").asText()).isEqualTo("main");
    assertThat(c.path("epoch").asLong()).isEqualTo(1);
    assertThat(c.path("primary").asText()).isEqualTo("pg1");
    assertThat(c.path("backends").asInt()).isEqualTo(3);
    assertThat(c.path("backends_by_state").path("UP").asInt()).isEqualTo(3);
    assertThat(c.path("backends_by_state").path("DOWN").asInt()).isZero();
    assertThat(c.path("failover_running").asBoolean()).isFalse();
  }

  @Test
  void cluster_detail_shows_each_backend_with_probe_positions_lag_and_sessions() throws Exception {
    // When
    HttpResponse<String> r = admin.get("/api/v1/clusters/main");
    // Then
    assertThat(r.statusCode()).isEqualTo(200);
    JsonNode c = json(r);
    assertThat(c.path("epoch").asLong()).isEqualTo(1);
    assertThat(c.path("last_failover").isNull()).isTrue();
    JsonNode pg1 = c.path("backends").get(0);
    assertThat(pg1.path("name").asText()).isEqualTo("pg1");
    assertThat(pg1.path("address").asText()).isEqualTo("10.0.0.1:5432");
    assertThat(pg1.path("role").asText()).isEqualTo("PRIMARY");
    assertThat(pg1.path("state").asText()).isEqualTo("UP");
    assertThat(pg1.path("admin_state").asText()).isEqualTo("ENABLED");
    assertThat(pg1.path("sessions").asInt()).isEqualTo(12);
    assertThat(pg1.path("lag_bytes").asLong()).isZero();
    assertThat(pg1.path("split_brain").asBoolean()).isFalse();
    JsonNode probe = pg1.path("last_probe");
    assertThat(probe.path("at").asText()).isEqualTo("2026-11-27T04:00:00Z");
    assertThat(probe.path("latency_ms").asDouble()).isEqualTo(2.0);
    assertThat(probe.path("wal_lsn").asText()).isEqualTo("0/3000060");
    assertThat(probe.path("wal_position").asLong()).isEqualTo(0x3000060L);
    assertThat(probe.path("received_lsn").asText()).isEqualTo("0/3000060");
    assertThat(probe.path("downstreams").get(0).path("replay_lsn").asText()).isEqualTo("0/3000000");
    JsonNode pg2 = c.path("backends").get(1);
    assertThat(pg2.path("lag_bytes").asLong()).isEqualTo(96);
    assertThat(pg2.path("last_probe").path("upstream").path("streaming").asBoolean()).isTrue();
    assertThat(pg2.path("last_probe").path("replay_delay_ms").asLong()).isZero();
  }

  @Test
  void unknown_paths_clusters_and_backends_are_404() throws Exception {
    // When / Then
    assertThat(admin.get("/api/v1/nothing").statusCode()).isEqualTo(404);
    HttpResponse<String> cluster = admin.get("/api/v1/clusters/nope");
    assertThat(cluster.statusCode()).isEqualTo(404);
    assertThat(json(cluster).path("error").asText()).contains("nope").contains("main, other");
    HttpResponse<String> backend = admin.post("/api/v1/clusters/main/backends/pg9/drain", "");
    assertThat(backend.statusCode()).isEqualTo(404);
    assertThat(json(backend).path("error").asText()).contains("pg9");
    assertThat(admin.post("/api/v1/clusters/main/failover", "{\"target\":\"pg9\"}").statusCode())
        .isEqualTo(404);
  }

  @Test
  void a_wrong_method_is_405_with_allow() throws Exception {
    // When
    HttpResponse<String> r = admin.get("/api/v1/clusters/main/failover");
    HttpResponse<String> p = admin.post("/api/v1/clusters", "");
    // Then
    assertThat(r.statusCode()).isEqualTo(405);
    assertThat(r.headers().firstValue("Allow")).hasValue("POST");
    assertThat(p.statusCode()).isEqualTo(405);
    assertThat(p.headers().firstValue("Allow")).hasValue("GET");
  }

  @Test
  void a_successful_failover_answers_200_with_the_report_and_bumps_the_epoch() throws Exception {
    // When
    HttpResponse<String> r =
        admin.post("/api/v1/clusters/main/failover", "{\"target\": \"pg3\", \"force\": true}");
    // Then
    assertThat(r.statusCode()).isEqualTo(200);
    JsonNode report = json(r);
    assertThat(report.path("outcome").asText()).isEqualTo("SUCCEEDED");
    assertThat(report.path("kind").asText()).isEqualTo("MANUAL");
    assertThat(report.path("from").asText()).isEqualTo("pg1");
    assertThat(report.path("to").asText()).isEqualTo("pg3");
    assertThat(report.path("duration_ms").asLong()).isEqualTo(1234);
    assertThat(report.path("possible_loss_bytes").asLong()).isEqualTo(4096);
    assertThat(report.path("steps").get(1).path("took_ms").asLong()).isEqualTo(1200);
    JsonNode cluster = json(admin.get("/api/v1/clusters/main"));
    assertThat(cluster.path("epoch").asLong()).isEqualTo(2);
    assertThat(cluster.path("primary").asText()).isEqualTo("pg3");
    assertThat(cluster.path("failovers").size()).isEqualTo(1);
    assertThat(cluster.path("last_failover").path("id").asLong()).isEqualTo(1);
  }

  @Test
  void a_failover_with_an_empty_body_picks_the_best_candidate() throws Exception {
    // When
    HttpResponse<String> r = admin.post("/api/v1/clusters/main/failover", "");
    // Then
    assertThat(r.statusCode()).isEqualTo(200);
    assertThat(json(r).path("to").asText()).isEqualTo("pg2");
  }

  @Test
  void a_refused_failover_answers_409_with_the_report_and_its_reason() throws Exception {
    // Given
    main.outcome = FailoverReport.Outcome.REFUSED;
    // When
    HttpResponse<String> r = admin.post("/api/v1/clusters/main/failover", "{}");
    // Then
    assertThat(r.statusCode()).isEqualTo(409);
    assertThat(json(r).path("outcome").asText()).isEqualTo("REFUSED");
    assertThat(json(r).path("reason").asText()).contains("max_lag");
  }

  @Test
  void a_failover_while_another_runs_is_409() throws Exception {
    // Given
    main.busy = true;
    // When
    HttpResponse<String> r = admin.post("/api/v1/clusters/main/switchover", "{\"target\":\"pg2\"}");
    // Then
    assertThat(r.statusCode()).isEqualTo(409);
    assertThat(json(r).path("error").asText()).contains("already running");
  }

  @Test
  void an_illegal_target_is_400_with_the_clusters_message() throws Exception {
    // When: pg1 is the primary already
    HttpResponse<String> r = admin.post("/api/v1/clusters/main/failover", "{\"target\":\"pg1\"}");
    // Then
    assertThat(r.statusCode()).isEqualTo(400);
    assertThat(json(r).path("error").asText()).isEqualTo("pg1 is already the primary");
  }

  @Test
  void bad_json_wrong_types_and_unknown_fields_are_400() throws Exception {
    // When / Then
    assertThat(admin.post("/api/v1/clusters/main/failover", "{not json").statusCode())
        .isEqualTo(400);
    assertThat(admin.post("/api/v1/clusters/main/failover", "[1]").statusCode()).isEqualTo(400);
    assertThat(admin.post("/api/v1/clusters/main/failover", "{\"force\": \"yes\"}").statusCode())
        .isEqualTo(400);
    HttpResponse<String> typo = admin.post("/api/v1/clusters/main/failover", "{\"forse\": true}");
    assertThat(typo.statusCode()).isEqualTo(400);
    assertThat(json(typo).path("error").asText()).contains("forse");
    assertThat(admin.post("/api/v1/clusters/main/switchover", "{\"force\": true}").statusCode())
        .isEqualTo(400);
  }

  @Test
  void a_switchover_answers_200_with_the_write_pause() throws Exception {
    // When
    HttpResponse<String> r = admin.post("/api/v1/clusters/main/switchover", "{\"target\":\"pg2\"}");
    // Then
    assertThat(r.statusCode()).isEqualTo(200);
    assertThat(json(r).path("kind").asText()).isEqualTo("SWITCHOVER");
    assertThat(json(r).path("write_pause_ms").asLong()).isEqualTo(250);
  }

  @Test
  void drain_disable_and_enable_answer_with_the_backends_new_status() throws Exception {
    // When / Then
    HttpResponse<String> drain = admin.post("/api/v1/clusters/main/backends/pg2/drain", "");
    assertThat(drain.statusCode()).isEqualTo(200);
    assertThat(json(drain).path("name").asText()).isEqualTo("pg2");
    assertThat(json(drain).path("admin_state").asText()).isEqualTo("DRAINING");
    assertThat(
            json(admin.post("/api/v1/clusters/main/backends/pg2/disable", ""))
                .path("admin_state")
                .asText())
        .isEqualTo("DISABLED");
    assertThat(
            json(admin.post("/api/v1/clusters/main/backends/pg2/enable", ""))
                .path("admin_state")
                .asText())
        .isEqualTo("ENABLED");
  }

  /**
   * A page open in the operator's browser can POST text/plain to 127.0.0.1 without a preflight; it
   * once drained a backend that way (issue 9.7). Such requests change nothing now.
   */
  @Test
  void a_text_plain_or_cross_origin_post_is_refused_and_drains_nothing() throws Exception {
    HttpResponse<String> plain =
        admin.send(
            admin
                .request("/api/v1/clusters/main/backends/pg2/drain")
                .header("Content-Type", "text/plain")
                .header("Origin", "http://evil.example")
                .POST(HttpRequest.BodyPublishers.ofString(""))
                .build());
    assertThat(plain.statusCode()).isEqualTo(415);
    HttpResponse<String> crossOrigin =
        admin.send(
            admin
                .request("/api/v1/clusters/main/backends/pg2/drain")
                .header("Content-Type", "application/json")
                .header("Origin", "http://evil.example")
                .POST(HttpRequest.BodyPublishers.ofString(""))
                .build());
    assertThat(crossOrigin.statusCode()).isEqualTo(403);
    HttpResponse<String> noType =
        admin.send(
            admin
                .request("/api/v1/clusters/main/backends/pg2/drain")
                .POST(HttpRequest.BodyPublishers.ofString(""))
                .build());
    assertThat(noType.statusCode()).isEqualTo(415);

    assertThat(admin.get("/api/v1/clusters/main").body()).doesNotContain("DRAINING");
    HttpResponse<String> sameOrigin =
        admin.send(
            admin
                .request("/api/v1/clusters/main/backends/pg2/drain")
                .header("Content-Type", "application/json; charset=utf-8")
                .header("Origin", admin.url())
                .POST(HttpRequest.BodyPublishers.ofString(""))
                .build());
    assertThat(sameOrigin.statusCode()).as(sameOrigin.body()).isEqualTo(200);
  }

  @Test
  void the_read_only_token_reads_status_and_metrics_but_changes_nothing() throws Exception {
    java.util.function.Function<String, HttpRequest.Builder> asReader =
        path ->
            HttpRequest.newBuilder(URI.create(admin.url() + path))
                .header("Authorization", "Bearer " + AdminFixture.READ_TOKEN);
    assertThat(admin.send(asReader.apply("/api/v1/clusters/main").GET().build()).statusCode())
        .isEqualTo(200);
    assertThat(admin.send(asReader.apply("/metrics").GET().build()).statusCode()).isEqualTo(200);

    HttpResponse<String> drain =
        admin.send(
            asReader
                .apply("/api/v1/clusters/main/backends/pg2/drain")
                .header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(""))
                .build());
    assertThat(drain.statusCode()).isEqualTo(403);
    assertThat(json(drain).path("error").asText()).contains("read-only token may only read");
    assertThat(admin.get("/api/v1/clusters/main").body()).doesNotContain("DRAINING");
  }

  @Test
  void reload_where_there_is_nothing_to_reload_is_409_with_the_reason() throws Exception {
    // When: this view was not started from a file (ReloadIT reloads a real one)
    HttpResponse<String> r = admin.post("/api/v1/reload", "");
    // Then
    assertThat(r.statusCode()).isEqualTo(409);
    assertThat(json(r).path("error").asText()).contains("cannot reload");
  }

  @Test
  void a_body_over_64_kib_is_413_and_the_connection_still_serves() throws Exception {
    // Given
    String big = "{\"target\":\"" + "x".repeat(AdminServer.MAX_BODY_BYTES) + "\"}";
    // When
    HttpResponse<String> r = admin.post("/api/v1/clusters/main/failover", big);
    // Then
    assertThat(r.statusCode()).isEqualTo(413);
    assertThat(json(r).path("error").asText()).contains("65536");
    assertThat(admin.get("/api/v1/clusters").statusCode()).isEqualTo(200);
  }

  @Test
  void a_slow_action_runs_off_the_event_loop_so_health_still_answers() throws Exception {
    // Given a failover that blocks until released (one worker event loop only)
    CountDownLatch release = new CountDownLatch(1);
    main.release = release;
    CompletableFuture<HttpResponse<String>> failover =
        admin.sendAsync(admin.postRequest("/api/v1/clusters/main/failover", "{}"));
    assertThat(main.actionStarted.await(5, TimeUnit.SECONDS)).isTrue();
    // When
    HttpResponse<String> health =
        admin.send(
            HttpRequest.newBuilder(URI.create(admin.url() + "/health"))
                .timeout(Duration.ofSeconds(2))
                .GET()
                .build());
    // Then
    assertThat(health.statusCode()).isEqualTo(200);
    assertThat(json(admin.get("/api/v1/clusters")).get(0).path("epoch").asLong()).isEqualTo(1);
    assertThat(failover).isNotDone();
    release.countDown();
    assertThat(failover.get(5, TimeUnit.SECONDS).statusCode()).isEqualTo(200);
  }

  @Test
  void a_full_action_queue_is_503_at_once() throws Exception {
    // Given one action thread and one queue slot, both taken
    try (AdminFixture small = new AdminFixture(AdminFixture.TOKEN, List.of(main), 1, 1)) {
      CountDownLatch release = new CountDownLatch(1);
      main.release = release;
      CompletableFuture<HttpResponse<String>> running =
          small.sendAsync(small.postRequest("/api/v1/clusters/main/backends/pg2/drain", ""));
      assertThat(main.actionStarted.await(5, TimeUnit.SECONDS)).isTrue();
      CompletableFuture<HttpResponse<String>> queued =
          small.sendAsync(small.postRequest("/api/v1/clusters/main/backends/pg3/drain", ""));
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
      while (small.server.actionsWaiting() < 1 && System.nanoTime() < deadline) {
        Thread.sleep(5);
      }
      // When
      HttpResponse<String> third = small.post("/api/v1/clusters/main/backends/pg1/drain", "");
      // Then
      assertThat(third.statusCode()).isEqualTo(503);
      assertThat(json(third).path("error").asText()).contains("queue is full");
      release.countDown();
      assertThat(running.get(5, TimeUnit.SECONDS).statusCode()).isEqualTo(200);
      assertThat(queued.get(5, TimeUnit.SECONDS).statusCode()).isEqualTo(200);
    }
  }

  @Test
  void start_fails_with_the_address_when_the_port_is_taken() throws Exception {
    // Given
    int port = admin.server.boundAddress().getPort();
    AdminServer second =
        new AdminServer(
            new AdminConfig(new HostPort("127.0.0.1", port), null),
            List.of(main),
            new FakeProxy(),
            Transports.nio(),
            admin.boss,
            admin.workers);
    try {
      // When / Then
      assertThatThrownBy(second::start)
          .isInstanceOf(IllegalStateException.class)
          .hasMessageContaining("127.0.0.1:" + port);
    } finally {
      second.close();
    }
  }
}

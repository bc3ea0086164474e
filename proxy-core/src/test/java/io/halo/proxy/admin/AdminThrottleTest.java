package io.halo.proxy.admin;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * GET and PUT /api/v1/clusters/{c}/throttle and the throttle families of /metrics, on the real
 * admin server.
 */
class AdminThrottleTest {

  private AdminFixture admin;

  @BeforeEach
  void start() throws Exception {
    admin = new AdminFixture(AdminFixture.TOKEN, List.of(new FakeCluster("main", "pg1", "pg2")));
  }

  @AfterEach
  void stop() {
    admin.close();
  }

  private HttpResponse<String> put(String path, String body) throws Exception {
    return admin.send(
        admin
            .request(path)
            .header("Content-Type", "application/json")
            .PUT(HttpRequest.BodyPublishers.ofString(body, StandardCharsets.UTF_8))
            .build());
  }

  @Test
  void get_shows_the_settings_and_each_backends_limiters() throws Exception {
    HttpResponse<String> r = admin.get("/api/v1/clusters/main/throttle");

    assertThat(r.statusCode()).isEqualTo(200);
    assertThat(r.body())
        .contains(
            "\"cluster\":\"main\"",
            "\"max_connections\":10",
            "\"max_transactions\":4",
            "\"max_queue\":5",
            "\"queue_timeout_millis\":1000",
            "\"limit\":\"fixed\"");
    assertThat(r.body())
        .contains(
            "{\"backend\":\"pg1\",\"unit\":\"sessions\",\"kind\":\"fixed\",\"limit\":10,\"maximum\":10,\"in_use\":1,"
                + "\"waiting\":0,\"max_queue\":5,\"admitted\":1,\"rejected_queue_full\":0,\"rejected_timed_out\":0}",
            "{\"backend\":\"pg1\",\"unit\":\"transactions\",\"kind\":\"fixed\",\"limit\":4,\"maximum\":4,\"in_use\":1,");
  }

  @Test
  void put_changes_the_limits_at_runtime_and_metrics_show_them() throws Exception {
    HttpResponse<String> r =
        put(
            "/api/v1/clusters/main/throttle",
            "{\"max_connections\": 3, \"max_transactions\": 2, \"max_queue\": 0}");

    assertThat(r.statusCode()).isEqualTo(200);
    assertThat(r.body())
        .contains("\"max_connections\":3", "\"max_transactions\":2", "\"max_queue\":0");
    String metrics = admin.get("/metrics").body();
    assertThat(metrics)
        .contains(
            "halo_throttle_limit{cluster=\"main\",backend=\"pg1\",unit=\"transactions\",limit=\"fixed\"} 2",
            "halo_throttle_limit{cluster=\"main\",backend=\"pg1\",unit=\"sessions\",limit=\"fixed\"} 3",
            "halo_throttle_in_use{cluster=\"main\",backend=\"pg1\",unit=\"transactions\",limit=\"fixed\"} 1",
            "halo_throttle_queue_limit{cluster=\"main\",backend=\"pg1\",unit=\"sessions\",limit=\"fixed\"} 0",
            "halo_throttle_rejected_total{cluster=\"main\",backend=\"pg1\",unit=\"transactions\",reason=\"queue_full\"} 0",
            "halo_user_sessions{user=\"app\"} 1",
            "halo_user_rejected_total{user=\"app\",reason=\"transaction_rate\"} 0");
    // POST does the same
    assertThat(admin.post("/api/v1/clusters/main/throttle", "{\"max_transactions\": 7}").body())
        .contains("\"max_transactions\":7", "\"max_connections\":3");
  }

  @Test
  void bad_requests_name_the_problem_and_change_nothing() throws Exception {
    HttpResponse<String> zero = put("/api/v1/clusters/main/throttle", "{\"max_connections\": 0}");
    assertThat(zero.statusCode()).isEqualTo(400);
    assertThat(zero.body()).contains("max_connections must be at least 1, was 0");

    HttpResponse<String> typo = put("/api/v1/clusters/main/throttle", "{\"max_transaction\": 3}");
    assertThat(typo.statusCode()).isEqualTo(400);
    assertThat(typo.body()).contains("unknown field 'max_transaction'");

    HttpResponse<String> text = put("/api/v1/clusters/main/throttle", "{\"max_queue\": \"ten\"}");
    assertThat(text.statusCode()).isEqualTo(400);
    assertThat(text.body()).contains("'max_queue' must be a whole number");

    assertThat(put("/api/v1/clusters/nope/throttle", "{\"max_queue\": 1}").statusCode())
        .isEqualTo(404);
    HttpResponse<String> delete =
        admin.send(admin.request("/api/v1/clusters/main/throttle").DELETE().build());
    assertThat(delete.statusCode()).isEqualTo(405);
    assertThat(delete.headers().firstValue("Allow")).hasValue("GET, PUT, POST");

    assertThat(admin.get("/api/v1/clusters/main/throttle").body())
        .contains("\"max_connections\":10");
  }
}

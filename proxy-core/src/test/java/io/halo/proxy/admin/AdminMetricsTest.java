package io.halo.proxy.admin;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.http.HttpResponse;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** GET /metrics is valid Prometheus text 0.0.4 with the families operators alert on. */
class AdminMetricsTest {

  private static final Pattern SAMPLE =
      Pattern.compile(
          "([a-zA-Z_:][a-zA-Z0-9_:]*)(\\{[a-zA-Z_][a-zA-Z0-9_]*=\"(?:[^\"\\\\\\n]|\\\\[\\\\\"n])*\""
              + "(?:,[a-zA-Z_][a-zA-Z0-9_]*=\"(?:[^\"\\\\\\n]|\\\\[\\\\\"n])*\")*\\})? "
              + "(-?[0-9]+(?:\\.[0-9]+)?(?:[eE][-+]?[0-9]+)?|NaN|[+-]Inf)");
  private static final Pattern HELP = Pattern.compile("# HELP ([a-zA-Z_:][a-zA-Z0-9_:]*) .+");
  private static final Pattern TYPE =
      Pattern.compile("# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (gauge|counter)");

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

  @Test
  void every_line_parses_and_every_sample_has_help_and_type_first() throws Exception {
    // Given a finished failover
    admin.post("/api/v1/clusters/main/failover", "{\"target\":\"pg2\"}");
    // When
    HttpResponse<String> r = admin.get("/metrics");
    // Then
    assertThat(r.statusCode()).isEqualTo(200);
    assertThat(r.headers().firstValue("Content-Type"))
        .hasValueSatisfying(v -> assertThat(v).startsWith("text/plain; version=0.0.4"));
    Set<String> helped = new HashSet<>();
    Set<String> typed = new HashSet<>();
    List<String> samples = new ArrayList<>();
    for (String line : r.body().split("\n")) {
      Matcher help = HELP.matcher(line);
      Matcher type = TYPE.matcher(line);
      Matcher sample = SAMPLE.matcher(line);
      if (help.matches()) {
        helped.add(help.group(1));
      } else if (type.matches()) {
        typed.add(type.group(1));
      } else {
        assertThat(sample.matches()).as("sample line: %s", line).isTrue();
        assertThat(helped).as("HELP before %s", line).contains(sample.group(1));
        assertThat(typed).as("TYPE before %s", line).contains(sample.group(1));
        samples.add(line);
      }
    }
    assertThat(typed)
        .contains(
            "halo_backend_up",
            "halo_backend_state",
            "halo_backend_role",
            "halo_backend_is_primary",
            "halo_backend_lag_bytes",
            "halo_backend_probe_latency_seconds",
            "halo_backend_split_brain",
            "halo_backend_sessions",
            "halo_cluster_epoch",
            "halo_failovers_total",
            "halo_last_failover_duration_seconds",
            "halo_listener_client_connections",
            "halo_listener_max_client_connections",
            "halo_rejected_connections_total",
            "halo_split_reads_total",
            "halo_split_read_your_writes_primary_total",
            "halo_split_sessions",
            "halo_split_pinned_sessions",
            "halo_split_pinned_total",
            "halo_split_idle_transaction_ended_total");
    assertThat(samples)
        .contains(
            "halo_backend_up{cluster=\"main\",backend=\"pg1\"} 1",
            "halo_backend_state{cluster=\"main\",backend=\"pg1\",state=\"UP\"} 1",
            "halo_backend_state{cluster=\"main\",backend=\"pg1\",state=\"DOWN\"} 0",
            "halo_backend_role{cluster=\"main\",backend=\"pg2\",role=\"STANDBY\"} 1",
            "halo_backend_is_primary{cluster=\"main\",backend=\"pg2\"} 1",
            "halo_backend_lag_bytes{cluster=\"main\",backend=\"pg2\"} 96",
            "halo_backend_probe_latency_seconds{cluster=\"main\",backend=\"pg1\"} 0.002",
            "halo_backend_sessions{cluster=\"main\",backend=\"pg1\"} 12",
            "halo_cluster_epoch{cluster=\"main\"} 2",
            "halo_failovers_total{cluster=\"main\",kind=\"MANUAL\",outcome=\"SUCCEEDED\"} 1",
            "halo_failovers_total{cluster=\"main\",kind=\"AUTOMATIC\",outcome=\"FAILED\"} 0",
            "halo_last_failover_duration_seconds{cluster=\"main\"} 1.234",
            "halo_listener_max_client_connections{listener=\"main-rw\",cluster=\"main\",address=\"0.0.0.0:6432\"} 1000",
            "halo_rejected_connections_total{reason=\"auth_failed\"} 5",
            "halo_split_reads_total{listener=\"main-split\",cluster=\"main\",target=\"replica\"} 70",
            "halo_split_reads_total{listener=\"main-split\",cluster=\"main\",target=\"primary\"} 30",
            "halo_split_read_your_writes_primary_total{listener=\"main-split\",cluster=\"main\"} 4",
            "halo_split_pinned_sessions{listener=\"main-split\",cluster=\"main\"} 1",
            "halo_split_idle_transaction_ended_total{listener=\"main-split\",cluster=\"main\"} 3");
  }

  @Test
  void label_values_escape_quotes_backslashes_and_newlines() throws Exception {
    // When: FakeProxy has a listener named main "ro"
    String body = admin.get("/metrics").body();
    // Then
    assertThat(body)
        .contains(
            "halo_listener_client_connections{listener=\"main \\\"ro\\\"\",cluster=\"main\",address=\"0.0.0.0:6433\"} 3");
    assertThat(PrometheusText.escapeLabel("a\\b\nc\"d")).isEqualTo("a\\\\b\\nc\\\"d");
  }

  @Test
  void mysql_lag_is_counted_in_transactions_under_its_own_metric() throws Exception {
    main.engine = "mysql";
    String body = admin.get("/metrics").body();
    assertThat(body)
        .contains("halo_backend_lag_transactions{cluster=\"main\",backend=\"pg2\"} 96")
        .doesNotContain("halo_backend_lag_bytes{");
  }

  @Test
  void unknown_lag_and_latency_are_left_out_rather_than_zero() throws Exception {
    // Given every probe failing
    main.primaryDown();
    // When
    String body = admin.get("/metrics").body();
    // Then
    assertThat(body)
        .doesNotContain("halo_backend_lag_bytes{")
        .doesNotContain("halo_backend_probe_latency_seconds{");
    assertThat(body).contains("halo_backend_up{cluster=\"main\",backend=\"pg1\"} 0");
  }
}

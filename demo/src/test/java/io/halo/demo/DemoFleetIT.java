package io.halo.demo;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/**
 * {@code halo demo --instances 3} as a user tries it: one ZooKeeper in the JVM, three Halo
 * instances in front of the demo's PostgreSQL cluster; each instance takes writes for the one
 * primary, the fleet has one leader and every instance shows the fleet, an action asked of a
 * follower is carried out by the leader, and stopping the leader hands the lead to another.
 */
class DemoFleetIT {

  /**
   * Base ports whose fleet ports (each + 10 x i, admin + i) are all free now, reserved so that the
   * ports the test kit hands out later (the database servers', ZooKeeper's) are none of them.
   */
  private static DemoCommand onFreePorts(int instances) throws Exception {
    for (int attempt = 0; attempt < 50; attempt++) {
      int base =
          ThreadLocalRandom.current()
              .nextInt(20_000, 32_000); // below Linux's default ephemeral range
      DemoCommand d = DemoCommand.onPorts(base, base + 1, base + 2, base + 5);
      boolean free = true;
      for (int p : FleetDemo.ports(d, instances)) {
        free = free && io.halo.testkit.Ports.reserve(p);
      }
      if (free) {
        return d;
      }
    }
    throw new IllegalStateException("no free ports found for the demo");
  }

  private static JsonNode get(HttpClient http, int adminPort, String path) throws Exception {
    HttpResponse<String> r =
        http.send(
            HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + adminPort + path)).build(),
            HttpResponse.BodyHandlers.ofString());
    return new ObjectMapper().readTree(r.body());
  }

  /**
   * Writes one row through each instance ({@code url}: a JDBC URL with the port as %d) and checks
   * that it landed on the primary ({@code port}: the SQL expression of the server's port); returns
   * the rows written.
   */
  private static long writeThroughEach(FleetDemo.Running demo, String url, String port)
      throws Exception {
    long id = 0;
    for (FleetDemo.Instance i : demo.instances()) {
      try (Connection c = DriverManager.getConnection(String.format(url, i.port()), "app", "app")) {
        c.createStatement().execute("create table if not exists fleet_demo(id int)");
        c.createStatement().execute("insert into fleet_demo values (" + ++id + ")");
        try (ResultSet rs = c.createStatement().executeQuery("select " + port)) {
          rs.next();
          assertThat(rs.getInt(1)).as(i.name()).isEqualTo(demo.cluster().primaryPort());
        }
      }
    }
    return id;
  }

  /**
   * Waits until a follower's API shows every instance and the leader (it learns them from two
   * ZooKeeper watches, which need not fire together); returns that follower.
   */
  private static FleetDemo.Instance awaitFleet(
      HttpClient http, FleetDemo.Running demo, FleetDemo.Instance leader) {
    FleetDemo.Instance follower =
        demo.instances().stream().filter(i -> !i.equals(leader)).findFirst().orElseThrow();
    await()
        .atMost(Duration.ofSeconds(10))
        .until(
            () -> {
              JsonNode fleet =
                  get(http, follower.adminPort(), "/api/v1/clusters/demo").path("fleet");
              return fleet.path("instances").size() == demo.instances().size()
                  && fleet.path("leader").asText("").startsWith(leader.name() + "@");
            });
    return follower;
  }

  @Test
  void three_instances_share_the_cluster_through_zookeeper_and_the_lead_moves_when_one_stops()
      throws Exception {
    DemoCommand d = onFreePorts(3);
    try (FleetDemo.Running demo = FleetDemo.start(d, 3)) {
      // One leader; the instructions name every instance, the leader and how to stop it
      FleetDemo.Instance leader = FleetDemo.awaitLeader(demo, 20_000);
      assertThat(leader).isNotNull();
      String how = FleetDemo.howToReach(demo, leader);
      for (FleetDemo.Instance i : demo.instances()) {
        assertThat(how).contains(i.name()).contains("http://127.0.0.1:" + i.adminPort());
      }
      assertThat(how)
          .contains(leader.name() + " ")
          .contains("<- leader")
          .contains("type \"stop " + demo.instances().indexOf(leader) + "\" and Enter")
          .contains("kill -9 " + demo.cluster().primaryPid());
      // Every instance takes writes, on the one primary
      long id = writeThroughEach(demo, "jdbc:postgresql://127.0.0.1:%d/app", "inet_server_port()");
      // Every instance shows the fleet: three members, the leader
      HttpClient http = HttpClient.newHttpClient();
      FleetDemo.Instance follower = awaitFleet(http, demo, leader);
      JsonNode fleet = get(http, follower.adminPort(), "/api/v1/clusters/demo").path("fleet");
      assertThat(fleet.path("leader").asText()).startsWith(leader.name() + "@");
      // A switchover asked of a follower is carried out by the leader
      HttpResponse<String> switched =
          http.send(
              HttpRequest.newBuilder(
                      URI.create(
                          "http://127.0.0.1:"
                              + follower.adminPort()
                              + "/api/v1/clusters/demo/switchover"))
                  .POST(HttpRequest.BodyPublishers.ofString("{}"))
                  .header("Content-Type", "application/json")
                  .build(),
              HttpResponse.BodyHandlers.ofString());
      assertThat(switched.statusCode()).as(switched.body()).isEqualTo(200);
      assertThat(new ObjectMapper().readTree(switched.body()).path("acted_by").asText())
          .isEqualTo(leader.name());
      // When the leader instance stops, another one leads and writes go on through it
      leader.server().close();
      List<FleetDemo.Instance> left =
          demo.instances().stream().filter(i -> !i.equals(leader)).toList();
      await()
          .atMost(Duration.ofSeconds(20))
          .until(
              () ->
                  left.stream().filter(i -> i.server().clusters().get(0).fleet().leads()).count()
                      == 1);
      for (FleetDemo.Instance i : left) {
        try (Connection c =
            DriverManager.getConnection(
                "jdbc:postgresql://127.0.0.1:" + i.port() + "/app", "app", "app")) {
          c.createStatement().execute("insert into fleet_demo values (" + ++id + ")");
          try (ResultSet rs = c.createStatement().executeQuery("select count(*) from fleet_demo")) {
            rs.next();
            assertThat(rs.getLong(1)).isEqualTo(id);
          }
        }
      }
    } finally {
      d.deleteCertificates();
    }
  }

  @Test
  void instances_run_within_bounds() {
    CommandLine cli = new CommandLine(new DemoCommand());
    assertThat(cli.execute("--instances", "0")).isEqualTo(2);
    assertThat(cli.execute("--instances", "10", "--engine", "mysql")).isEqualTo(2);
  }

  @Test
  void on_mariadb_every_instance_takes_writes_for_the_one_primary() throws Exception {
    DemoCommand d = onFreePorts(2);
    d.engine = "mysql";
    d.standbys = 1;
    try (FleetDemo.Running demo = FleetDemo.start(d, 2)) {
      FleetDemo.Instance leader = FleetDemo.awaitLeader(demo, 20_000);
      assertThat(leader).isNotNull();
      String how = FleetDemo.howToReach(demo, leader);
      assertThat(how)
          .contains("MariaDB")
          .contains("jdbc:mysql://127.0.0.1:" + demo.instances().get(0).port())
          .contains("kill -9 " + demo.cluster().primaryPid());
      assertThat(writeThroughEach(demo, "jdbc:mysql://127.0.0.1:%d/app?sslMode=DISABLED", "@@port"))
          .isEqualTo(2);
      awaitFleet(HttpClient.newHttpClient(), demo, leader);
    } finally {
      d.deleteCertificates();
    }
  }
}

package io.halo.proxy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.halo.conf.load.ConfigLoader;
import io.halo.testkit.KeepLogsOnFailure;
import io.halo.testkit.MariaDbCluster;
import io.halo.testkit.PgCluster;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * Config reload, as an operator does it: edit the YAML, then {@code POST /api/v1/reload}, {@code
 * halo reload} or {@code kill -HUP}. Real servers of both engines, real drivers (pgjdbc,
 * Connector/J). Users added, changed and removed take effect for the next login through both
 * engines' listeners while open sessions keep working; throttle limits and admin tokens change;
 * what needs a restart is reported and left as it runs; a file that does not load changes nothing.
 */
class ReloadIT {

  @RegisterExtension static final KeepLogsOnFailure LOGS = new KeepLogsOnFailure();

  private static final ObjectMapper JSON = new ObjectMapper();
  private static final HttpClient HTTP =
      HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

  static PgCluster pg;
  static MariaDbCluster my;

  @TempDir Path dir;
  Path file;
  HaloServer halo;
  int pgPort;
  int myPort;
  int adminPort;
  final List<Connection> open = new ArrayList<>();

  @BeforeAll
  static void startServers() throws Exception {
    pg =
        LOGS.watch(PgCluster.builder().name("reload").user("app", "apppw").database("app").start());
    my = MariaDbCluster.builder().name("reload").user("app", "apppw").database("app").start();
    try (Connection c = pg.primary().connectAsSuperuser();
        Statement s = c.createStatement()) {
      s.execute("CREATE ROLE bob LOGIN PASSWORD 'bobpw'");
      s.execute("GRANT ALL ON DATABASE app TO bob");
    }
    try (Connection c = my.primary().connectAsRoot();
        Statement s = c.createStatement()) {
      s.execute("CREATE USER 'bob'@'%' IDENTIFIED BY 'bobpw'");
      s.execute("GRANT ALL ON app.* TO 'bob'@'%'");
    }
  }

  @AfterAll
  static void stopServers() {
    HaloFixture.stop(null, pg);
    if (my != null) {
      my.close();
    }
  }

  @AfterEach
  void stopHalo() {
    for (Connection c : open) {
      try {
        c.close();
      } catch (SQLException e) {
        // the session may be gone already
      }
    }
    if (halo != null) {
      halo.close();
    }
  }

  /**
   * The config: user {@code app} (and whatever {@code moreUsers} adds), a PostgreSQL cluster and a
   * MariaDB cluster, each with one listener and a throttle of {@code maxConnections}.
   */
  private String yaml(String appPassword, String moreUsers, int maxConnections, String token) {
    return """
        admin: { listen: 127.0.0.1:%d%s }
        users:
          - { name: app, password: %s, auth: md5, backend_password: apppw }
        %s
        clusters:
          - name: pg
            listeners:
              - { listen: 127.0.0.1:%d }
            backends:
              - { name: pg1, address: 127.0.0.1:%d, role: primary }
            monitor: { user: %s, password: %s, interval: 200ms }
            throttle: { max_connections: %d }
          - name: my
            engine: mysql
            listeners:
              - { listen: 127.0.0.1:%d }
            backends:
              - { name: db1, address: 127.0.0.1:%d, role: primary }
            monitor: { user: %s, interval: 200ms }
            throttle: { max_connections: %d }
        """
        .formatted(
            adminPort,
            token == null ? "" : ", token: " + token,
            appPassword,
            moreUsers,
            pgPort,
            pg.primary().port(),
            pg.superuser(),
            pg.superuserPassword(),
            maxConnections,
            myPort,
            my.primary().port(),
            my.rootUser(),
            maxConnections);
  }

  private void start(String yaml) throws Exception {
    file = dir.resolve("halo.yaml");
    Files.writeString(file, yaml);
    halo = HaloServer.start(ConfigLoader.load(file));
  }

  private void startBase() throws Exception {
    adminPort = freePort();
    pgPort = freePort();
    myPort = freePort();
    start(yaml("apppw", "", 100, null));
  }

  private void rewrite(String yaml) throws IOException {
    Files.writeString(file, yaml);
  }

  private Connection pgConnect(String user, String password) throws SQLException {
    Connection c =
        DriverManager.getConnection(
            "jdbc:postgresql://127.0.0.1:" + pgPort + "/app?sslmode=disable&connectTimeout=10",
            user,
            password);
    open.add(c);
    return c;
  }

  private Connection myConnect(String user, String password) throws SQLException {
    Properties p = new Properties();
    p.setProperty("user", user);
    p.setProperty("password", password);
    p.setProperty("sslMode", "DISABLED");
    p.setProperty("connectTimeout", "10000");
    Connection c = DriverManager.getConnection("jdbc:mysql://127.0.0.1:" + myPort + "/app", p);
    open.add(c);
    return c;
  }

  /** Both listeners refuse the login as a wrong password (PostgreSQL 28xxx, MySQL 1045). */
  private void assertLoginRefused(String user, String password) {
    assertThatThrownBy(() -> pgConnect(user, password))
        .isInstanceOfSatisfying(
            SQLException.class, e -> assertThat(e.getSQLState()).startsWith("28"));
    assertThatThrownBy(() -> myConnect(user, password))
        .isInstanceOfSatisfying(
            SQLException.class, e -> assertThat(e.getErrorCode()).isEqualTo(1045));
  }

  private static String one(Connection c, String sql) throws SQLException {
    try (Statement s = c.createStatement();
        ResultSet r = s.executeQuery(sql)) {
      r.next();
      return r.getString(1);
    }
  }

  private HttpResponse<String> admin(String method, String path, String token)
      throws IOException, InterruptedException {
    return admin(method, path, token, null);
  }

  private HttpResponse<String> admin(String method, String path, String token, String body)
      throws IOException, InterruptedException {
    HttpRequest.Builder b =
        HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + adminPort + path))
            .timeout(Duration.ofSeconds(30))
            .header("Content-Type", "application/json")
            .method(
                method,
                body == null
                    ? HttpRequest.BodyPublishers.noBody()
                    : HttpRequest.BodyPublishers.ofString(body));
    if (token != null) {
      b.header("Authorization", "Bearer " + token);
    }
    return HTTP.send(b.build(), HttpResponse.BodyHandlers.ofString());
  }

  private JsonNode reload() throws Exception {
    HttpResponse<String> r = admin("POST", "/api/v1/reload", null);
    assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
    return JSON.readTree(r.body());
  }

  private static List<String> texts(JsonNode array) {
    List<String> out = new ArrayList<>();
    array.forEach(n -> out.add(n.asText()));
    return out;
  }

  @Test
  void users_added_changed_and_removed_apply_to_the_next_login_and_open_sessions_go_on()
      throws Exception {
    startBase();
    // Given: bob exists on both servers but not in Halo's config; app has a session on each
    assertLoginRefused("bob", "bobpw");
    Connection pgApp = pgConnect("app", "apppw");
    Connection myApp = myConnect("app", "apppw");

    // When: bob is added, app's password changes (its backend password stays), a limit changes
    rewrite(yaml("apppw2", "  - { name: bob, password: bobpw, auth: md5 }", 40, null));
    JsonNode r = reload();

    // Then
    assertThat(texts(r.path("applied")))
        .contains(
            "users[app].password changed",
            "users[bob] added",
            "clusters[pg].throttle.max_connections changed",
            "clusters[my].throttle.max_connections changed");
    assertThat(texts(r.path("pending_restart"))).isEmpty();
    assertThat(r.toString()).doesNotContain("bobpw", "apppw2");
    Connection pgBob = pgConnect("bob", "bobpw");
    Connection myBob = myConnect("bob", "bobpw");
    assertThat(one(pgBob, "select current_user")).isEqualTo("bob");
    assertThat(one(myBob, "select current_user()")).isEqualTo("bob@%");
    assertThat(one(pgConnect("app", "apppw2"), "select 6 * 7")).isEqualTo("42");
    assertThat(one(myConnect("app", "apppw2"), "select 6 * 7")).isEqualTo("42");
    assertLoginRefused("app", "apppw");
    // the sessions opened before the reload were not touched
    assertThat(one(pgApp, "select current_user")).isEqualTo("app");
    assertThat(one(myApp, "select current_user()")).isEqualTo("app@%");
    JsonNode throttle = JSON.readTree(admin("GET", "/api/v1/clusters/pg/throttle", null).body());
    assertThat(throttle.path("max_connections").asInt()).isEqualTo(40);
    assertThat(halo.config().user("bob")).isPresent();

    // When: bob is removed again
    rewrite(yaml("apppw2", "", 40, null));
    r = reload();

    // Then: his open session goes on, a new login is refused
    assertThat(texts(r.path("applied"))).containsExactly("users[bob] removed");
    assertThat(one(pgBob, "select current_user")).isEqualTo("bob");
    assertThat(one(myBob, "select current_user()")).isEqualTo("bob@%");
    assertLoginRefused("bob", "bobpw");
  }

  @Test
  void what_needs_a_restart_is_reported_and_keeps_running_as_it_started() throws Exception {
    startBase();
    int newPort = freePort();
    String moved =
        yaml("apppw", "", 100, null).replace("127.0.0.1:" + pgPort, "127.0.0.1:" + newPort);
    String pgMonitor = "password: " + pg.superuserPassword() + ", interval: ";
    rewrite(moved.replace(pgMonitor + "200ms", pgMonitor + "300ms"));

    JsonNode r = reload();

    assertThat(texts(r.path("applied"))).isEmpty();
    assertThat(texts(r.path("pending_restart")))
        .contains(
            "clusters[pg].listeners[127.0.0.1:" + pgPort + "] removed",
            "clusters[pg].listeners[127.0.0.1:" + newPort + "] added",
            "clusters[pg].monitor.interval changed");
    // still listening where it started, and nothing listens on the new address
    assertThat(one(pgConnect("app", "apppw"), "select 1")).isEqualTo("1");
    assertThatThrownBy(
            () ->
                DriverManager.getConnection(
                    "jdbc:postgresql://127.0.0.1:" + newPort + "/app?connectTimeout=2",
                    "app",
                    "apppw"))
        .isInstanceOf(SQLException.class);
    // and the next reload still says so: the running config did not take those keys
    assertThat(texts(reload().path("pending_restart"))).hasSize(3);
  }

  /** Backend connections of user app that PostgreSQL holds now (Halo's pool, here). */
  private static int appBackends() throws SQLException {
    try (Connection c = pg.primary().connectAsSuperuser()) {
      return Integer.parseInt(
          one(
              c,
              "select count(*) from pg_stat_activity where usename = 'app'"
                  + " and backend_type = 'client backend'"));
    }
  }

  /**
   * PgBouncer's RELOAD of {@code default_pool_size}: a transaction pool grows at once (a
   * transaction waiting for the full pool gets a connection) and shrinks as connections come back;
   * its mode waits for a restart.
   */
  @Test
  void a_transaction_pool_grows_and_shrinks_at_reload() throws Exception {
    adminPort = freePort();
    pgPort = freePort();
    myPort = freePort();
    String pooled =
        "server: { io_threads: 1 }\n"
            + yaml("apppw", "", 100, null)
                .replace(
                    "- { listen: 127.0.0.1:" + pgPort + " }",
                    "- { listen: 127.0.0.1:"
                        + pgPort
                        + ", pool_mode: transaction, pool: { size: SIZE, wait_timeout: 60s } }");
    start(pooled.replace("SIZE", "1"));
    // Given a pool of one connection, held by a's open transaction, and b's statement waiting
    Connection a = pgConnect("app", "apppw");
    a.setAutoCommit(false);
    assertThat(one(a, "select 'a'")).isEqualTo("a");
    // (b's login already runs pgjdbc's setup statements: it waits for the pool)
    Connection[] b = new Connection[1];
    java.util.concurrent.CompletableFuture<String> waiting =
        java.util.concurrent.CompletableFuture.supplyAsync(
            () -> {
              try {
                b[0] = pgConnect("app", "apppw");
                return one(b[0], "select 'b'");
              } catch (SQLException e) {
                throw new java.util.concurrent.CompletionException(e);
              }
            });
    Thread.sleep(500);
    assertThat(waiting).as("b waits for the full pool").isNotDone();
    assertThat(appBackends()).isEqualTo(1);
    // When the file says size 2 and Halo reloads
    rewrite(pooled.replace("SIZE", "2"));
    JsonNode r = reload();
    // Then b runs at once on a second connection while a's transaction goes on
    assertThat(texts(r.path("applied")))
        .containsExactly("clusters[pg].listeners[127.0.0.1:" + pgPort + "].pool.size changed");
    assertThat(waiting.get(10, TimeUnit.SECONDS)).isEqualTo("b");
    assertThat(appBackends()).isEqualTo(2);
    // When it says size 1 again while both connections are busy (b in a transaction too)
    b[0].setAutoCommit(false);
    assertThat(one(b[0], "select 'b'")).isEqualTo("b");
    rewrite(pooled.replace("SIZE", "1"));
    reload();
    // Then nothing busy is cut; the first connection to come back beyond the size closes, the
    // other stays, and the two sessions share it from then on
    assertThat(one(a, "select 'a, still'")).isEqualTo("a, still");
    assertThat(appBackends()).isEqualTo(2);
    a.commit();
    await().atMost(Duration.ofSeconds(10)).until(() -> appBackends() == 1);
    b[0].commit();
    for (int i = 0; i < 5; i++) {
      assertThat(one(a, "select 'a'")).isEqualTo("a");
      a.commit();
      assertThat(one(b[0], "select 'b'")).isEqualTo("b");
      b[0].commit();
    }
    assertThat(appBackends()).isEqualTo(1);
    // And the pool mode itself waits for a restart
    rewrite(pooled.replace("SIZE", "1").replace("pool_mode: transaction", "pool_mode: session"));
    assertThat(texts(reload().path("pending_restart")))
        .anyMatch(k -> k.startsWith("clusters[pg].listeners[127.0.0.1:" + pgPort + "]"))
        .anyMatch(k -> k.contains("mode"));
  }

  /**
   * Credential rotation: a monitor login that does not work is refused with the server's reason and
   * nothing changes; one that works is taken. Then the old login is disabled and its sessions
   * ended: had the probes kept it, the primary would be DOWN within a second (3 failures at 200
   * ms); it stays UP.
   */
  @Test
  void new_monitor_credentials_are_checked_then_taken() throws Exception {
    try (Connection c = pg.primary().connectAsSuperuser();
        Statement s = c.createStatement()) {
      for (String role : List.of("mon_a", "mon_b")) {
        s.execute("DROP ROLE IF EXISTS " + role);
        s.execute("CREATE ROLE " + role + " LOGIN SUPERUSER PASSWORD '" + role + "pw'");
      }
    }
    adminPort = freePort();
    pgPort = freePort();
    myPort = freePort();
    String login = "user: " + pg.superuser() + ", password: " + pg.superuserPassword() + ",";
    String base = yaml("apppw", "", 100, null);
    assertThat(base).contains(login);
    String asA = base.replace(login, "user: mon_a, password: mon_apw,");
    start(asA);
    await().atMost(Duration.ofSeconds(10)).until(() -> "UP".equals(primaryState()));

    rewrite(base.replace(login, "user: mon_b, password: wrong,"));
    HttpResponse<String> refused = admin("POST", "/api/v1/reload", null);
    assertThat(refused.statusCode()).isEqualTo(400);
    assertThat(JSON.readTree(refused.body()).path("error").asText())
        .contains("monitor credentials do not log in to pg1", "nothing changed");

    rewrite(base.replace(login, "user: mon_b, password: mon_bpw,"));
    assertThat(texts(reload().path("applied")))
        .containsExactly(
            "clusters[pg].monitor.user changed", "clusters[pg].monitor.password changed");
    try (Connection c = pg.primary().connectAsSuperuser();
        Statement s = c.createStatement()) {
      s.execute("ALTER ROLE mon_a NOLOGIN");
      s.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = 'mon_a'");
    }
    await()
        .during(Duration.ofSeconds(3))
        .atMost(Duration.ofSeconds(6))
        .until(() -> "UP".equals(primaryState()));
  }

  /** The state of pg1 as the admin API shows it. */
  private String primaryState() throws Exception {
    return JSON.readTree(admin("GET", "/api/v1/clusters/pg", null).body())
        .path("backends")
        .get(0)
        .path("state")
        .asText();
  }

  @Test
  void a_dry_run_reports_and_changes_nothing() throws Exception {
    startBase();
    rewrite(yaml("apppw", "  - { name: bob, password: bobpw, auth: md5 }", 100, null));

    HttpResponse<String> r = admin("POST", "/api/v1/reload", null, "{\"dry_run\": true}");

    assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
    JsonNode body = JSON.readTree(r.body());
    assertThat(body.path("dry_run").asBoolean()).isTrue();
    assertThat(texts(body.path("applied"))).containsExactly("users[bob] added");
    assertThatThrownBy(() -> pgConnect("bob", "bobpw")).isInstanceOf(SQLException.class);
    assertThat(halo.config().user("bob")).isEmpty();
    // the real one then applies it
    assertThat(reload().path("dry_run").asBoolean()).isFalse();
    assertThat(one(pgConnect("bob", "bobpw"), "select current_user")).isEqualTo("bob");
    // and a body that is not a dry run flag is refused
    assertThat(admin("POST", "/api/v1/reload", null, "{\"dry\": true}").statusCode())
        .isEqualTo(400);
  }

  @Test
  void a_file_that_does_not_load_changes_nothing_and_says_where() throws Exception {
    startBase();
    rewrite(
        yaml("apppw", "  - { name: bob, password: bobpw, auth: md5 }", 100, null)
            .replace("throttle: { max_connections: 100 }", "throttle: { max_conections: 100 }"));

    HttpResponse<String> r = admin("POST", "/api/v1/reload", null);

    assertThat(r.statusCode()).isEqualTo(400);
    JsonNode body = JSON.readTree(r.body());
    assertThat(body.path("error").asText()).contains("nothing changed");
    assertThat(texts(body.path("problems")))
        .anySatisfy(p -> assertThat(p).contains("halo.yaml:").contains("max_conections"));
    // bob was in the same broken file: not added
    assertThatThrownBy(() -> pgConnect("bob", "bobpw")).isInstanceOf(SQLException.class);
    assertThat(one(pgConnect("app", "apppw"), "select 1")).isEqualTo("1");
  }

  @Test
  void a_new_admin_token_applies_to_the_next_request() throws Exception {
    startBase();
    assertThat(admin("GET", "/api/v1/clusters", null).statusCode()).isEqualTo(200);
    rewrite(yaml("apppw", "", 100, "s3cret-token"));

    assertThat(texts(reload().path("applied"))).containsExactly("admin.token added");

    assertThat(admin("GET", "/api/v1/clusters", null).statusCode()).isEqualTo(401);
    assertThat(admin("GET", "/api/v1/clusters", "s3cret-token").statusCode()).isEqualTo(200);
    // and reloading again needs the token too
    assertThat(admin("POST", "/api/v1/reload", null).statusCode()).isEqualTo(401);
    assertThat(admin("POST", "/api/v1/reload", "s3cret-token").statusCode()).isEqualTo(200);
  }

  @Test
  void failover_mode_switches_between_automatic_and_manual_and_observe_waits_for_a_restart()
      throws Exception {
    startBase();
    String base = yaml("apppw", "", 100, null);
    String anchor = "interval: 200ms }\n    throttle";
    assertThat(base).contains(anchor);
    JsonNode before = JSON.readTree(admin("GET", "/api/v1/clusters/pg", null).body());
    assertThat(before.path("failover_mode").asText()).isEqualTo("automatic");

    rewrite(
        base.replaceFirst(
            java.util.regex.Pattern.quote(anchor),
            "interval: 200ms }\n    failover: { mode: manual }\n    throttle"));
    assertThat(texts(reload().path("applied")))
        .containsExactly("clusters[pg].failover.mode changed");
    JsonNode manual = JSON.readTree(admin("GET", "/api/v1/clusters/pg", null).body());
    assertThat(manual.path("failover_mode").asText()).isEqualTo("manual");
    assertThat(
            JSON.readTree(admin("GET", "/api/v1/clusters/my", null).body())
                .path("failover_mode")
                .asText())
        .isEqualTo("automatic");

    rewrite(
        base.replaceFirst(
            java.util.regex.Pattern.quote(anchor),
            "interval: 200ms }\n    failover: { mode: observe }\n    throttle"));
    JsonNode r = reload();
    assertThat(texts(r.path("applied"))).isEmpty();
    assertThat(texts(r.path("pending_restart")))
        .containsExactly("clusters[pg].failover.mode changed");
    assertThat(
            JSON.readTree(admin("GET", "/api/v1/clusters/pg", null).body())
                .path("failover_mode")
                .asText())
        .isEqualTo("manual");
  }

  /** The operator's way: a Halo process, its file edited, then {@code kill -HUP} and the CLI. */
  @Test
  void sighup_and_halo_reload_reload_a_running_process() throws Exception {
    adminPort = freePort();
    pgPort = freePort();
    myPort = freePort();
    file = dir.resolve("halo.yaml");
    Files.writeString(file, yaml("apppw", "", 100, null));
    Path log = dir.resolve("halo.log");
    String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    Process p =
        new ProcessBuilder(
                java,
                "-Xmx192m",
                "-XX:+UseSerialGC",
                "-XX:TieredStopAtLevel=1",
                "-jar",
                Tools.runtimeJar().toString(),
                "start",
                "--config",
                file.toString())
            .redirectErrorStream(true)
            .redirectOutput(log.toFile())
            .start();
    try {
      await()
          .atMost(Duration.ofSeconds(60))
          .ignoreExceptions()
          .until(() -> admin("GET", "/health", null).statusCode() == 200);
      assertThatThrownBy(() -> pgConnect("bob", "bobpw")).isInstanceOf(SQLException.class);

      Files.writeString(
          file, yaml("apppw", "  - { name: bob, password: bobpw, auth: md5 }", 100, null));
      Process kill = new ProcessBuilder("kill", "-HUP", String.valueOf(p.pid())).start();
      assertThat(kill.waitFor(10, TimeUnit.SECONDS)).isTrue();
      assertThat(kill.exitValue()).isZero();

      await()
          .atMost(Duration.ofSeconds(30))
          .ignoreExceptions()
          .untilAsserted(
              () ->
                  assertThat(one(pgConnect("bob", "bobpw"), "select current_user"))
                      .isEqualTo("bob"));
      assertThat(p.isAlive()).isTrue();
      await()
          .atMost(Duration.ofSeconds(10))
          .untilAsserted(
              () ->
                  assertThat(Files.readString(log, StandardCharsets.UTF_8))
                      .contains(
                          "SIGHUP: reloading the config", "reload: applied users[bob] added"));

      // halo reload: the same through the admin API, with the answer on the terminal
      Files.writeString(file, yaml("apppw", "", 100, null));
      String dry = cli(java, "reload", "--dry-run", "--config", file.toString());
      assertThat(dry).contains("dry run, nothing changed", "would apply:", "users[bob] removed");
      assertThat(one(pgConnect("bob", "bobpw"), "select current_user")).isEqualTo("bob");
      String out = cli(java, "reload", "--config", file.toString());
      assertThat(out).contains("applied:", "users[bob] removed");
      assertThatThrownBy(() -> pgConnect("bob", "bobpw")).isInstanceOf(SQLException.class);
    } finally {
      p.destroy();
      if (!p.waitFor(20, TimeUnit.SECONDS)) {
        p.destroyForcibly();
      }
    }
  }

  /** Runs Halo's CLI from the runtime jar; returns its output after asserting exit 0. */
  private static String cli(String java, String... args) throws Exception {
    List<String> cmd =
        new ArrayList<>(
            List.of(java, "-XX:TieredStopAtLevel=1", "-jar", Tools.runtimeJar().toString()));
    cmd.addAll(List.of(args));
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
    assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertThat(p.exitValue()).as(out).isZero();
    return out;
  }

  private static int freePort() throws IOException {
    return io.halo.testkit.Ports.free();
  }
}

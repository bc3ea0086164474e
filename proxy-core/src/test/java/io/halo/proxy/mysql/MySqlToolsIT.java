package io.halo.proxy.mysql;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.halo.conf.model.AuthMethod;
import io.halo.conf.model.Route;
import io.halo.conf.model.UserConfig;
import io.halo.proxy.HaloServer;
import io.halo.testkit.MariaDbCluster;
import java.io.File;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The mariadb command-line client and sysbench through Halo (skipped where not installed). */
class MySqlToolsIT {

  static MariaDbCluster cluster;
  static HaloServer halo;

  @BeforeAll
  static void start() throws Exception {
    cluster = MariaDbCluster.builder().name("mytools").user("app", "apppw").database("app").start();
    halo =
        MySqlHalo.start(
            cluster,
            MySqlHalo.THROTTLE,
            List.of(
                new UserConfig("app", "apppw", AuthMethod.SCRAM_SHA_256, "app", "apppw"),
                new UserConfig("legacy", "legacypw", AuthMethod.MD5, "app", "apppw"),
                new UserConfig("local", null, AuthMethod.TRUST, "app", "apppw")),
            Route.PRIMARY);
  }

  @AfterAll
  static void stop() {
    if (halo != null) {
      halo.close();
    }
    if (cluster != null) {
      cluster.close();
    }
  }

  record Run(int exit, String out) {}

  static boolean onPath(String tool) {
    for (String dir : System.getenv().getOrDefault("PATH", "").split(File.pathSeparator)) {
      if (new File(dir, tool).canExecute()) {
        return true;
      }
    }
    return false;
  }

  static Run run(String... command) throws Exception {
    Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
    p.getOutputStream().close();
    boolean done = p.waitFor(180, TimeUnit.SECONDS);
    if (!done) {
      p.destroyForcibly();
    }
    return new Run(
        done ? p.exitValue() : -1,
        new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8));
  }

  private static String port() {
    return String.valueOf(halo.boundAddresses().get(0).getPort());
  }

  @Test
  void a_trust_user_logs_in_with_or_without_a_password_as_it_would_without_one() throws Exception {
    assumeTrue(onPath("mariadb"), "mariadb client not installed");
    for (String password : new String[] {null, "-pwhatever"}) {
      Run r =
          password == null
              ? run(
                  "mariadb",
                  "--protocol=TCP",
                  "-h",
                  "127.0.0.1",
                  "-P",
                  port(),
                  "-u",
                  "local",
                  "--skip-ssl",
                  "-N",
                  "-B",
                  "app",
                  "-e",
                  "select 6 * 7")
              : run(
                  "mariadb",
                  "--protocol=TCP",
                  "-h",
                  "127.0.0.1",
                  "-P",
                  port(),
                  "-u",
                  "local",
                  password,
                  "--skip-ssl",
                  "-N",
                  "-B",
                  "app",
                  "-e",
                  "select 6 * 7");
      assertThat(r.exit())
          .as((password == null ? "no password: " : "a password: ") + r.out())
          .isZero();
      assertThat(r.out()).contains("42");
    }
  }

  @Test
  void the_mariadb_client_runs_queries_with_native_and_caching_sha2_logins() throws Exception {
    assumeTrue(onPath("mariadb"), "mariadb client not installed");
    for (String[] login : new String[][] {{"legacy", "legacypw"}, {"app", "apppw"}}) {
      Run r =
          run(
              "mariadb",
              "--protocol=TCP",
              "-h",
              "127.0.0.1",
              "-P",
              port(),
              "-u",
              login[0],
              "-p" + login[1],
              "--skip-ssl",
              "-N",
              "-B",
              "app",
              "-e",
              "create table if not exists cli_t(i int); insert into cli_t values (41); "
                  + "select max(i) + 1 from cli_t");
      assertThat(r.exit()).as(login[0] + ": " + r.out()).isZero();
      assertThat(r.out()).contains("42");
    }
    Run wrong =
        run(
            "mariadb",
            "--protocol=TCP",
            "-h",
            "127.0.0.1",
            "-P",
            port(),
            "-u",
            "app",
            "-pnope",
            "--skip-ssl",
            "app",
            "-e",
            "select 1");
    assertThat(wrong.exit()).isNotZero();
    assertThat(wrong.out()).contains("1045").contains("Access denied");
  }

  @Test
  void sysbench_oltp_read_write_prepares_and_runs_without_errors() throws Exception {
    assumeTrue(onPath("sysbench"), "sysbench not installed");
    String[] common = {
      "--mysql-host=127.0.0.1",
      "--mysql-port=" + port(),
      "--mysql-user=legacy",
      "--mysql-password=legacypw",
      "--mysql-db=app",
      "--mysql-ssl=off",
      "--tables=2",
      "--table-size=2000"
    };
    Run prepare =
        run(concat(new String[] {"sysbench", "oltp_read_write"}, common, new String[] {"prepare"}));
    assertThat(prepare.exit()).as(prepare.out()).isZero();
    Run bench =
        run(
            concat(
                new String[] {"sysbench", "oltp_read_write", "--threads=4", "--time=5"},
                common,
                new String[] {"run"}));
    assertThat(bench.exit()).as(bench.out()).isZero();
    assertThat(bench.out()).containsPattern("transactions:\\s+[1-9]");
    // oltp_read_write retries deadlocks by design ("ignored errors"); a dropped connection would
    // show as a reconnect or a failed run
    assertThat(bench.out()).containsPattern("reconnects:\\s+0 ");
  }

  /**
   * A MariaDB client tool's command line up to its own options: over TCP to {@code port} on this
   * host as {@code user}, without TLS.
   */
  static List<String> toolAs(String tool, int port, String user, String password) {
    return new java.util.ArrayList<>(
        List.of(
            tool,
            "--protocol=TCP",
            "-h",
            "127.0.0.1",
            "-P",
            String.valueOf(port),
            "-u",
            user,
            "-p" + password,
            "--skip-ssl"));
  }

  static String[] concat(String[]... parts) {
    return java.util.Arrays.stream(parts).flatMap(java.util.Arrays::stream).toArray(String[]::new);
  }
}

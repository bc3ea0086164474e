package io.halo.proxy.pg;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.halo.proxy.HaloFixture;
import io.halo.proxy.Tools;
import io.halo.testkit.KeepLogsOnFailure;
import io.halo.testkit.PgCluster;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.Statement;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Other people's PostgreSQL drivers through a transaction-pooled listener and directly: the same
 * transcript from both. asyncpg prepares every statement as a named protocol-level statement;
 * psycopg 3 does too with {@code prepare_threshold=0}, and runs them in libpq's pipeline mode;
 * postgres.js (Node) prepares by name and pipelines queries with a Sync each. Each test is skipped
 * where its driver is not installed (CI installs Debian's {@code python3-asyncpg} and {@code
 * python3-psycopg}, and postgres.js from npm into {@code ~/.cache/halo-node}).
 */
class PgDriverTranscriptsIT {

  @RegisterExtension static final KeepLogsOnFailure LOGS = new KeepLogsOnFailure();

  /** Fewer backend connections than the script's twelve concurrent clients. */
  private static final int POOL_SIZE = 4;

  static PgCluster cluster;
  static HaloFixture halo;

  @BeforeAll
  static void start() throws Exception {
    assumeTrue(
        interpreter("asyncpg") != null
            || interpreter("psycopg") != null
            || interpreter("postgresjs") != null,
        "none of asyncpg, psycopg, postgres.js installed");
    cluster = HaloFixture.appCluster(LOGS, "asyncpgit");
    halo = HaloFixture.transactionPooled(cluster, POOL_SIZE);
  }

  @AfterAll
  static void stop() {
    if (cluster != null) {
      HaloFixture.stop(halo, cluster);
    }
  }

  /** Where .ci/run installs postgres.js ({@code HALO_NODE_MODULES} overrides). */
  private static Path nodeModules() {
    String dir = System.getenv("HALO_NODE_MODULES");
    return dir != null
        ? Path.of(dir)
        : Path.of(System.getProperty("user.home"), ".cache", "halo-node", "node_modules");
  }

  /** The command that runs {@code driver}'s script (before the script's path), or null. */
  private static List<String> interpreter(String driver) throws Exception {
    if (driver.equals("postgresjs")) {
      boolean there =
          Tools.onPath("node") && nodeModules().resolve("postgres").toFile().isDirectory();
      return there ? List.of("env", "NODE_PATH=" + nodeModules(), "node") : null;
    }
    String python = pythonWith(driver);
    return python == null ? null : List.of(python);
  }

  /** The first {@code python3} that imports {@code module}, or null. */
  private static String pythonWith(String module) throws Exception {
    for (String p : List.of("/usr/bin/python3", "python3")) {
      if (p.startsWith("/") ? new java.io.File(p).canExecute() : Tools.onPath(p)) {
        if (Tools.run("", p, "-c", "import " + module).exit() == 0) {
          return p;
        }
      }
    }
    return null;
  }

  /**
   * Runs {@code clients/<driver>_check.*} to {@code port} with the objects {@code setup} makes (its
   * {@code %s} replaced by {@code tag}) made first, directly.
   */
  private static Tools.Run script(String driver, int port, String tag, String... setup)
      throws Exception {
    try (Connection c = cluster.primary().connect("app", "apppw", "app");
        Statement s = c.createStatement()) {
      for (String sql : setup) {
        s.execute(sql.replace("%s", tag));
      }
    }
    String file = driver + (driver.equals("postgresjs") ? "_check.cjs" : "_check.py");
    List<String> command = new java.util.ArrayList<>(interpreter(driver));
    command.add(Path.of("src/test/resources/clients", file).toAbsolutePath().toString());
    command.addAll(List.of("127.0.0.1", String.valueOf(port), "app", "apppw", "app", tag));
    return Tools.run("apppw", command.toArray(String[]::new));
  }

  /** The script's transcript directly and through Halo: both run to their end, byte for byte. */
  private static String sameBothWays(String driver, String... setup) throws Exception {
    assumeTrue(interpreter(driver) != null, driver + " is not installed");
    Tools.Run direct = script(driver, cluster.primary().port(), driver + "_direct", setup);
    Tools.Run through = script(driver, halo.primaryListener().getPort(), driver + "_halo", setup);
    assertThat(direct.exit()).as(direct.out()).isZero();
    assertThat(through.exit()).as(through.out()).isZero();
    assertThat(through.out().replace(driver + "_halo", driver + "_direct")).isEqualTo(direct.out());
    // and no session was pinned to a connection: the driver's statements were tracked, not pinned
    assertThat(halo.metrics()).doesNotContainPattern("halo_split_pinned_total\\{[^}]*\\} [1-9]");
    return direct.out();
  }

  @Test
  void asyncpg_gives_the_same_transcript_through_transaction_pooling_as_directly()
      throws Exception {
    // Given twelve concurrent asyncpg connections, each preparing its statements by name, over a
    // pool of four backend connections, then the script prints the same both ways
    String out =
        sameBothWays(
            "asyncpg",
            "create type %s_mood as enum ('happy', 'sad', 'ok')",
            "create table %s_items (who int, m %s_mood, n int)");
    assertThat(out).contains("client 11 total").contains("enum error 22P02");
  }

  @Test
  void psycopg_pipelines_give_the_same_transcript_through_transaction_pooling_as_directly()
      throws Exception {
    // Given eight concurrent psycopg connections, each preparing every statement by name
    // (_pg3_0, ... on each: the names collide on shared connections) in pipelines, each under
    // its own schema's search_path, over a pool of four backend connections
    String out =
        sameBothWays(
            "psycopg",
            "create table %s_items (who int, n int)",
            "create schema %s_s0",
            "create schema %s_s1",
            "create table %s_s0.owned (v text)",
            "create table %s_s1.owned (v text)",
            "insert into %s_s0.owned values ('schema zero')",
            "insert into %s_s1.owned values ('schema one')");
    assertThat(out)
        .contains("client 07 total")
        .contains("client 06 error 22012")
        .contains("client 07 total")
        .contains("schema one after-error rows 0")
        .contains("schema zero after-error rows 0");
  }

  @Test
  void postgresjs_pipelines_give_the_same_transcript_through_transaction_pooling_as_directly()
      throws Exception {
    // Given eight postgres.js clients of one connection each, preparing every statement by name
    // and pipelining queries with a Sync each (an error among them), each under its own schema's
    // search_path (a startup parameter here), over a pool of four backend connections
    String out =
        sameBothWays(
            "postgresjs",
            "create table %s_items (who int, n int)",
            "create schema %s_s0",
            "create schema %s_s1",
            "create table %s_s0.owned (v text)",
            "create table %s_s1.owned (v text)",
            "insert into %s_s0.owned values ('zero')",
            "insert into %s_s1.owned values ('one')");
    assertThat(out)
        .contains("client 07 total 878 schema one pipeline 1007 22012 2007")
        .contains("client 06 rolled back 22012")
        .contains("client 06 after rollback rows 0");
  }
}

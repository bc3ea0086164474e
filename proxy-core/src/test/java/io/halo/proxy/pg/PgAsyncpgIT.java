package io.halo.proxy.pg;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.halo.conf.model.AuthMethod;
import io.halo.conf.model.PoolConfig;
import io.halo.conf.model.UserConfig;
import io.halo.proxy.HaloFixture;
import io.halo.proxy.Tools;
import io.halo.testkit.KeepLogsOnFailure;
import io.halo.testkit.PgCluster;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.Statement;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * asyncpg, the Python driver that prepares every statement as a named protocol-level statement,
 * through a transaction-pooled listener and directly: the same transcript from both (skipped where
 * no {@code python3} with asyncpg is installed; CI installs Debian's {@code python3-asyncpg}).
 */
class PgAsyncpgIT {

  @RegisterExtension static final KeepLogsOnFailure LOGS = new KeepLogsOnFailure();

  /** Fewer backend connections than the script's twelve concurrent clients. */
  private static final int POOL_SIZE = 4;

  static PgCluster cluster;
  static HaloFixture halo;
  static String python;

  @BeforeAll
  static void start() throws Exception {
    python = pythonWithAsyncpg();
    assumeTrue(python != null, "no python3 with asyncpg installed");
    cluster =
        LOGS.watch(
            PgCluster.builder().name("asyncpgit").user("app", "apppw").database("app").start());
    try (Connection c = cluster.primary().connectAsSuperuser();
        Statement s = c.createStatement()) {
      s.execute("ALTER DATABASE app OWNER TO app");
    }
    halo =
        HaloFixture.start(
            cluster,
            HaloFixture.server(Duration.ofSeconds(15), 64L << 20),
            List.of(new UserConfig("app", "apppw", AuthMethod.SCRAM_SHA_256, "app", "apppw")),
            100,
            c ->
                HaloFixture.withPrimaryPool(
                    c,
                    new PoolConfig(
                        PoolConfig.Mode.TRANSACTION,
                        8,
                        Duration.ofMinutes(5),
                        Duration.ofHours(1),
                        POOL_SIZE,
                        Duration.ofSeconds(60),
                        PoolConfig.DEFAULT_MAX_PREPARED)));
  }

  @AfterAll
  static void stop() {
    if (cluster != null) {
      HaloFixture.stop(halo, cluster);
    }
  }

  /** The first {@code python3} that imports asyncpg, or null. */
  private static String pythonWithAsyncpg() throws Exception {
    for (String p : List.of("/usr/bin/python3", "python3")) {
      if (p.startsWith("/") ? new java.io.File(p).canExecute() : Tools.onPath(p)) {
        if (Tools.run("", p, "-c", "import asyncpg").exit() == 0) {
          return p;
        }
      }
    }
    return null;
  }

  private static Tools.Run script(int port, String tag) throws Exception {
    try (Connection c = cluster.primary().connect("app", "apppw", "app");
        Statement s = c.createStatement()) {
      s.execute("create type " + tag + "_mood as enum ('happy', 'sad', 'ok')");
      s.execute("create table " + tag + "_items (who int, m " + tag + "_mood, n int)");
    }
    Path script = Path.of("src/test/resources/clients/asyncpg_check.py").toAbsolutePath();
    return Tools.run(
        "apppw",
        python,
        script.toString(),
        "127.0.0.1",
        String.valueOf(port),
        "app",
        "apppw",
        "app",
        tag);
  }

  @Test
  void asyncpg_gives_the_same_transcript_through_transaction_pooling_as_directly()
      throws Exception {
    // Given twelve concurrent asyncpg connections, each preparing its statements by name, over a
    // pool of four backend connections
    Tools.Run direct = script(cluster.primary().port(), "direct");
    Tools.Run through = script(halo.primaryListener().getPort(), "halo");
    // Then the script runs to its end both ways, and prints the same, byte for byte
    assertThat(direct.exit()).as(direct.out()).isZero();
    assertThat(through.exit()).as(through.out()).isZero();
    assertThat(direct.out()).contains("client 11 total").contains("enum error 22P02");
    assertThat(through.out()).isEqualTo(direct.out());
    // and no session was pinned to a connection: asyncpg's statements were tracked, not pinned
    assertThat(halo.metrics()).doesNotContainPattern("halo_split_pinned_total\\{[^}]*\\} [1-9]");
  }
}

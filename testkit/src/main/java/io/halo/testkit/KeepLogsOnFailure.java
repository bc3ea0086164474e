package io.halo.testkit;

import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.extension.AfterTestExecutionCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * JUnit 5 extension: when a test fails, the clusters it watches (PostgreSQL or MariaDB) keep their
 * data dirs and copy their server logs on close (see {@link PgCluster#keepLogs()} and {@link
 * MariaDbCluster#keepLogs()}).
 *
 * <pre>{@code
 * @RegisterExtension static final KeepLogsOnFailure LOGS = new KeepLogsOnFailure();
 * static PgCluster cluster;
 * @BeforeAll static void start() throws IOException { cluster = LOGS.watch(PgCluster.builder().start()); }
 * @AfterAll static void stop() { cluster.close(); }
 * }</pre>
 *
 * <p>It acts right after the test method, before {@code @AfterEach}, so a cluster closed in
 * {@code @AfterEach} is covered too. JUnit is a provided dependency: only this class needs it, and
 * {@code halo demo} never loads it.
 */
public final class KeepLogsOnFailure implements AfterTestExecutionCallback {
  /** The keepLogs() of each watched cluster, whatever its type. */
  private final List<Runnable> keepers = new CopyOnWriteArrayList<>();

  /** Watches {@code cluster} from now on; returns it. */
  public PgCluster watch(PgCluster cluster) {
    keepers.add(cluster::keepLogs);
    return cluster;
  }

  /** Watches {@code cluster} from now on; returns it. */
  public MariaDbCluster watch(MariaDbCluster cluster) {
    keepers.add(cluster::keepLogs);
    return cluster;
  }

  @Override
  public void afterTestExecution(ExtensionContext context) {
    if (context.getExecutionException().isPresent()) {
      keepers.forEach(Runnable::run);
    }
  }
}

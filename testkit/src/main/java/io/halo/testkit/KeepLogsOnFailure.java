package io.halo.testkit;

import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.extension.AfterTestExecutionCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * JUnit 5 extension: when a test fails, the clusters it watches keep their data dirs and copy
 * their server logs on close (see {@link PgCluster#keepLogs()}).
 *
 * <pre>{@code
 * @RegisterExtension static final KeepLogsOnFailure LOGS = new KeepLogsOnFailure();
 * static PgCluster cluster;
 * @BeforeAll static void start() throws IOException { cluster = LOGS.watch(PgCluster.builder().start()); }
 * @AfterAll static void stop() { cluster.close(); }
 * }</pre>
 *
 * <p>It acts right after the test method, before {@code @AfterEach}, so a cluster closed in
 * {@code @AfterEach} is covered too. JUnit is a provided dependency: only this class needs it,
 * and {@code halo demo} never loads it.
 */
public final class KeepLogsOnFailure implements AfterTestExecutionCallback {
    private final List<PgCluster> clusters = new CopyOnWriteArrayList<>();

    /** Watches {@code cluster} from now on; returns it. */
    public PgCluster watch(PgCluster cluster) {
        clusters.add(cluster);
        return cluster;
    }

    @Override
    public void afterTestExecution(ExtensionContext context) {
        if (context.getExecutionException().isPresent()) {
            clusters.forEach(PgCluster::keepLogs);
        }
    }
}

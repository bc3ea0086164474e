package io.halo.demo;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.AppenderBase;
import io.halo.health.ClusterControl;
import io.halo.health.failover.FailoverReport;
import io.halo.health.state.BackendStatus;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

/**
 * The PostgreSQL demo as a user drives it (issue 10.4): ten switchovers in a row leave one primary
 * and two streaming standbys, because the demo's switchover_command restarts each old primary as a
 * standby of the new one; a healthy switchover logs no split brain; writes keep working.
 */
class DemoSwitchoverIT {

  private static int freePort() throws Exception {
    return io.halo.testkit.Ports.free();
  }

  @Test
  void ten_switchovers_in_a_row_leave_one_primary_and_two_streaming_standbys() throws Exception {
    AtomicInteger splitBrainLines = new AtomicInteger();
    AppenderBase<ILoggingEvent> watch =
        new AppenderBase<>() {
          @Override
          protected void append(ILoggingEvent e) {
            if (e.getFormattedMessage().contains("split brain")) {
              splitBrainLines.incrementAndGet();
            }
          }
        };
    Logger root = (Logger) LoggerFactory.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME);
    watch.setContext(root.getLoggerContext());
    watch.start();
    root.addAppender(watch);
    int port = freePort();
    DemoCommand.Running demo =
        DemoCommand.onPorts(port, freePort(), freePort(), freePort()).start();
    try {
      ClusterControl cluster = demo.server().clusters().get(0);
      await()
          .atMost(Duration.ofSeconds(15))
          .until(() -> cluster.backends().stream().allMatch(b -> b.lastProbe() != null));
      for (int i = 1; i <= 10; i++) {
        FailoverReport r = cluster.switchover(null);
        assertThat(r.outcome())
            .as("switchover %d: %s", i, r)
            .isEqualTo(FailoverReport.Outcome.SUCCEEDED);
        String primary = cluster.topology().primary();
        await()
            .atMost(Duration.ofSeconds(20))
            .untilAsserted(
                () -> {
                  for (BackendStatus b : cluster.backends()) {
                    if (b.node().name().equals(primary)) {
                      assertThat(b.node().routable()).as(primary + " routable").isTrue();
                    } else {
                      assertThat(b.node().routable()).as(b.node().name() + " routable").isTrue();
                      assertThat(b.lastProbe().upstream())
                          .as(b.node().name() + " upstream")
                          .isNotNull();
                      assertThat(b.lastProbe().upstream().streaming())
                          .as(b.node().name() + " streams")
                          .isTrue();
                    }
                  }
                });
        try (Connection c =
                DriverManager.getConnection(
                    "jdbc:postgresql://127.0.0.1:" + port + "/app", "app", "app");
            ResultSet rs = c.createStatement().executeQuery("select pg_is_in_recovery()")) {
          rs.next();
          assertThat(rs.getBoolean(1)).as("writes reach a primary after switchover " + i).isFalse();
        }
      }
      assertThat(cluster.topology().epoch()).isEqualTo(11);
      assertThat(splitBrainLines.get())
          .as("split-brain warnings during healthy switchovers")
          .isZero();
    } finally {
      root.detachAppender(watch);
      demo.server().close();
      demo.cluster().close();
    }
  }
}

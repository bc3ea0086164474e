package io.halo.proxy.failover;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.halo.health.failover.FailoverHooks;
import io.halo.health.failover.FailoverReport;
import io.halo.proxy.HaloFixture;
import io.halo.proxy.session.RelayHooks;
import io.halo.testkit.KeepLogsOnFailure;
import io.halo.testkit.PgCluster;
import io.halo.testkit.PgNode;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.awaitility.core.ConditionTimeoutException;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * The switchover's hold against a write that was admitted an instant before it: the hold must wait
 * for that write's reply before the standby's catch-up position is taken, or an acknowledged commit
 * lands on the old primary after the snapshot and is missing on the new one. A relay test seam
 * stops the session's event loop between admission and forwarding, which makes the window as wide
 * as the whole switchover.
 */
@io.halo.proxy.AllowsBlockingOnEventLoop(
    "its relay seam stalls an event loop to widen the race window")
class SwitchoverRaceIT {

  @RegisterExtension static final KeepLogsOnFailure LOGS = new KeepLogsOnFailure();

  static final String USER = "app";
  static final String PW = "apppw";

  PgCluster cluster;
  HaloFixture halo;
  final ExecutorService client = Executors.newSingleThreadExecutor();

  @AfterEach
  void stop() {
    RelayHooks.afterAdmission = null;
    FailoverHooks.afterPromote = null;
    client.shutdownNow();
    HaloFixture.stop(halo, cluster);
  }

  @Test
  void a_write_admitted_just_before_the_hold_is_waited_for_and_is_on_the_new_primary()
      throws Exception {
    // Given a primary with one standby behind Halo (switchover without a switchover_command: the
    // old primary keeps running, only Halo stops sending it traffic)
    PgNode standby = start("race");

    // and a session whose INSERT is admitted by the relay, whose event loop then stalls until the
    // switchover has begun holding and (if the hold does not wait for it) has promoted the standby
    byte[] marker = "race_marker".getBytes(StandardCharsets.US_ASCII);
    CountDownLatch admitted = new CountDownLatch(1);
    RelayHooks.afterAdmission =
        buf -> {
          if (admitted.getCount() == 0 || ByteBufUtil.indexOf(wrap(marker), buf) < 0) {
            return;
          }
          admitted.countDown();
          await()
              .atMost(Duration.ofSeconds(10))
              .until(() -> halo.control().topology().failoverInProgress());
          try {
            await()
                .atMost(Duration.ofSeconds(3))
                .until(() -> standby.name().equals(halo.control().topology().primary()));
          } catch (ConditionTimeoutException holdWaitsForUs) {
            // the hold waits for this session's reply: nothing was promoted meanwhile
          }
        };
    try (Connection c = halo.connect(USER, PW, "app", "")) {
      Future<Integer> insert =
          client.submit(
              () ->
                  c.createStatement()
                      .executeUpdate(
                          "insert into acked_writes(id) values (4242) /* race_marker */"));
      assertThat(admitted.await(10, TimeUnit.SECONDS)).as("the insert reached the relay").isTrue();

      // When the operator switches over to the standby meanwhile
      FailoverReport r = halo.control().switchover(standby.name());

      // Then the insert is acknowledged, the switchover succeeded, and the acknowledged row is on
      // the new primary
      assertThat(insert.get(30, TimeUnit.SECONDS)).isEqualTo(1);
      assertThat(r.outcome()).as(r.toString()).isEqualTo(FailoverReport.Outcome.SUCCEEDED);
      try (Connection n = standby.connect(USER, PW, "app");
          ResultSet rs =
              n.createStatement()
                  .executeQuery("select count(*) from acked_writes where id = 4242")) {
        rs.next();
        assertThat(rs.getInt(1)).as("the acknowledged insert on the new primary").isEqualTo(1);
      }
    }
  }

  @Test
  void a_write_held_by_a_switchover_left_unresolved_reaches_neither_server() throws Exception {
    // Given a primary with one standby behind Halo, and a session that wrote through it
    PgNode standby = start("unresolved");
    try (Connection c = halo.connect(USER, PW, "app", "")) {
      assertThat(c.createStatement().executeUpdate("insert into acked_writes(id) values (1)"))
          .isEqualTo(1);

      // and a promotion whose answer is lost: the standby is promoted, but Halo hears a failure
      // (as when pg_promote outlasts command_timeout), so it cannot know the outcome; meanwhile,
      // with every session held, the session sends an insert
      AtomicReference<Future<Integer>> held = new AtomicReference<>();
      AtomicReference<Boolean> answeredInHold = new AtomicReference<>();
      FailoverHooks.afterPromote =
          target -> {
            Future<Integer> insert =
                client.submit(
                    () ->
                        c.createStatement()
                            .executeUpdate("insert into acked_writes(id) values (4343)"));
            held.set(insert);
            try {
              insert.get(500, TimeUnit.MILLISECONDS);
              answeredInHold.set(true);
            } catch (java.util.concurrent.TimeoutException stillHeld) {
              answeredInHold.set(false);
            } catch (InterruptedException | ExecutionException e) {
              answeredInHold.set(true);
            }
            throw new SQLException("the answer to pg_promote was lost (test)", "08006");
          };

      // When the operator switches over to the standby
      FailoverReport r = halo.control().switchover(standby.name());

      // Then the switchover ends unresolved: the old primary stays fenced, nothing is routed
      assertThat(r.outcome()).as(r.toString()).isEqualTo(FailoverReport.Outcome.FAILED);
      assertThat(r.toString()).contains("stays fenced");
      assertThat(answeredInHold.get()).as("the insert was answered during the hold").isFalse();
      // and the held insert ends its session, as a server shutting down would (57P01, naming the
      // fence), instead of running on the old primary (still up) or on the promoted standby
      assertThatThrownBy(() -> held.get().get(60, TimeUnit.SECONDS))
          .isInstanceOf(ExecutionException.class)
          .cause()
          .isInstanceOfSatisfying(
              SQLException.class, e -> assertThat(e.getSQLState()).isEqualTo("57P01"))
          .hasMessageContaining("is fenced")
          .hasMessageContaining("left unresolved");
      assertThat(count(cluster.primary(), 4343)).as("on the old primary").isZero();
      assertThat(count(standby, 4343)).as("on the promoted standby").isZero();
      assertThat(count(cluster.primary(), 1)).as("the write before, on the old primary").isOne();
    }
  }

  private static int count(PgNode node, int id) throws SQLException {
    try (Connection n = node.connect(USER, PW, "app");
        ResultSet rs =
            n.createStatement()
                .executeQuery("select count(*) from acked_writes where id = " + id)) {
      rs.next();
      return rs.getInt(1);
    }
  }

  /**
   * A primary with one standby and a table of acknowledged writes, behind a Halo that has probed
   * the standby; returns the standby.
   */
  private PgNode start(String name) throws Exception {
    cluster =
        LOGS.watch(
            PgCluster.builder().name(name).standbys(1).user(USER, PW).database("app").start());
    try (Connection c = cluster.primary().connect(USER, PW, "app")) {
      Writer.createTable(c);
    }
    halo =
        HaloFixture.startForUser(
            cluster,
            USER,
            PW,
            50,
            c -> HaloFixture.withHotFailover(c, cluster, Duration.ofMillis(200)));
    PgNode standby = cluster.standbys().get(0);
    halo.awaitProbed(standby.name());
    return standby;
  }

  private static ByteBuf wrap(byte[] b) {
    return io.netty.buffer.Unpooled.wrappedBuffer(b);
  }
}

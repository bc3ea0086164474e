package io.halo.proxy.pg;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.halo.conf.model.AuthMethod;
import io.halo.conf.model.ServerConfig;
import io.halo.conf.model.UserConfig;
import io.halo.proxy.HaloFixture;
import io.halo.testkit.KeepLogsOnFailure;
import io.halo.testkit.PgCluster;
import java.sql.Connection;
import java.sql.SQLException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Connection limits decided at accept (issue 9.4): a full listener, a full Halo and an address with
 * too many unauthenticated connections are refused with 53300 before the client sends a byte, and a
 * connection that sends nothing is closed after {@code startup_timeout}, so silent sockets cannot
 * hold a listener for the whole {@code auth_timeout}.
 */
class ConnectionLimitsIT {

  @RegisterExtension static final KeepLogsOnFailure LOGS = new KeepLogsOnFailure();

  static final List<UserConfig> USERS =
      List.of(new UserConfig("app", "apppw", AuthMethod.SCRAM_SHA_256, "app", "apppw"));

  /**
   * Long enough that the silent sockets of one test are all still open when its last one connects
   * on a loaded machine, far below the 20 s auth timeout.
   */
  static final Duration STARTUP_TIMEOUT = Duration.ofSeconds(2);

  static PgCluster cluster;
  HaloFixture halo;
  final List<AutoCloseable> open = new ArrayList<>();

  @BeforeAll
  static void start() throws Exception {
    cluster =
        LOGS.watch(PgCluster.builder().name("limits").user("app", "apppw").database("app").start());
  }

  @AfterAll
  static void stopCluster() {
    HaloFixture.stop(null, cluster);
  }

  @AfterEach
  void stop() throws Exception {
    for (AutoCloseable c : open) {
      c.close();
    }
    if (halo != null) {
      halo.close();
    }
  }

  private void halo(int perListener, int total, int unauthenticatedPerAddress) throws Exception {
    ServerConfig server =
        new ServerConfig(
            2,
            Duration.ofSeconds(20),
            Duration.ofSeconds(5),
            1 << 20,
            Duration.ofSeconds(2),
            null,
            total,
            unauthenticatedPerAddress,
            STARTUP_TIMEOUT,
            ServerConfig.Transport.AUTO);
    halo = HaloFixture.start(cluster, server, USERS, perListener);
  }

  private RawPgSocket silent() throws Exception {
    RawPgSocket s = new RawPgSocket(halo.primaryListener(), 5_000);
    open.add(s);
    return s;
  }

  /**
   * Waits until Halo has counted {@code n} client connections: a connect returns once the kernel
   * accepted it, before Halo's event loop has, and which connection is the one over a limit must
   * not depend on that race.
   */
  private void awaitCounted(int n) {
    org.awaitility.Awaitility.await()
        .atMost(Duration.ofSeconds(10))
        .until(
            () ->
                halo.server().listeners().stream()
                        .mapToInt(io.halo.proxy.admin.ProxyView.ListenerView::clientConnections)
                        .sum()
                    == n);
  }

  private Connection login() throws SQLException {
    Connection c = halo.connect("app", "apppw", "app", "");
    open.add(c);
    return c;
  }

  @Test
  void a_full_listener_refuses_at_accept_and_silent_sockets_do_not_hold_it_for_the_auth_timeout()
      throws Exception {
    halo(3, 0, 100);
    List<RawPgSocket> silent = new ArrayList<>();
    for (int i = 0; i < 3; i++) {
      silent.add(silent());
    }
    awaitCounted(3);
    // A fourth connection gets the error at once, without having sent a startup packet
    Map<Character, String> e = silent().readError();
    assertThat(e).containsEntry('C', "53300").containsEntry('S', "FATAL");
    assertThat(e.get('M')).contains("allows 3 client connections");
    // The silent ones are closed after startup_timeout (2 s), long before auth_timeout (20 s)
    for (RawPgSocket s : silent) {
      assertThat(s.closedByServer()).as("closed within the 5 s read timeout").isTrue();
    }
    // and the listener serves again
    assertThat(login().isValid(2)).isTrue();
    assertThat(halo.server().rejections()).containsKeys("too_many_connections", "startup_timeout");
  }

  @Test
  void one_address_may_hold_only_so_many_unauthenticated_connections_but_any_number_of_sessions()
      throws Exception {
    halo(100, 0, 2);
    // Sessions that authenticated do not count against the address
    for (int i = 0; i < 5; i++) {
      login();
    }
    silent();
    silent();
    awaitCounted(7);
    // A third unauthenticated connection from this address is refused at accept
    Map<Character, String> e = silent().readError();
    assertThat(e).containsEntry('C', "53300");
    assertThat(e.get('M')).contains("have not authenticated yet").contains("allows 2");
    assertThat(halo.server().rejections()).containsKey("too_many_unauthenticated");
    // while the five sessions go on
    for (AutoCloseable c : open) {
      if (c instanceof Connection s) {
        assertThat(s.isValid(2)).isTrue();
      }
    }
  }

  @Test
  void
      wrong_passwords_from_one_address_are_answered_later_each_time_and_a_right_one_resets_the_count()
          throws Exception {
    halo(100, 0, 100);
    long[] took = new long[4];
    for (int i = 0; i < took.length; i++) {
      long t0 = System.nanoTime();
      assertThatThrownBy(() -> halo.connect("app", "guess", "app", ""))
          .satisfies(e -> assertThat(((SQLException) e).getSQLState()).isEqualTo("28P01"));
      took[i] = System.nanoTime() - t0;
    }
    // 250 ms, 500 ms, 1 s, 2 s: the fourth guess alone waits two seconds (a lower bound, never
    // early)
    assertThat(Duration.ofNanos(took[3])).isGreaterThanOrEqualTo(Duration.ofSeconds(2));
    assertThat(Duration.ofNanos(took[0] + took[1] + took[2] + took[3]))
        .isGreaterThanOrEqualTo(Duration.ofMillis(3750));
    // The right password still logs in, and clears the count
    assertThat(login().isValid(2)).isTrue();
    long t0 = System.nanoTime();
    assertThatThrownBy(() -> halo.connect("app", "guess", "app", ""))
        .isInstanceOf(SQLException.class);
    assertThat(Duration.ofNanos(System.nanoTime() - t0))
        .isGreaterThanOrEqualTo(Duration.ofMillis(250));
  }

  @Test
  void the_global_cap_counts_every_listener() throws Exception {
    halo(100, 3, 100);
    login();
    login();
    Connection r = halo.connect(halo.replicaListener(), "app", "apppw", "app", "");
    open.add(r);
    awaitCounted(3);
    assertThatThrownBy(() -> halo.connect(halo.replicaListener(), "app", "apppw", "app", ""))
        .satisfies(
            e -> {
              assertThat(((SQLException) e).getSQLState()).isEqualTo("53300");
              assertThat(e.getMessage())
                  .contains("Halo allows 3 client connections over all listeners");
            });
  }
}

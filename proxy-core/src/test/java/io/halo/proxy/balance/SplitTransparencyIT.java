package io.halo.proxy.balance;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.AppenderBase;
import io.halo.conf.model.AuthMethod;
import io.halo.conf.model.ClusterConfig;
import io.halo.conf.model.ListenerConfig;
import io.halo.conf.model.Route;
import io.halo.conf.model.UserConfig;
import io.halo.proxy.HaloFixture;
import io.halo.testkit.KeepLogsOnFailure;
import io.halo.testkit.PgCluster;
import io.halo.testkit.PgNode;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.slf4j.LoggerFactory;

/**
 * {@code route: split} as transparent as a direct connection to the primary (issue 11): a read
 * that calls a function which writes runs on the primary, and the settings a replica connection
 * gets are the ones that took effect on the primary.
 */
class SplitTransparencyIT {

  @RegisterExtension static final KeepLogsOnFailure LOGS = new KeepLogsOnFailure();

  PgCluster cluster;
  HaloFixture halo;
  final List<String> relayLog = new CopyOnWriteArrayList<>();
  AppenderBase<ILoggingEvent> appender;

  @BeforeEach
  void start() throws Exception {
    Logger relay = (Logger) LoggerFactory.getLogger("io.halo.proxy.pg.PgSplitRelay");
    appender = new AppenderBase<>() {
      @Override
      protected void append(ILoggingEvent e) {
        if (e.getLevel().isGreaterOrEqual(Level.INFO)) {
          relayLog.add(e.getFormattedMessage());
        }
      }
    };
    appender.setContext(relay.getLoggerContext());
    appender.start();
    relay.addAppender(appender);
    cluster = LOGS.watch(PgCluster.builder().name("splitx").standbys(1).user("app", "apppw").database("app").start());
    halo = HaloFixture.start(cluster, HaloFixture.server(Duration.ofSeconds(15), 64L << 20),
        List.of(new UserConfig("app", "apppw", AuthMethod.SCRAM_SHA_256, "app", "apppw")), 200,
        c -> new ClusterConfig(c.name(), c.engine(),
            c.listeners().stream().map(l -> l.route() != Route.REPLICAS ? l
                : new ListenerConfig(l.listen(), Route.SPLIT, l.maxClientConnections(), true, l.balance(), -1,
                    true, Duration.ofSeconds(10))).toList(),
            c.backends(), c.monitor(), c.failover(), c.throttle()));
    try (Connection c = halo.connect("app", "apppw", "app", ""); Statement s = c.createStatement()) {
      s.execute("create table audit (n int)");
      s.execute("create table b (x int)");
      s.execute("insert into b select generate_series(1, 1000)");
      s.execute("create index b_brin on b using brin (x)");
      s.execute("create function bump() returns int language sql as $$ insert into audit values (1) returning 1 $$");
      s.execute("create function port_of() returns int stable language sql as $$ select inet_server_port() $$");
    }
    await().atMost(Duration.ofSeconds(10)).until(() -> {
      try (Connection s = standby().connect("app", "apppw", "app");
          ResultSet rs = s.createStatement().executeQuery("select to_regproc('public.port_of') is not null")) {
        rs.next();
        return rs.getBoolean(1);
      }
    });
  }

  @AfterEach
  void stop() {
    ((Logger) LoggerFactory.getLogger("io.halo.proxy.pg.PgSplitRelay")).detachAppender(appender);
    HaloFixture.stop(halo, cluster);
  }

  private PgNode standby() {
    return cluster.standbys().get(0);
  }

  private Connection connect(String extra) throws SQLException {
    return halo.connect(halo.replicaListener(), "app", "apppw", "app", extra);
  }

  private static String one(Connection c, String sql) throws SQLException {
    try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery(sql)) {
      rs.next();
      return rs.getString(1);
    }
  }

  private int audited() throws SQLException {
    try (Connection c = halo.connect("app", "apppw", "app", "")) {
      return Integer.parseInt(one(c, "select count(*) from audit"));
    }
  }

  @Test
  void a_read_calling_a_volatile_function_runs_on_the_primary() throws Exception {
    String primary = String.valueOf(cluster.primary().port());
    String replica = String.valueOf(standby().port());
    try (Connection c = connect("")) {
      // a stable function is a read: the standby
      assertThat(one(c, "select port_of()")).isEqualTo(replica);
      // a volatile function may write: the primary runs it (the standby would refuse the INSERT)
      assertThat(one(c, "select bump()")).isEqualTo("1");
      assertThat(one(c, "select inet_server_port() where bump() = 1")).isEqualTo(primary);
      // BRIN maintenance writes the index
      assertThat(one(c, "select brin_summarize_new_values('b_brin')")).isNotNull();
      assertThat(one(c, "select brin_desummarize_range('b_brin', 0)")).isEmpty();
    }
    // a named prepared statement bound again (pgjdbc sends only Bind/Execute) still goes to the primary
    try (Connection c = connect("prepareThreshold=1"); PreparedStatement p = c.prepareStatement("select bump()")) {
      for (int i = 0; i < 3; i++) {
        try (ResultSet rs = p.executeQuery()) {
          rs.next();
          assertThat(rs.getInt(1)).isEqualTo(1);
        }
      }
    }
    assertThat(audited()).isEqualTo(5);
  }

  @Test
  void a_function_replaced_through_halo_is_looked_up_again() throws Exception {
    String replica = String.valueOf(standby().port());
    try (Connection c = connect("")) {
      await().atMost(Duration.ofSeconds(10)).until(() -> one(c, "select port_of()").equals(replica));
      // now volatile and writing: the listener must not trust what it learned before
      c.createStatement().execute("create or replace function port_of() returns int language sql as "
          + "$$ insert into audit values (2) returning inet_server_port() $$");
      assertThat(one(c, "select port_of()")).isEqualTo(String.valueOf(cluster.primary().port()));
    }
    assertThat(audited()).isEqualTo(1);
  }

  @Test
  void only_settings_the_primary_kept_are_replayed_on_the_replica() throws Exception {
    try (Connection su = cluster.primary().connectAsSuperuser(); Statement s = su.createStatement()) {
      s.execute("create role gone");
      s.execute("grant gone to app");
    }
    String replica = String.valueOf(standby().port());
    try (Connection c = connect(""); Statement s = c.createStatement()) {
      s.execute("set role gone");
      s.execute("reset role");
      try (Connection su = cluster.primary().connectAsSuperuser()) {
        su.createStatement().execute("drop role gone"); // as an application's roles come and go
      }
      s.execute("set work_mem = '1MB'");
      s.execute("set work_mem = '2MB'");
      s.execute("set application_name = 'first'");
      for (String failing : List.of("set statement_timeout = 'bogus'", "set role no_such_role",
          "set no_such_parameter_without_a_dot = 1")) {
        try {
          s.execute(failing);
          throw new AssertionError(failing + " should fail on the primary");
        } catch (SQLException e) {
          assertThat(e.getSQLState()).as(failing).isIn("42704", "22023");
        }
      }
      // the replica has replayed the role's drop before this session first reads there
      await().atMost(Duration.ofSeconds(10)).until(() -> {
        try (Connection r = standby().connect("app", "apppw", "app");
            ResultSet rs = r.createStatement().executeQuery("select count(*) from pg_roles where rolname = 'gone'")) {
          rs.next();
          return rs.getInt(1) == 0;
        }
      });
      assertThat(one(c, "select inet_server_port()::text || ' ' || current_setting('work_mem') || ' '"
          + " || current_setting('statement_timeout') || ' ' || current_user || ' ' || current_setting('application_name')"))
          .isEqualTo(replica + " 2MB 0 app first");
      // a setting changed later reaches the replica connection too, a failed one never
      s.execute("set application_name = 'second'");
      try {
        s.execute("set work_mem = 'lots'");
      } catch (SQLException e) {
        assertThat(e.getSQLState()).isEqualTo("22023");
      }
      s.execute("reset work_mem");
      assertThat(one(c, "select inet_server_port()::text || ' ' || current_setting('application_name') || ' '"
          + " || (select setting = reset_val from pg_settings where name = 'work_mem')::text"))
          .isEqualTo(replica + " second true");
    }
    assertThat(relayLog).as("no failed replay on the replica").noneMatch(l -> l.contains("replaying"));
  }
}

package io.halo.proxy.mysql;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import io.halo.conf.model.AuthMethod;
import io.halo.conf.model.Cidr;
import io.halo.conf.model.Route;
import io.halo.conf.model.StoredPassword;
import io.halo.conf.model.UserConfig;
import io.halo.proxy.HaloServer;
import io.halo.proxy.mysql.auth.MySqlScramble;
import io.halo.testkit.MariaDbCluster;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.HexFormat;
import java.util.List;
import java.util.Properties;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Per-user address rules ({@code allow}, {@code require_tls}) refuse with ERR 1130 before the
 * password, and a mysql_native_password hash in the config checks Connector/J's login.
 */
class MySqlClientRulesIT {

  static MariaDbCluster cluster;
  static HaloServer halo;

  @BeforeAll
  static void start() throws Exception {
    cluster = MariaDbCluster.builder().name("myrules").user("app", "apppw").database("app").start();
    String hash =
        "*" + HexFormat.of().withUpperCase().formatHex(MySqlScramble.nativeStored("hashpw"));
    String appHash;
    try (Connection c = cluster.primary().connectAsRoot();
        Statement s = c.createStatement();
        ResultSet r =
            s.executeQuery(
                "SELECT authentication_string FROM mysql.user WHERE user = 'app' LIMIT 1")) {
      r.next();
      appHash = r.getString(1);
    }
    assertThat(StoredPassword.of(appHash)).isEqualTo(StoredPassword.MYSQL_NATIVE);
    halo =
        MySqlHalo.start(
            cluster,
            MySqlHalo.THROTTLE,
            List.of(
                rules("near", List.of(Cidr.parse("127.0.0.0/8")), false),
                rules("far", List.of(Cidr.parse("10.0.0.0/8"), Cidr.parse("::1")), false),
                rules("tlsonly", List.of(), true),
                new UserConfig("hashed", hash, AuthMethod.MD5, "app", "apppw"),
                // Only the server's own hash: the backend login recovers SHA1(pw) from the client.
                new UserConfig("app", appHash, AuthMethod.MD5, "app", appHash)),
            Route.PRIMARY);
  }

  private static UserConfig rules(String name, List<Cidr> allow, boolean requireTls) {
    return new UserConfig(name, "pw", AuthMethod.MD5, "app", "apppw", 0, 0, 0, allow, requireTls);
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

  private static Connection connect(String user, String password) throws SQLException {
    Properties p = new Properties();
    p.setProperty("user", user);
    p.setProperty("password", password);
    p.setProperty("sslMode", "DISABLED");
    p.setProperty("connectTimeout", "10000");
    p.setProperty("socketTimeout", "60000");
    return DriverManager.getConnection(
        "jdbc:mysql://127.0.0.1:" + halo.boundAddresses().get(0).getPort() + "/app", p);
  }

  private static int one(Connection c) throws SQLException {
    try (Statement s = c.createStatement();
        ResultSet r = s.executeQuery("SELECT 1")) {
      r.next();
      return r.getInt(1);
    }
  }

  @Test
  void a_user_whose_allow_list_holds_the_clients_address_logs_in() throws Exception {
    try (Connection c = connect("near", "pw")) {
      assertThat(one(c)).isEqualTo(1);
    }
  }

  @Test
  void an_address_outside_the_allow_list_is_refused_with_1130_even_with_the_right_password() {
    SQLException e = catchThrowableOfType(SQLException.class, () -> connect("far", "pw"));
    assertThat(e.getErrorCode()).isEqualTo(1130);
    assertThat(e.getMessage()).contains("Host '127.0.0.1' is not allowed to connect");
  }

  @Test
  void require_tls_refuses_a_plaintext_connection() {
    SQLException e = catchThrowableOfType(SQLException.class, () -> connect("tlsonly", "pw"));
    assertThat(e.getErrorCode()).isEqualTo(1130);
  }

  @Test
  void a_native_hash_in_the_config_checks_the_password() throws Exception {
    try (Connection c = connect("hashed", "hashpw")) {
      assertThat(one(c)).isEqualTo(1);
    }
    SQLException e = catchThrowableOfType(SQLException.class, () -> connect("hashed", "wrong"));
    assertThat(e.getErrorCode()).isEqualTo(1045);
  }

  @Test
  void with_only_the_servers_native_hash_halo_logs_in_to_the_backend_by_passthrough()
      throws Exception {
    for (int i = 0; i < 2; i++) {
      try (Connection c = connect("app", "apppw");
          Statement s = c.createStatement();
          ResultSet r = s.executeQuery("SELECT CURRENT_USER()")) {
        r.next();
        assertThat(r.getString(1)).startsWith("app@");
      }
    }
    SQLException e = catchThrowableOfType(SQLException.class, () -> connect("app", "wrong"));
    assertThat(e.getErrorCode()).isEqualTo(1045);
  }
}

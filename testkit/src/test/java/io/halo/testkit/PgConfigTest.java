package io.halo.testkit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class PgConfigTest {

  @Test
  void quotes_every_value_and_puts_extra_settings_last() {
    PgConfig config =
        new PgConfig(
            5433,
            Path.of("/tmp/x"),
            "md5",
            List.of(Map.entry("fsync", "on"), Map.entry("search_path", "a, 'b'")),
            null,
            null,
            null);

    String conf = config.postgresqlConf();

    assertThat(conf)
        .contains(
            "port = '5433'\n",
            "password_encryption = 'md5'\n",
            "unix_socket_directories = '/tmp/x'\n",
            "search_path = 'a, ''b'''\n");
    assertThat(conf.lastIndexOf("fsync = 'on'")).isGreaterThan(conf.indexOf("fsync = 'off'"));
    assertThat(conf).doesNotContain("primary_conninfo", "synchronous_standby_names");
  }

  @Test
  void a_standby_gets_conninfo_and_slot_and_hba_uses_the_method() {
    PgConfig config =
        new PgConfig(
            5434,
            null,
            "scram-sha-256",
            List.of(),
            null,
            "host=127.0.0.1 port=5433 password=" + PgConfig.conninfoValue("it's"),
            "pg2");

    assertThat(config.postgresqlConf())
        .contains("primary_conninfo = 'host=127.0.0.1 port=5433 password=''it\\\\''s'''\n")
        .contains("primary_slot_name = 'pg2'\n")
        .contains("unix_socket_directories = ''\n");
    assertThat(config.hba()).contains("host    replication  all   127.0.0.1/32   scram-sha-256\n");
  }

  @Test
  void long_socket_directories_are_left_out() {
    assertThat(PgConfig.socketDirOrNull(Path.of("/tmp/short"))).isEqualTo(Path.of("/tmp/short"));
    assertThat(PgConfig.socketDirOrNull(Path.of("/tmp/" + "x".repeat(100)))).isNull();
  }

  @Test
  void builder_rejects_names_that_would_break_slots_or_paths() {
    assertThatThrownBy(() -> PgCluster.builder().name("a b")).hasMessageContaining("must match");
    assertThatThrownBy(() -> PgCluster.builder().hostAuth("ident"))
        .hasMessageContaining("scram-sha-256");
    assertThatThrownBy(() -> PgCluster.builder().standbys(-1))
        .hasMessageContaining("between 0 and 8");
  }
}

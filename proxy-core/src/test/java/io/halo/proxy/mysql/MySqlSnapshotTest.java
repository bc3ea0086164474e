package io.halo.proxy.mysql;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

/** The SET a moved session replays: every value quoted and escaped, NULL kept. */
class MySqlSnapshotTest {

  @Test
  void the_replayed_set_quotes_values_and_keeps_null() {
    MySqlSessionMove.Snapshot s =
        new MySqlSessionMove.Snapshot(
            "app",
            "utf8mb4",
            "utf8mb4",
            null,
            "utf8mb4_general_ci",
            "STRICT_TRANS_TABLES,NO_ZERO_DATE",
            "it's\\odd",
            false);
    assertThat(s.setStatement())
        .isEqualTo(
            "SET character_set_client='utf8mb4', character_set_connection='utf8mb4', "
                + "character_set_results=NULL, collation_connection='utf8mb4_general_ci', "
                + "sql_mode='STRICT_TRANS_TABLES,NO_ZERO_DATE', time_zone='it''s\\\\odd', autocommit=0");
  }
}

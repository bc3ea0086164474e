package io.halo.proxy.pg;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

/** The settings a split session replays on another connection: the last value per parameter. */
class PgSettingsTest {

  private final PgSettings settings = new PgSettings();
  private final PgSettings.Applied replica = new PgSettings.Applied();

  @Test
  void aParameterSetTwiceIsReplayedOnceWithItsLastValue() {
    settings.succeeded("SET work_mem = '1MB'");
    settings.succeeded("set search_path to app, public");
    settings.succeeded("SET SESSION work_mem TO '2MB'");
    assertThat(settings.replay(replica))
        .containsExactly("set search_path to app, public", "SET SESSION work_mem TO '2MB'");
    assertThat(settings.replay(replica)).as("nothing new").isEmpty();
    settings.succeeded("SET work_mem='3MB';");
    assertThat(settings.replay(replica)).containsExactly("SET work_mem='3MB';");
  }

  @Test
  void trailingSemicolonsAndSpaceAreNotPartOfTheSetting() {
    // a hostile text: a million semicolons (each once stripped by a copy of the whole text)
    settings.succeeded("SET work_mem = '1MB'" + "; ".repeat(1_000_000));
    settings.succeeded("set WORK_MEM to '2MB' ;;");
    assertThat(settings.replay(replica)).containsExactly("set WORK_MEM to '2MB' ;;");
    assertThat(settings.size()).isEqualTo(1);
  }

  @Test
  void onlyANewParameterOrAWholeStatementAddsASetting() {
    settings.succeeded("SET work_mem = '1MB'");
    assertThat(settings.adds("set work_mem to '2MB'")).isFalse();
    assertThat(settings.adds("RESET work_mem")).isFalse();
    assertThat(settings.adds("DISCARD ALL")).isFalse();
    assertThat(settings.adds("SET search_path = app")).isTrue();
    assertThat(settings.adds("SET a.b = 1; SET c.d = 2")).as("kept whole").isTrue();
  }

  @Test
  void manyResetsDueOnAConnectionAreOneResetAll() {
    PgSettings other = new PgSettings();
    for (int i = 0; i < PgSettings.MAX_RESETS + 1; i++) {
      other.succeeded("set halo.p" + i + " = 1");
    }
    other.replay(replica); // the connection now has another session's many settings
    settings.succeeded("SET work_mem = '1MB'");
    assertThat(settings.replay(replica)).containsExactly("RESET ALL", "SET work_mem = '1MB'");
    assertThat(replica.settings).containsOnlyKeys("work_mem");
    PgSettings few = new PgSettings();
    few.succeeded("set halo.p0 = 1");
    few.replay(replica);
    assertThat(settings.replay(replica))
        .as("a few are reset one by one")
        .containsExactly("RESET halo.p0", "SET work_mem = '1MB'");
  }

  @Test
  void spellingsOfTheSameParameterCollapse() {
    settings.succeeded("SET TIME ZONE 'UTC'");
    settings.succeeded("set timezone = 'Europe/Paris'");
    settings.succeeded("SET NAMES 'UTF8'");
    settings.succeeded("set client_encoding to 'LATIN1'");
    settings.succeeded("SET SCHEMA 'app'");
    settings.succeeded("SET search_path = public");
    settings.succeeded("SET ROLE reader");
    settings.succeeded("set role none");
    assertThat(settings.replay(replica))
        .containsExactly(
            "set timezone = 'Europe/Paris'",
            "set client_encoding to 'LATIN1'",
            "SET search_path = public",
            "set role none");
  }

  @Test
  void resetsReachAConnectionThatHadTheSetting() {
    settings.succeeded("SET work_mem = '1MB'");
    settings.succeeded("SET ROLE reader");
    settings.succeeded("SET statement_timeout = 5000");
    assertThat(settings.replay(replica)).hasSize(3);
    settings.succeeded("RESET work_mem");
    assertThat(settings.replay(replica)).containsExactly("RESET work_mem");
    settings.succeeded("RESET ALL"); // the server keeps the role
    assertThat(settings.replay(replica)).containsExactly("RESET statement_timeout");
    settings.succeeded("RESET ROLE");
    assertThat(settings.replay(replica)).containsExactly("RESET role");
    // a connection opened now gets nothing
    assertThat(settings.replay(new PgSettings.Applied())).isEmpty();
    settings.succeeded("SET SESSION AUTHORIZATION other");
    settings.succeeded("DISCARD ALL");
    assertThat(settings.isEmpty()).isTrue();
  }

  @Test
  void aConnectionTakenBackUnchangedGetsNothingAndOneUsedMeanwhileIsBroughtBack() {
    PgSettings other = new PgSettings();
    settings.succeeded("SET work_mem = '1MB'");
    other.succeeded("SET work_mem = '2MB'");
    assertThat(settings.replay(replica)).containsExactly("SET work_mem = '1MB'");
    assertThat(settings.replay(replica)).as("taken back unchanged").isEmpty();
    assertThat(other.replay(replica))
        .as("another session's turn")
        .containsExactly("SET work_mem = '2MB'");
    assertThat(settings.replay(replica))
        .as("back to this session")
        .containsExactly("SET work_mem = '1MB'");
    // the connection ran a setting of this session's that the session then kept
    settings.succeeded("SET search_path = app");
    replica.apply("SET search_path = app");
    assertThat(settings.replay(replica)).as("already there").isEmpty();
    // the connection changed without the session's settings changing
    replica.apply("SET work_mem = '9MB'");
    assertThat(settings.replay(replica)).containsExactly("SET work_mem = '1MB'");
    assertThat(settings.replay(replica)).isEmpty();
  }

  @Test
  void aConnectionPassedBetweenSessionsWithTheSameSettingsGetsNothing() {
    PgSettings same = new PgSettings();
    PgSettings other = new PgSettings();
    settings.base("application_name", "SET application_name = 'app'");
    same.base("application_name", "SET application_name = 'app'");
    other.base("application_name", "SET application_name = 'other'");
    assertThat(settings.replay(replica)).containsExactly("SET application_name = 'app'");
    assertThat(same.replay(replica)).as("the same settings, another session").isEmpty();
    assertThat(other.replay(replica)).containsExactly("SET application_name = 'other'");
    assertThat(same.replay(replica)).containsExactly("SET application_name = 'app'");
    assertThat(settings.replay(replica)).as("back to an equal session").isEmpty();
    // a session that changes its settings is compared again, and so is a connection that changed
    same.succeeded("SET work_mem = '1MB'");
    assertThat(same.replay(replica)).containsExactly("SET work_mem = '1MB'");
    assertThat(settings.replay(replica)).containsExactly("RESET work_mem");
    replica.apply("SET application_name = 'x'");
    assertThat(settings.replay(replica)).containsExactly("SET application_name = 'app'");
  }

  @Test
  void aSetOnlyBeforeItWasResetIsNeverReplayed() {
    settings.succeeded("SET ROLE dropped_since");
    settings.succeeded("RESET ROLE");
    assertThat(settings.replay(replica)).isEmpty();
  }

  @Test
  void textsWhoseParameterIsUnclearAreKeptWholeAndResetByResetAll() {
    settings.succeeded("SET a.x = 1; SET a.y = 2");
    settings.succeeded("/* app */ SET work_mem = '1MB'");
    settings.succeeded("SET \"Odd\".name = 1");
    settings.succeeded(
        "SET SESSION CHARACTERISTICS AS TRANSACTION ISOLATION LEVEL REPEATABLE READ");
    assertThat(settings.replay(replica)).hasSize(4);
    settings.succeeded("SET a.x = 1; SET a.y = 2");
    assertThat(settings.replay(replica)).isEmpty();
    settings.succeeded("RESET ALL");
    assertThat(settings.replay(replica)).containsExactly("RESET ALL");
    assertThat(replica.settings).isEmpty();
  }

  @Test
  void transactionScopedSettingsAreNeverKept() {
    settings.succeeded("SET LOCAL work_mem = '1MB'");
    settings.succeeded("SET TRANSACTION ISOLATION LEVEL SERIALIZABLE");
    settings.succeeded("set constraints all deferred");
    settings.succeeded("DISCARD PLANS");
    assertThat(settings.isEmpty()).isTrue();
    assertThat(settings.bytes()).isZero();
  }

  @Test
  void aStartupSettingIsReplayedAndResetReturnsToIt() {
    settings.base("application_name", PgSettings.set("application_name", "billing"));
    assertThat(settings.isEmpty()).isFalse();
    assertThat(settings.replay(replica)).containsExactly("SET application_name = 'billing'");
    settings.succeeded("set application_name = 'other'");
    assertThat(settings.replay(replica)).containsExactly("set application_name = 'other'");
    // RESET, RESET ALL and DISCARD ALL return to the startup value, as on the server
    settings.succeeded("RESET application_name");
    assertThat(settings.replay(replica)).containsExactly("SET application_name = 'billing'");
    settings.succeeded("set application_name = 'other'");
    assertThat(settings.replay(replica)).containsExactly("set application_name = 'other'");
    settings.succeeded("discard all");
    assertThat(settings.replay(replica)).containsExactly("SET application_name = 'billing'");
    // a connection that ran another session's settings is brought back to this one's
    PgSettings.Applied used = new PgSettings.Applied();
    used.apply("SET application_name = 'someone else'");
    used.apply("SET work_mem = '8MB'");
    assertThat(settings.replay(used))
        .containsExactly("RESET work_mem", "SET application_name = 'billing'");
  }

  @Test
  void aStartupValueIsQuotedAsALiteral() {
    assertThat(PgSettings.set("application_name", "it's"))
        .isEqualTo("SET application_name = 'it''s'");
    assertThat(PgSettings.set("application_name", "a\\b'c"))
        .isEqualTo("SET application_name = E'a\\\\b''c'");
  }
}

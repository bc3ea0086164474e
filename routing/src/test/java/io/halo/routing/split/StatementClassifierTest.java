package io.halo.routing.split;

import static io.halo.routing.split.StatementKind.PIN;
import static io.halo.routing.split.StatementKind.READ;
import static io.halo.routing.split.StatementKind.SESSION;
import static io.halo.routing.split.StatementKind.TRANSACTION;
import static io.halo.routing.split.StatementKind.WRITE;
import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class StatementClassifierTest {

  private final StatementClassifier pg = StatementClassifier.postgres();
  private final StatementClassifier my = StatementClassifier.mysql();

  @ParameterizedTest(name = "pg: {0} -> {1}")
  @CsvSource(
      delimiter = '|',
      textBlock =
          """
          SELECT 1                                                   | READ
            select * from t where id = $1                            | READ
          /* leading comment */ SELECT a FROM t                      | READ
          WITH x AS (SELECT 1) SELECT * FROM x                       | READ
          VALUES (1), (2)                                            | READ
          TABLE t                                                    | READ
          SHOW search_path                                           | READ
          EXPLAIN SELECT * FROM t                                    | READ
          SELECT 'for update', "update" FROM t                       | READ
          SELECT $$ insert into t $$                                 | READ
          SELECT $tag$ nextval( $tag$                                | READ
          SELECT 1; SELECT 2                                         | READ
          SELECT * FROM t FOR UPDATE                                 | WRITE
          SELECT * FROM t FOR NO KEY UPDATE                          | WRITE
          select * from t for share                                  | WRITE
          SeLeCt * FrOm t FoR kEy ShArE                              | WRITE
          SELECT * FROM t WHERE id IN (1, 2) AND "for" = 1           | READ
          SELECT "NEXTVAL"('s'), "into" FROM t                       | READ
          SELECT "nextval"('s')                                      | WRITE
          SELECT "pg_advisory_lock"(1)                               | PIN
          SELECT café, "é" FROM t FOR UPDATE                         | WRITE
          SELECT NextVal('s')                                        | WRITE
          SELECT 1 AS x InTo TeMp t                                  | PIN
          SELECT nextval('s')                                        | WRITE
          SELECT currval('s')                                        | WRITE
          SELECT * INTO new_t FROM t                                 | WRITE
          WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d      | WRITE
          EXPLAIN ANALYZE SELECT 1                                   | WRITE
          EXPLAIN (ANALYZE, BUFFERS) SELECT 1                        | WRITE
          INSERT INTO t VALUES (1)                                   | WRITE
          UPDATE jobs SET s = 1 WHERE pg_try_advisory_lock(id)       | PIN
          UPDATE pg_settings SET setting = 'x' WHERE name = 'role'   | PIN
          EXPLAIN ANALYZE UPDATE pg_settings SET setting = 'x'       | PIN
          update pg_catalog."pg_settings" set setting = 'x'          | PIN
          CREATE TABLE t AS SELECT pg_advisory_lock(1)               | PIN
          (SELECT 1 INTO TEMP t)                                     | PIN
          INSERT INTO t SELECT * FROM u                              | WRITE
          insert into temp values (1)                                | WRITE
          CREATE TABLE settings_t (a int)                            | WRITE
          INSERT INTO t SELECT 1 FROM pg_advisory_lock(1)            | PIN
          update t set a = "pg_advisory_lock"(1)                     | PIN
          UPDATE t SET a = "PG_ADVISORY_LOCK"(1)                     | WRITE
          DELETE FROM t WHERE id = nextval('s')                      | WRITE
          UPDATE t SET a = 'pg_advisory_lock(1)'                     | WRITE
          update t set a = 1                                         | WRITE
          DELETE FROM t                                              | WRITE
          CREATE TABLE t (a int)                                     | WRITE
          SELECT 1; INSERT INTO t VALUES (1)                         | WRITE
          SET LOCAL work_mem = '64MB'                                | WRITE
          LOCK TABLE t                                               | WRITE
          BEGIN                                                      | TRANSACTION
          start transaction read only                                | TRANSACTION
          COMMIT                                                     | TRANSACTION
          ROLLBACK                                                   | TRANSACTION
          SELECT 1; COMMIT                                           | TRANSACTION
          PREPARE TRANSACTION 'x'                                    | TRANSACTION
          SET search_path = app, public                              | SESSION
          SET SESSION statement_timeout = 1000                       | SESSION
          RESET ALL                                                  | SESSION
          SET a = 1; SET b = 2                                       | SESSION
          SET a = 1; SELECT 1                                        | PIN
          CREATE TEMP TABLE x (a int)                                | PIN
          CREATE LOCAL TEMPORARY TABLE x (a int)                     | PIN
          LISTEN ch                                                  | PIN
          PREPARE q AS SELECT 1                                      | PIN
          SELECT pg_advisory_lock(1)                                 | PIN
          SELECT set_config('a.b', '1', false)                       | PIN
          DECLARE c CURSOR WITH HOLD FOR SELECT 1                    | PIN
          SELECT 1 AS x INTO TEMP t                                  | PIN
          select * into temporary table t from s                     | PIN
          SELECT * INTO LOCAL TEMP t FROM s                          | PIN
          WITH d AS (SELECT 1) SELECT * INTO TEMP t FROM d           | PIN
          SELECT * INTO UNLOGGED t FROM s                            | WRITE
          SELECT * INTO pg_temp.t FROM s                             | PIN
          SELECT * INTO TABLE pg_temp.t FROM s                       | PIN
          CREATE OR REPLACE TEMP VIEW v AS SELECT 1                  | PIN
          CREATE OR REPLACE VIEW v AS SELECT 1                       | WRITE
          CREATE TABLE pg_temp.t (a int)                             | PIN
          create function pg_temp.f() returns int as 'select 1' language sql | PIN
          CREATE TABLE app.t (a int)                                 | WRITE
          CREATE TABLE "pg_temp".t (a int)                           | PIN
          CREATE TABLE "PG_TEMP".t (a int)                           | WRITE
          create table "pg_temp"."T" (a int)                         | PIN
          SELECT * INTO "pg_temp".t FROM s                           | PIN
          SELECT * INTO "t" FROM s                                   | WRITE
          EXPLAIN ANALYZE SELECT 1 AS x INTO TEMP t                  | PIN
          EXPLAIN (ANALYZE) CREATE TEMPORARY TABLE t AS SELECT 1     | PIN
          EXPLAIN ANALYZE SELECT * INTO pg_temp.t FROM s             | PIN
          EXPLAIN SELECT 1 AS x INTO TEMP t                          | READ
          EXPLAIN ANALYZE SELECT pg_advisory_lock(1)                 | PIN
          explain analyze select set_config('a.b', '1', false)       | PIN
          ''                                                         | READ
          """)
  void postgres(String sql, StatementKind expected) {
    assertThat(pg.classify(sql)).isEqualTo(expected);
  }

  @ParameterizedTest(name = "mysql: {0} -> {1}")
  @CsvSource(
      delimiter = '|',
      textBlock =
          """
          SELECT 1                                                   | READ
          select c from sbtest1 where id=5                           | READ
          SELECT @@version, @@session.tx_isolation                   | READ
          SELECT 'x' # FOR UPDATE                                    | READ
          SELECT "lock in share mode", `update` FROM t               | READ
          SHOW TABLES                                                | READ
          DESC t                                                     | READ
          SELECT * FROM t FOR UPDATE                                 | WRITE
          SELECT * FROM t LOCK IN SHARE MODE                         | WRITE
          SELECT LAST_INSERT_ID()                                    | WRITE
          SELECT SQL_CALC_FOUND_ROWS * FROM t                        | WRITE
          SELECT @x                                                  | WRITE
          SHOW WARNINGS                                              | WRITE
          SELECT /*!40001 SQL_NO_CACHE */ * FROM t                   | WRITE
          INSERT INTO t VALUES (1)                                   | WRITE
          UPDATE t SET a = (@n := @n + 1)                            | PIN
          /*!40101 SET NAMES utf8mb4 */                              | SESSION
          UPDATE t SET a = (@'n' := @'n' + 1)                        | PIN
          CALL p(@`out`)                                             | PIN
          SELECT 1 INTO /*!40101 @x */                               | PIN
          CREATE /*!32312 TEMPORARY */ TABLE t (a int)               | PIN
          SELECT GET_LOCK/*!*/('x',1)                                | PIN
          /*!40101 SET NAMES utf8; /*!50000 SELECT GET_LOCK('x',1) */| PIN
          /*M!100100 SET NAMES utf8 */                               | SESSION
          /*!40014 SET FOREIGN_KEY_CHECKS=0 */                       | SESSION
          /*!40101 SET @OLD_SQL_MODE=@@SQL_MODE, SQL_MODE='' */      | PIN
          /*!*/ SELECT GET_LOCK('x',10)                              | PIN
          UPDATE t SET a = 1 /*!, b = GET_LOCK('x',1) */             | PIN
          SELECT /*!40001 SQL_NO_CACHE */ 1; SET @x = 1              | PIN
          SELECT /*!40001 SQL_NO_CACHE */ 1; SELECT 2                | WRITE
          /*!40000 ALTER TABLE t DISABLE KEYS */                     | WRITE
          /*!99999 ' */ SELECT GET_LOCK('x',1) -- ' */               | PIN
          SELECT 1 /*!99999 "*/, GET_LOCK('x',1) # "*/               | PIN
          /*M!100100 `*/ SELECT GET_LOCK('x',1) -- `*/               | PIN
          /*!50003 -- */ SELECT GET_LOCK('x',1)                      | PIN
          /*!50003 CREATE*/ /*!50003 TRIGGER tr BEFORE INSERT ON t FOR EACH ROW SET NEW.a = 'x' */ | WRITE
          SELECT 1 /*!50003 , 'a' */                                 | WRITE
          SELECT 1 /*!99999 '/*' */ -- */ , GET_LOCK('a',1)          | PIN
          /*!99999 SELECT */ SET @x = 1                              | PIN
          /*!99999 SELECT */ LOCK TABLES t WRITE                     | PIN
          /*!99999 SELECT 1 */ SET sql_mode = ''                     | PIN
          /*!99999 SELECT */ /*! CREATE TEMPORARY TABLE t (a INT) */ | PIN
          /*!50003 CREATE*/ /*!50003 TRIGGER tr BEFORE INSERT ON t FOR EACH ROW SET NEW.a = 1 */ | WRITE
          INSERT INTO t VALUES ('O\\'Brien')                         | WRITE
          SELECT 'O\\'Brien' FROM t                                  | READ
          CALL p(@out)                                               | PIN
          UPDATE t SET a := 1                                        | WRITE
          EXPLAIN ANALYZE SELECT GET_LOCK('x',1)                     | PIN
          CREATE TABLE t SELECT GET_LOCK('x',0)                      | PIN
          (SELECT 1 INTO @x)                                         | PIN
          DO GET_LOCK('x', 1)                                        | PIN
          update t set a = 1 where get_lock('x', 0)                  | PIN
          INSERT INTO t VALUES (@x)                                  | PIN
          LOAD DATA INFILE 'f' INTO TABLE t (@a) SET c = @a          | PIN
          UPDATE t SET a = 'get_lock('                               | WRITE
          REPLACE INTO t VALUES (1)                                  | WRITE
          SET GLOBAL max_connections = 10                            | WRITE
          SET @@global.read_only = 0                                 | WRITE
          SET @@persist.max_connections = 10                         | WRITE
          SET SESSION sql_mode = '', GLOBAL max_connections = 10     | WRITE
          SELECT NEXT VALUE FOR seq                                  | WRITE
          SELECT @@identity                                          | WRITE
          SELECT @@session.last_insert_id                            | WRITE
          CREATE OR REPLACE TEMPORARY TABLE x (a int)                | PIN
          SET TRANSACTION ISOLATION LEVEL READ COMMITTED             | WRITE
          SET ROLE reporting                                         | SESSION
          SET ROLE NONE                                              | SESSION
          SET DEFAULT ROLE reporting FOR app                         | WRITE
          SET PASSWORD = PASSWORD('x')                               | WRITE
          BEGIN                                                      | TRANSACTION
          START TRANSACTION                                          | TRANSACTION
          COMMIT                                                     | TRANSACTION
          SET NAMES utf8mb4                                          | SESSION
          SET SESSION sql_mode = 'ANSI'                              | SESSION
          SET sql_mode = 'ANSI', time_zone = '+00:00'                | SESSION
          USE shop                                                   | SESSION
          SET @x = 1                                                 | PIN
          SET sql_mode = '', @x = 1                                  | PIN
          SET autocommit = 0                                         | SESSION
          SELECT @x := 1                                             | PIN
          SELECT a INTO @x FROM t                                    | PIN
          SELECT GET_LOCK('a', 1)                                    | PIN
          LOCK TABLES t WRITE                                        | PIN
          CREATE TEMPORARY TABLE x (a int)                           | PIN
          """)
  void mysql(String sql, StatementKind expected) {
    assertThat(my.classify(sql)).isEqualTo(expected);
  }

  /**
   * A client encoding whose characters' second byte may be a backslash or a backtick (Big5, GBK,
   * Shift JIS): Halo decodes the text as UTF-8, so the classifier cannot tell where such a literal
   * ends, and what follows it may hide a pin (the server, which knows the encoding, runs the lock
   * below). Such a statement pins; the same text in UTF-8 is read as written.
   */
  @Test
  void aLiteralWhoseEndIsUnsureInTextThatWasNotUtf8Pins() throws Exception {
    String big5 = "SELECT '\u8a31', GET_LOCK('x', 1) -- '"; // 許: B3 5C in Big5
    String sjis = "SELECT E'\u8868', pg_advisory_lock(1) --'"; // 表: 95 5C in Shift JIS
    assertThat(my.classify(asDecodedByHalo(big5, "Big5"))).isEqualTo(PIN);
    assertThat(pg.classify(asDecodedByHalo(sjis, "Shift_JIS"))).isEqualTo(PIN);
    assertThat(my.classify(big5)).isEqualTo(PIN); // the lock, read as written
    assertThat(pg.classify(sjis)).isEqualTo(PIN);
    // a standard string has no escapes: its end is certain
    assertThat(pg.classify(asDecodedByHalo("SELECT '\u8868' FROM t", "Shift_JIS"))).isEqualTo(READ);
    assertThat(my.classify(asDecodedByHalo("SELECT '\u4e2d' FROM t", "GBK"))).isEqualTo(READ);
  }

  /** {@code sql} as a client with {@code charset} sends it, decoded as Halo decodes it. */
  private static String asDecodedByHalo(String sql, String charset) {
    return new String(
        sql.getBytes(java.nio.charset.Charset.forName(charset)),
        java.nio.charset.StandardCharsets.UTF_8);
  }

  /**
   * MySQL reads {@code --} as a comment when a space or a control character follows (MariaDB with
   * {@code sql_mode=ORACLE}: always); either reading that finds a lock pins.
   */
  @Test
  void aDashDashCommentAsEitherServerReadsItPins() {
    assertThat(my.classify("SELECT 1 --\u0001 '\n, GET_LOCK(0x61,1) -- '")).isEqualTo(PIN);
    assertThat(my.classify("SELECT 1 --x\n, GET_LOCK('x',1)")).isEqualTo(PIN);
    assertThat(my.classify("SELECT 1 --1")).isEqualTo(READ);
    // PostgreSQL ends a -- comment at a carriage return too
    assertThat(pg.classify("SELECT 1 --\r, pg_advisory_lock(1)")).isEqualTo(PIN);
    assertThat(pg.classify("SELECT 1 -- x\r\n")).isEqualTo(READ);
  }

  /**
   * Strings read backslashes as the session's server does (MySQL's NO_BACKSLASH_ESCAPES,
   * PostgreSQL's standard_conforming_strings = off), as its relay follows them.
   */
  @Test
  void stringsReadBackslashesAsTheServersModeSays() {
    String my1 = "select 'a\\', get_lock('x', 1) -- '";
    assertThat(my.classify(my1)).isEqualTo(READ);
    assertThat(my.classify(my1, true)).isEqualTo(PIN);
    String pg1 = "select 'a\\' , 1 -- ', pg_advisory_lock(1)";
    assertThat(pg.classify(pg1)).isEqualTo(READ);
    assertThat(pg.classify(pg1, true)).isEqualTo(PIN);
    // PHP's escaping, read with escapes as its server reads it: a write, no user variable
    assertThat(my.classify("INSERT INTO u VALUES ('O\\'Brien', 'ob@example.com')"))
        .isEqualTo(WRITE);
  }

  /**
   * MySQL's ANSI_QUOTES (no reply reports it) reads a double quote as an identifier's, where a
   * backslash is a character: for a session that may be in the mode (its settings say so) a
   * double-quoted part with a backslash before a double quote is read both ways, the more binding
   * wins; without such a backslash the two readings are one.
   */
  @Test
  void doubleQuotesAreReadAsIdentifiersTooWhenABackslashMovesTheirEnd() {
    // with ANSI_QUOTES the alias is a\ and the lock runs; as a string it hides the lock
    String hidden = "select 1 as \"a\\\", get_lock('x', 1) -- \"";
    assertThat(my.classify(hidden, false, true)).isEqualTo(PIN);
    assertThat(my.classify(hidden)).as("a session not in the mode").isEqualTo(READ);
    assertThat(my.classify("set statement sql_mode='ANSI_QUOTES' for " + hidden))
        .as("a statement that names the mode")
        .isEqualTo(PIN);
    assertThat(my.classify("select @\"a\\\", get_lock('x', 1) -- \"", false, true)).isEqualTo(PIN);
    // inside an executable comment the server runs
    assertThat(my.classify("/*!40101 select 1 as \"a\\\", get_lock('x', 1) -- \" */", false, true))
        .isEqualTo(PIN);
    // MariaDB's SET STATEMENT ... FOR runs its statement: a lock there pins
    assertThat(my.classify("set statement max_statement_time = 1 for select get_lock('x', 1)"))
        .isEqualTo(PIN);
    assertThat(my.classify("SET STATEMENT sql_mode = '' FOR insert into t values (1)"))
        .isEqualTo(WRITE);
    assertThat(
            my.classify(
                "set statement max_statement_time = 1 for create temporary table t (x int)"))
        .isEqualTo(PIN);
    assertThat(my.classify("set statement max_statement_time = 1 for lock tables t read"))
        .isEqualTo(PIN);
    assertThat(my.classify("set statement max_statement_time = 1 for select 1"))
        .as("never a read")
        .isEqualTo(WRITE);
    // a mode that includes ANSI_QUOTES, named by the statement itself
    assertThat(my.classify("set statement sql_mode = 'ORACLE' for " + hidden)).isEqualTo(PIN);
    // PHP's addslashes in a double-quoted string: a write either way, no pin
    assertThat(my.classify("insert into t values (\"he said \\\"hi\\\"\")", false, true))
        .isEqualTo(WRITE);
    assertThat(my.classify("select \"a\\\"b\" from t", false, true)).isEqualTo(READ);
    // data with an @ after such a string: the ANSI reading sees a variable, so only in the mode
    String email = "insert into u (name, email) values (\"O\\\"Brien\", \"ob@example.com\")";
    assertThat(my.classify(email)).isEqualTo(WRITE);
    assertThat(my.classify(email, false, true)).isEqualTo(PIN);
    // other backslashes end the part at the same place either way
    assertThat(my.classify("select \"a\\\\\", get_lock('x', 1)")).isEqualTo(PIN);
    assertThat(my.classify("select \"a\\nb\", 1 -- \", get_lock('x', 1)", false, true))
        .isEqualTo(READ);
    // without backslash escapes (NO_BACKSLASH_ESCAPES, which the server reports) there is no escape
    assertThat(my.classify(hidden, true)).isEqualTo(PIN);
    // PostgreSQL's double quotes are identifiers, backslashes or not
    assertThat(pg.classify("select 1 as \"a\\\", pg_advisory_lock(1) -- \"")).isEqualTo(PIN);
  }

  @Test
  void lineComments() {
    assertThat(pg.classify("-- DELETE\nSELECT 1")).isEqualTo(READ);
    assertThat(pg.classify("SELECT 1 -- ; DELETE FROM t")).isEqualTo(READ);
    assertThat(my.classify("# DELETE\nSELECT 1")).isEqualTo(READ);
    assertThat(my.classify("-- DELETE\nSELECT 1")).isEqualTo(READ);
    assertThat(my.classify("SELECT 1 --1")).isEqualTo(READ);
  }

  @Test
  void unterminatedLiteralsAndCommentsEndTheText() {
    assertThat(pg.classify("SELECT 'abc")).isEqualTo(READ);
    assertThat(pg.classify("SELECT 1 /* never closed")).isEqualTo(READ);
    assertThat(pg.classify("SELECT $a$ never closed")).isEqualTo(READ);
    assertThat(my.classify("SELECT 'a\\'; DELETE FROM t")).isEqualTo(READ);
    assertThat(pg.classify("SELECT 'a\\'; DELETE FROM t")).isEqualTo(WRITE);
  }

  @Test
  void cacheGivesTheSameAnswerAndSkipsLongTexts() {
    StatementClassifier cached = StatementClassifier.cached(pg, 100);
    assertThat(cached.classify("SELECT 1")).isEqualTo(READ);
    assertThat(cached.classify("SELECT 1")).isEqualTo(READ);
    assertThat(cached.classify("INSERT INTO t VALUES (1)")).isEqualTo(WRITE);
    String longRead = "SELECT " + "1 + ".repeat(2000) + "1";
    assertThat(cached.classify(longRead)).isEqualTo(READ);
    assertThat(cached.classify(longRead + " FOR UPDATE")).isEqualTo(WRITE);
  }

  @Test
  void theCacheTakesATextAtItsSecondSightingOnly() {
    java.util.Map<String, Integer> classified = new java.util.HashMap<>();
    StatementClassifier counting =
        sql -> {
          classified.merge(sql, 1, Integer::sum);
          return pg.classify(sql);
        };
    StatementClassifier cached = StatementClassifier.cached(counting, 100);
    // statements with inline literals, each seen once: classified once each, never cached
    for (int i = 0; i < 50; i++) {
      assertThat(cached.classify("SELECT abalance FROM a WHERE aid = " + i)).isEqualTo(READ);
    }
    assertThat(classified.values()).containsOnly(1);
    // a repeated text: classified at its first and second sighting, then answered by the cache
    for (int i = 0; i < 5; i++) {
      assertThat(cached.classify("UPDATE a SET x = $1")).isEqualTo(WRITE);
    }
    assertThat(classified).containsEntry("UPDATE a SET x = $1", 2);
  }

  @Test
  void combiningKindsTakesTheMostBinding() {
    assertThat(READ.and(WRITE)).isEqualTo(WRITE);
    assertThat(WRITE.and(TRANSACTION)).isEqualTo(TRANSACTION);
    assertThat(TRANSACTION.and(PIN)).isEqualTo(PIN);
    assertThat(SESSION.and(READ)).isEqualTo(PIN);
    assertThat(SESSION.and(SESSION)).isEqualTo(SESSION);
  }

  @Test
  void brinMaintenanceIsAWrite() {
    StatementClassifier pg = StatementClassifier.postgres();
    assertThat(pg.classify("select brin_summarize_new_values('i')")).isEqualTo(WRITE);
    assertThat(pg.classify("SELECT brin_summarize_range('i', 0)")).isEqualTo(WRITE);
    assertThat(pg.classify("select brin_desummarize_range('i', 0)")).isEqualTo(WRITE);
    assertThat(pg.classify("select gin_clean_pending_list('i')")).isEqualTo(WRITE);
  }

  @Test
  void calledFunctionsNamesEveryCallButNotSyntax() {
    StatementClassifier pg = StatementClassifier.cached(StatementClassifier.postgres(), 10);
    assertThat(
            pg.calledFunctions(
                "select app.bump(1), lower(x) from t where id in (select f()) and exists (select 1)"))
        .containsExactlyInAnyOrder("bump", "lower", "f");
    assertThat(pg.calledFunctions("select 'g(' || s.\"Quo\"\"ted\"(1) -- h(\n"))
        .containsExactly("Quo\"ted");
    assertThat(pg.calledFunctions("select count(*) from t")).containsExactly("count");
    assertThat(pg.calledFunctions("select 1")).isEmpty();
    pg.calledFunctions("select f()"); // cached from its second sighting
    assertThat(pg.calledFunctions("select f()")).isSameAs(pg.calledFunctions("select f()"));
    assertThat(StatementClassifier.mysql().calledFunctions("select now(), uuid()"))
        .containsExactlyInAnyOrder("now", "uuid");
  }
}

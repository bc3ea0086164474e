package io.halo.proxy;

import static org.assertj.core.api.Assertions.assertThat;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.AppenderBase;
import io.halo.conf.model.AdminConfig;
import io.halo.conf.model.AuthMethod;
import io.halo.conf.model.BackendConfig;
import io.halo.conf.model.BackendRole;
import io.halo.conf.model.ClusterConfig;
import io.halo.conf.model.Engine;
import io.halo.conf.model.FailoverConfig;
import io.halo.conf.model.HaloConfig;
import io.halo.conf.model.HostPort;
import io.halo.conf.model.ListenerConfig;
import io.halo.conf.model.MonitorConfig;
import io.halo.conf.model.Route;
import io.halo.conf.model.ServerConfig;
import io.halo.conf.model.ThrottleConfig;
import io.halo.conf.model.UserConfig;
import io.halo.testkit.KeepLogsOnFailure;
import io.halo.testkit.MariaDbCluster;
import io.halo.testkit.PgCluster;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import java.util.Random;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.slf4j.LoggerFactory;

/**
 * Protocol fuzzing of both frontends (issue 9.9): a seeded generator sends malformed, truncated,
 * oversized and random input to Halo's PostgreSQL and MySQL listeners, before and after login, and
 * checks what a client and an operator would: every connection is answered or closed in time
 * (before login within the auth timeout; after login once the client has stopped sending), Halo
 * logs no stack trace and Netty reports no leaked buffer (the build runs with paranoid leak
 * detection), normal logins work afterwards, and memory stays bounded.
 *
 * <p>{@code -Dfuzz.seed=N} (default fixed) and {@code -Dfuzz.cases=N} (per engine, default 300)
 * choose the run; {@code bench/fuzz.sh} runs it longer. A failure names the seed and case.
 */
class ProtocolFuzzIT {

  @RegisterExtension static final KeepLogsOnFailure LOGS = new KeepLogsOnFailure();

  static final long SEED = Long.getLong("fuzz.seed", 20261204L);
  static final int CASES = Integer.getInteger("fuzz.cases", 300);

  /**
   * When set, rounds of {@link #CASES} cases (seed, seed + 1, ...) run until this many seconds
   * passed.
   */
  static final long SECONDS = Long.getLong("fuzz.seconds", 0);

  static final Duration AUTH_TIMEOUT = Duration.ofSeconds(2);

  /**
   * How long past the auth timeout a connection may take to close (scheduling on a busy machine).
   */
  static final Duration SLACK = Duration.ofSeconds(3);

  static PgCluster pg;
  static MariaDbCluster maria;
  static HaloServer halo;
  static int pgPort;
  static int myPort;

  /** The same clusters' listeners with {@code pool_mode: transaction}: the split engine. */
  static int pgPooledPort;

  static int myPooledPort;

  static final io.halo.conf.model.PoolConfig TX_POOL =
      new io.halo.conf.model.PoolConfig(
          io.halo.conf.model.PoolConfig.Mode.TRANSACTION,
          8,
          Duration.ofMinutes(5),
          Duration.ofHours(1),
          8,
          Duration.ofSeconds(2),
          16);
  static final ConcurrentLinkedQueue<String> traces = new ConcurrentLinkedQueue<>();
  static AppenderBase<ILoggingEvent> appender;

  @BeforeAll
  static void start() throws Exception {
    pg =
        LOGS.watch(PgCluster.builder().name("fuzzpg").user("app", "apppw").database("app").start());
    maria = MariaDbCluster.builder().name("fuzzmy").user("app", "apppw").database("app").start();
    // the table the generated COPY, LOCK TABLES and LOAD DATA name
    try (Connection c = pg.primary().connectAsSuperuser();
        java.sql.Statement st = c.createStatement()) {
      st.execute("ALTER DATABASE app OWNER TO app");
    }
    try (Connection c = pg.primary().connect("app", "apppw", "app");
        java.sql.Statement st = c.createStatement()) {
      st.execute("create table fuzz_in (i int)");
    }
    try (Connection c = maria.primary().connectAsRoot();
        java.sql.Statement st = c.createStatement()) {
      st.execute("create table app.fuzz_in (i int)");
    }
    List<UserConfig> users =
        List.of(
            new UserConfig("app", "apppw", AuthMethod.SCRAM_SHA_256, "app", "apppw"),
            new UserConfig("md5", "md5pw", AuthMethod.MD5, "app", "apppw"),
            new UserConfig("local", null, AuthMethod.TRUST, "app", "apppw"));
    ServerConfig server =
        new ServerConfig(
            2,
            AUTH_TIMEOUT,
            Duration.ofSeconds(5),
            1 << 20,
            Duration.ofSeconds(2),
            null,
            0,
            ServerConfig.DEFAULT_MAX_UNAUTHENTICATED_PER_ADDRESS,
            Duration.ofSeconds(1),
            ServerConfig.Transport.AUTO);
    ThrottleConfig throttle = new ThrottleConfig(500, 500, Duration.ofSeconds(2));
    FailoverConfig manual =
        new FailoverConfig(
            FailoverConfig.Mode.MANUAL,
            FailoverConfig.Type.HOT,
            16L << 20,
            Duration.ofSeconds(10),
            null,
            null,
            null,
            Duration.ofSeconds(30));
    ClusterConfig pgCluster =
        new ClusterConfig(
            "pg",
            Engine.POSTGRESQL,
            listeners(),
            List.of(
                new BackendConfig(
                    "pg1",
                    new HostPort(pg.primary().host(), pg.primary().port()),
                    BackendRole.PRIMARY,
                    0)),
            new MonitorConfig(
                pg.superuser(),
                pg.superuserPassword(),
                "postgres",
                Duration.ofMillis(500),
                Duration.ofSeconds(1),
                3,
                2),
            manual,
            throttle);
    ClusterConfig myCluster =
        new ClusterConfig(
            "my",
            Engine.MYSQL,
            listeners(),
            List.of(
                new BackendConfig(
                    "db1",
                    new HostPort("127.0.0.1", maria.primary().port()),
                    BackendRole.PRIMARY,
                    0)),
            new MonitorConfig(
                maria.rootUser(),
                null,
                "mysql",
                Duration.ofMillis(500),
                Duration.ofSeconds(1),
                3,
                2),
            manual,
            throttle);
    halo =
        HaloServer.start(
            new HaloConfig(
                null,
                server,
                new AdminConfig(new HostPort("127.0.0.1", 0), null),
                users,
                List.of(pgCluster, myCluster)));
    pgPort = halo.boundAddresses().get(0).getPort();
    pgPooledPort = halo.boundAddresses().get(1).getPort();
    myPort = halo.boundAddresses().get(2).getPort();
    myPooledPort = halo.boundAddresses().get(3).getPort();
    appender =
        new AppenderBase<>() {
          @Override
          protected void append(ILoggingEvent e) {
            if (e.getLoggerName().endsWith("ResourceLeakDetector")) {
              traces.add("buffer leak: " + e.getFormattedMessage().lines().findFirst().orElse(""));
            } else if (e.getThrowableProxy() != null && e.getLoggerName().startsWith("io.halo")) {
              traces.add(
                  e.getLoggerName()
                      + ": "
                      + e.getFormattedMessage()
                      + ": "
                      + e.getThrowableProxy().getClassName()
                      + ": "
                      + e.getThrowableProxy().getMessage());
            }
          }
        };
    Logger root = (Logger) LoggerFactory.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME);
    appender.setContext(root.getLoggerContext());
    appender.start();
    root.addAppender(appender);
  }

  /** A plain relay and a transaction-pooled listener, both {@code route: primary}. */
  static List<ListenerConfig> listeners() {
    ListenerConfig plain =
        new ListenerConfig(new HostPort("127.0.0.1", 0), Route.PRIMARY, 500, true);
    return List.of(plain, plain.withPool(TX_POOL));
  }

  @AfterAll
  static void stop() {
    if (appender != null) {
      ((Logger) LoggerFactory.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME))
          .detachAppender(appender);
    }
    if (halo != null) {
      halo.close();
    }
    if (maria != null) {
      maria.close();
    }
    HaloFixture.stop(null, pg);
  }

  /**
   * One fuzz case: what to send, whether to log in first, and whether to stop sending (FIN) after.
   */
  record Case(int number, String kind, boolean login, List<byte[]> chunks) {}

  // ------------------------------------------------------------------ PostgreSQL generator

  static byte[] pgStartup(Random r, String user) {
    ByteArrayOutputStream body = new ByteArrayOutputStream();
    List<String> kv = new ArrayList<>(List.of("user", user, "database", "app"));
    if (r.nextInt(4) == 0) {
      kv.add(randomText(r, 1 + r.nextInt(40)));
      kv.add(randomText(r, r.nextInt(200)));
    }
    for (String s : kv) {
      body.writeBytes(s.getBytes(StandardCharsets.UTF_8));
      body.write(0);
    }
    body.write(0);
    byte[] b = body.toByteArray();
    return ByteBuffer.allocate(8 + b.length).putInt(8 + b.length).putInt(196608).put(b).array();
  }

  static byte[] pgTyped(Random r) {
    int type = r.nextInt(8) == 0 ? 0 : r.nextInt(256);
    int bodyLength = r.nextInt(64);
    int declared =
        switch (r.nextInt(6)) {
          case 0 -> -1 - r.nextInt(100);
          case 1 -> r.nextInt(4);
          case 2 -> Integer.MAX_VALUE - r.nextInt(100);
          case 3 -> 4 + bodyLength + 1 + r.nextInt(1000);
          default -> 4 + bodyLength;
        };
    byte[] body = new byte[bodyLength];
    r.nextBytes(body);
    return ByteBuffer.allocate(5 + bodyLength).put((byte) type).putInt(declared).put(body).array();
  }

  static Case pgCase(Random r, int n) {
    List<byte[]> chunks = new ArrayList<>();
    String kind;
    boolean login = false;
    switch (r.nextInt(11)) {
      case 0 -> {
        kind = "random bytes";
        chunks.add(randomBytes(r));
      }
      case 1 -> {
        kind = "startup with a mutated length";
        byte[] s = pgStartup(r, "app");
        int len =
            switch (r.nextInt(5)) {
              case 0 -> 0;
              case 1 -> -1;
              case 2 -> Integer.MAX_VALUE;
              case 3 -> s.length + 1;
              default -> s.length - 1 - r.nextInt(Math.min(8, s.length - 1));
            };
        ByteBuffer.wrap(s).putInt(0, len);
        chunks.add(s);
      }
      case 2 -> {
        kind = "truncated startup";
        byte[] s = pgStartup(r, "app");
        chunks.add(java.util.Arrays.copyOf(s, r.nextInt(s.length)));
      }
      case 3 -> {
        kind = "SSL/GSSENC/cancel request variants";
        int code = new int[] {80877103, 80877104, 80877102, r.nextInt()}[r.nextInt(4)];
        int len = r.nextBoolean() ? (code == 80877102 ? 16 : 8) : r.nextInt(64);
        ByteBuffer b = ByteBuffer.allocate(Math.max(8, Math.min(len, 64))).putInt(len).putInt(code);
        chunks.add(b.array());
        if (r.nextBoolean()) {
          chunks.add(pgStartup(r, "app"));
        }
      }
      case 4 -> {
        kind = "startup, then typed messages before the password";
        chunks.add(pgStartup(r, r.nextBoolean() ? "app" : "md5"));
        for (int i = 0, m = 1 + r.nextInt(3); i < m; i++) {
          chunks.add(pgTyped(r));
        }
      }
      case 5 -> {
        kind = "startup for an unknown or odd user";
        chunks.add(pgStartup(r, r.nextBoolean() ? "nobody" : randomText(r, r.nextInt(100))));
      }
      case 6 -> {
        kind = "two startup packets";
        chunks.add(pgStartup(r, "local"));
        chunks.add(pgStartup(r, "app"));
      }
      case 7, 8 -> {
        kind = "after login: well-formed messages in any order";
        login = true;
        for (int i = 0, m = 1 + r.nextInt(12); i < m; i++) {
          chunks.add(pgMessage(r));
        }
      }
      default -> {
        kind = "after login: typed messages";
        login = true;
        for (int i = 0, m = 1 + r.nextInt(4); i < m; i++) {
          chunks.add(pgTyped(r));
        }
      }
    }
    return new Case(n, kind, login, split(r, chunks));
  }

  /** Statements that start, end or pin transactions, set things, copy, fail or do nothing. */
  static final String[] PG_SQL = {
    "select 1",
    "select $1::int",
    "begin",
    "commit",
    "rollback",
    "savepoint a",
    "release a",
    "set work_mem = '8MB'",
    "set local work_mem = '9MB'",
    "reset all",
    "discard all",
    "select pg_try_advisory_lock(7)",
    "create temp table t (i int)",
    "listen fuzz",
    "prepare p as select 1",
    "deallocate all",
    "copy (select 1) to stdout",
    "copy fuzz_in from stdin",
    "set transaction isolation level serializable",
    "select 1; select 2",
    "select from",
    "",
    "show all",
    "select set_config('work_mem', '7MB', false)"
  };

  static final String[] NAMES = {"", "s1", "S_1", "p"};

  /** One PostgreSQL frontend message of a real type, well framed, with plausible contents. */
  static byte[] pgMessage(Random r) {
    ByteArrayOutputStream b = new ByteArrayOutputStream();
    char type;
    switch (r.nextInt(13)) {
      case 0 -> {
        type = 'Q';
        cstring(b, PG_SQL[r.nextInt(PG_SQL.length)]);
      }
      case 1, 2 -> {
        type = 'P';
        cstring(b, NAMES[r.nextInt(NAMES.length)]);
        cstring(b, PG_SQL[r.nextInt(PG_SQL.length)]);
        int n = r.nextInt(3);
        short2(b, n);
        for (int i = 0; i < n; i++) {
          int2(b, r.nextBoolean() ? 23 : r.nextInt(5000));
        }
      }
      case 3, 4 -> {
        type = 'B';
        cstring(b, r.nextBoolean() ? "" : "portal");
        cstring(b, NAMES[r.nextInt(NAMES.length)]);
        int formats = r.nextInt(2); // parameter format codes: none (all text), or one for all
        short2(b, formats);
        if (formats == 1) {
          short2(b, 0);
        }
        int params = r.nextInt(3);
        short2(b, params);
        for (int i = 0; i < params; i++) {
          if (r.nextInt(4) == 0) {
            int2(b, -1); // NULL
          } else {
            byte[] v = Integer.toString(r.nextInt(100)).getBytes(StandardCharsets.US_ASCII);
            // now and then a value length past the message's end: the server must refuse it
            int2(b, r.nextInt(6) == 0 ? v.length + 50 : v.length);
            b.writeBytes(v);
          }
        }
        short2(b, 0);
      }
      case 5 -> {
        type = 'D';
        b.write(r.nextBoolean() ? 'S' : 'P');
        cstring(b, NAMES[r.nextInt(NAMES.length)]);
      }
      case 6, 7 -> {
        type = 'E';
        cstring(b, r.nextBoolean() ? "" : "portal");
        int2(b, r.nextInt(3));
      }
      case 8 -> type = 'S';
      case 9 -> type = 'H';
      case 10 -> {
        type = 'C';
        b.write(r.nextBoolean() ? 'S' : 'P');
        cstring(b, NAMES[r.nextInt(NAMES.length)]);
      }
      case 11 -> {
        type = "dcf".charAt(r.nextInt(3));
        if (type != 'c') {
          b.writeBytes(randomText(r, r.nextInt(20)).getBytes(StandardCharsets.UTF_8));
          if (type == 'f') {
            b.write(0);
          }
        }
      }
      default -> {
        type = 'F';
        int2(b, r.nextBoolean() ? 1598 : r.nextInt(20000)); // lo_open, or any OID
        short2(b, 0);
        short2(b, 0);
        short2(b, 0);
      }
    }
    byte[] body = b.toByteArray();
    return ByteBuffer.allocate(5 + body.length)
        .put((byte) type)
        .putInt(4 + body.length)
        .put(body)
        .array();
  }

  static void cstring(ByteArrayOutputStream b, String s) {
    b.writeBytes(s.getBytes(StandardCharsets.UTF_8));
    b.write(0);
  }

  static void short2(ByteArrayOutputStream b, int v) {
    b.write(v >> 8);
    b.write(v);
  }

  static void int2(ByteArrayOutputStream b, int v) {
    b.writeBytes(ByteBuffer.allocate(4).putInt(v).array());
  }

  // ------------------------------------------------------------------ MySQL generator

  static byte[] myPacket(int seq, byte[] payload, int declaredLength) {
    return ByteBuffer.allocate(4 + payload.length)
        .put((byte) declaredLength)
        .put((byte) (declaredLength >> 8))
        .put((byte) (declaredLength >> 16))
        .put((byte) seq)
        .put(payload)
        .array();
  }

  static byte[] myHandshakeResponse(Random r, String user) {
    ByteArrayOutputStream p = new ByteArrayOutputStream();
    int caps =
        1 | 1 << 3 | 1 << 9 | 1 << 15 | 1 << 19 | (r.nextInt(3) == 0 ? r.nextInt() : 1 << 21);
    p.write(caps);
    p.write(caps >> 8);
    p.write(caps >> 16);
    p.write(caps >> 24);
    p.writeBytes(new byte[] {0, 0, 0, 1, 45});
    p.writeBytes(new byte[23]);
    p.writeBytes(user.getBytes(StandardCharsets.UTF_8));
    p.write(0);
    switch (r.nextInt(4)) {
      case 0 -> p.write(0xfb); // lenenc NULL as a length
      case 1 -> p.writeBytes(new byte[] {(byte) 0xfe, -1, -1, -1, 127, 0, 0, 0, 0}); // huge lenenc
      case 2 ->
          p.writeBytes(new byte[] {(byte) 0xfc, (byte) 0xff, (byte) 0xff}); // 65535, not present
      default -> {
        p.write(20);
        byte[] t = new byte[20];
        r.nextBytes(t);
        p.writeBytes(t);
      }
    }
    if (r.nextBoolean()) {
      p.writeBytes("app\0caching_sha2_password\0".getBytes(StandardCharsets.US_ASCII));
    }
    byte[] b = p.toByteArray();
    return r.nextInt(4) == 0 ? java.util.Arrays.copyOf(b, r.nextInt(b.length)) : b;
  }

  static Case myCase(Random r, int n) {
    List<byte[]> chunks = new ArrayList<>();
    String kind;
    boolean login = false;
    switch (r.nextInt(9)) {
      case 0 -> {
        kind = "random bytes";
        chunks.add(randomBytes(r));
      }
      case 1 -> {
        kind = "handshake response with mutated lengths";
        byte[] h = myHandshakeResponse(r, r.nextBoolean() ? "app" : randomText(r, r.nextInt(60)));
        chunks.add(myPacket(1, h, h.length));
      }
      case 2 -> {
        kind = "handshake with a wrong sequence id or packet length";
        byte[] h = myHandshakeResponse(r, "app");
        int len =
            switch (r.nextInt(3)) {
              case 0 -> 0xffffff;
              case 1 -> h.length + 1 + r.nextInt(100);
              default -> h.length;
            };
        chunks.add(myPacket(r.nextInt(256), h, len));
      }
      case 3 -> {
        kind = "short SSL request";
        byte[] ssl = new byte[32];
        ByteBuffer.wrap(ssl).put(0, (byte) 0xff).put(1, (byte) 0xff);
        chunks.add(myPacket(1, ssl, 32));
      }
      case 4, 5 -> {
        kind = "after login: well-formed commands in any order";
        login = true;
        for (int i = 0, m = 1 + r.nextInt(8); i < m; i++) {
          byte[] body = myCommand(r);
          chunks.add(myPacket(0, body, body.length));
        }
      }
      default -> {
        kind = "after login: commands with mutated bodies";
        login = true;
        for (int i = 0, m = 1 + r.nextInt(4); i < m; i++) {
          byte[] body = new byte[r.nextInt(40)];
          r.nextBytes(body);
          if (body.length > 0 && r.nextBoolean()) {
            body[0] =
                (byte)
                    new int[] {0x03, 0x16, 0x17, 0x19, 0x1a, 0x11, 0x0e, 0x1f, 0x18, 0x00}
                        [r.nextInt(10)];
          }
          int declared = r.nextInt(8) == 0 ? 0xffffff : body.length;
          chunks.add(myPacket(r.nextInt(6) == 0 ? r.nextInt(256) : 0, body, declared));
        }
      }
    }
    return new Case(n, kind, login, split(r, chunks));
  }

  static final String[] MY_SQL = {
    "select 1",
    "select ?",
    "begin",
    "commit",
    "rollback",
    "set autocommit = 0",
    "set autocommit = 1",
    "set @x = 1",
    "select @x",
    "select get_lock('fuzz', 0)",
    "set transaction isolation level serializable",
    "set session sql_mode = 'ANSI_QUOTES'",
    "set names utf8mb4",
    "create temporary table t (i int)",
    "lock tables fuzz_in read",
    "unlock tables",
    "load data local infile 'x' into table fuzz_in",
    "use app",
    "select 1; select 2",
    "select from",
    "",
    "show warnings",
    "select last_insert_id()"
  };

  /** One MySQL command of a real kind, with plausible contents (statement ids 1 to 3). */
  static byte[] myCommand(Random r) {
    ByteArrayOutputStream b = new ByteArrayOutputStream();
    String sql = MY_SQL[r.nextInt(MY_SQL.length)];
    switch (r.nextInt(11)) {
      case 0, 1, 2 -> {
        b.write(0x03); // COM_QUERY
        b.writeBytes(sql.getBytes(StandardCharsets.UTF_8));
      }
      case 3 -> {
        b.write(0x16); // COM_STMT_PREPARE
        b.writeBytes(sql.getBytes(StandardCharsets.UTF_8));
      }
      case 4 -> {
        b.write(0x17); // COM_STMT_EXECUTE: id, flags, iterations, then perhaps a parameter
        b.writeBytes(new byte[] {(byte) (1 + r.nextInt(3)), 0, 0, 0, 0, 1, 0, 0, 0});
        if (r.nextBoolean()) {
          b.writeBytes(new byte[] {0, 1, 8, 0, 7, 0, 0, 0, 0, 0, 0, 0}); // bitmap, types, BIGINT 7
        }
      }
      case 5 -> {
        b.write(r.nextBoolean() ? 0x19 : 0x1a); // COM_STMT_CLOSE, COM_STMT_RESET
        b.writeBytes(new byte[] {(byte) (1 + r.nextInt(3)), 0, 0, 0});
      }
      case 6 -> {
        b.write(0x18); // COM_STMT_SEND_LONG_DATA
        b.writeBytes(new byte[] {(byte) (1 + r.nextInt(3)), 0, 0, 0, 0, 0});
        b.writeBytes(randomText(r, r.nextInt(30)).getBytes(StandardCharsets.UTF_8));
      }
      case 7 -> b.write(r.nextBoolean() ? 0x0e : 0x1f); // COM_PING, COM_RESET_CONNECTION
      case 8 -> {
        b.write(0x02); // COM_INIT_DB
        b.writeBytes(
            (r.nextBoolean() ? "app" : randomText(r, r.nextInt(20)))
                .getBytes(StandardCharsets.UTF_8));
      }
      case 9 -> {
        b.write(0x1b); // COM_SET_OPTION
        b.writeBytes(new byte[] {(byte) r.nextInt(3), 0});
      }
      default -> {
        b.write(0x11); // COM_CHANGE_USER, cut short or with an unknown user
        b.writeBytes("nobody\0".getBytes(StandardCharsets.US_ASCII));
        if (r.nextBoolean()) {
          b.writeBytes(new byte[] {0, 'a', 'p', 'p', 0});
        }
      }
    }
    return b.toByteArray();
  }

  // ------------------------------------------------------------------ running cases

  /** Up to 300 random bytes. */
  static byte[] randomBytes(Random r) {
    byte[] b = new byte[r.nextInt(300)];
    r.nextBytes(b);
    return b;
  }

  static String randomText(Random r, int n) {
    StringBuilder sb = new StringBuilder();
    for (int i = 0; i < n; i++) {
      sb.append((char) (r.nextInt(5) == 0 ? r.nextInt(0x3000) : 32 + r.nextInt(95)));
    }
    return sb.toString().replace('\0', 'x');
  }

  /** The same bytes cut at random points, so that framing never depends on TCP segments. */
  static List<byte[]> split(Random r, List<byte[]> chunks) {
    ByteArrayOutputStream all = new ByteArrayOutputStream();
    chunks.forEach(all::writeBytes);
    byte[] b = all.toByteArray();
    List<byte[]> out = new ArrayList<>();
    int i = 0;
    while (i < b.length) {
      int n = r.nextInt(3) == 0 ? 1 + r.nextInt(Math.max(1, b.length - i)) : b.length - i;
      out.add(java.util.Arrays.copyOfRange(b, i, i + n));
      i += n;
    }
    return out;
  }

  /** Logs in the trust user "local" on a raw socket: PostgreSQL startup or a MySQL handshake. */
  static void login(Socket s, boolean mysql) throws IOException {
    InputStream in = s.getInputStream();
    OutputStream out = s.getOutputStream();
    if (mysql) {
      readMyPacket(in); // greeting
      ByteArrayOutputStream p = new ByteArrayOutputStream();
      // with CLIENT_LOCAL_FILES (1 << 7), so that LOAD DATA LOCAL reaches its file request
      int caps = 1 | 1 << 3 | 1 << 7 | 1 << 9 | 1 << 15;
      p.writeBytes(
          new byte[] {
            (byte) caps,
            (byte) (caps >> 8),
            (byte) (caps >> 16),
            (byte) (caps >> 24),
            0,
            0,
            0,
            1,
            45
          });
      p.writeBytes(new byte[23]);
      p.writeBytes("local".getBytes(StandardCharsets.US_ASCII));
      p.write(0);
      p.write(0); // empty auth response
      p.writeBytes("app".getBytes(StandardCharsets.US_ASCII));
      p.write(0);
      byte[] payload = p.toByteArray();
      out.write(myPacket(1, payload, payload.length));
      out.flush();
      byte[] ok = readMyPacket(in);
      if (ok.length == 0 || ok[0] != 0) {
        throw new IOException(
            "MySQL login of 'local' failed: first byte " + (ok.length == 0 ? -1 : ok[0]));
      }
    } else {
      out.write(pgStartup(new Random(0), "local"));
      out.flush();
      while (true) {
        int type = in.read();
        if (type < 0) {
          throw new IOException("closed during login");
        }
        byte[] len = in.readNBytes(4);
        int n = ByteBuffer.wrap(len).getInt() - 4;
        in.readNBytes(n);
        if (type == 'Z') {
          return;
        }
        if (type == 'E') {
          throw new IOException("PostgreSQL login of 'local' failed");
        }
      }
    }
  }

  static byte[] readMyPacket(InputStream in) throws IOException {
    byte[] h = in.readNBytes(4);
    if (h.length < 4) {
      throw new IOException("closed");
    }
    int len = (h[0] & 0xff) | (h[1] & 0xff) << 8 | (h[2] & 0xff) << 16;
    return in.readNBytes(len);
  }

  /**
   * Runs one case; returns null when Halo answered or closed in time, else what went wrong. Before
   * login the client sends its bytes and then waits silently: Halo must close within the auth
   * timeout. After login it sends its bytes and then closes its side: Halo must close too.
   */
  static String run(Case c, int port, boolean mysql) {
    long deadline = System.nanoTime() + AUTH_TIMEOUT.plus(SLACK).toNanos();
    try (Socket s = new Socket()) {
      s.connect(new InetSocketAddress("127.0.0.1", port), 5_000);
      if (c.login()) {
        s.setSoTimeout(5_000);
        login(s, mysql);
      }
      OutputStream out = s.getOutputStream();
      try {
        for (byte[] chunk : c.chunks()) {
          out.write(chunk);
          out.flush();
        }
        if (c.login()) {
          s.shutdownOutput();
        }
      } catch (IOException e) {
        return null; // Halo closed while we wrote: that is an answer
      }
      InputStream in = s.getInputStream();
      byte[] sink = new byte[8192];
      while (true) {
        long left = (deadline - System.nanoTime()) / 1_000_000;
        if (left <= 0) {
          return "still open " + AUTH_TIMEOUT.plus(SLACK).toMillis() + " ms after the case began";
        }
        s.setSoTimeout((int) left);
        try {
          if (in.read(sink) < 0) {
            return null;
          }
        } catch (SocketTimeoutException e) {
          return "still open " + AUTH_TIMEOUT.plus(SLACK).toMillis() + " ms after the case began";
        } catch (IOException e) {
          return null; // reset: closed
        }
      }
    } catch (IOException e) {
      return c.login() ? "login before the case failed: " + e.getMessage() : null;
    }
  }

  void fuzz(boolean mysql) throws Exception {
    long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(SECONDS);
    int rounds = 0;
    do {
      fuzzRound(mysql, SEED + rounds);
      rounds++;
    } while (System.nanoTime() < until);
    System.out.printf(
        "%s fuzz: %d round(s) of %d cases, seeds %d..%d, all passed%n",
        mysql ? "MySQL" : "PostgreSQL", rounds, CASES, SEED, SEED + rounds - 1);
  }

  void fuzzRound(boolean mysql, long seed) throws Exception {
    Random r = new Random(seed ^ (mysql ? 0x5eed : 0));
    List<Case> cases = new ArrayList<>();
    for (int i = 0; i < CASES; i++) {
      cases.add(mysql ? myCase(r, i) : pgCase(r, i));
    }
    ExecutorService pool = Executors.newFixedThreadPool(32);
    List<String> failures = new ArrayList<>();
    try {
      List<Future<String>> results = new ArrayList<>();
      for (Case c : cases) {
        results.add(
            pool.submit(
                () -> {
                  // half the cases that log in run through the transaction-pooled listener
                  boolean pooled = c.login() && c.number() % 2 == 1;
                  int port =
                      mysql ? (pooled ? myPooledPort : myPort) : (pooled ? pgPooledPort : pgPort);
                  String why = run(c, port, mysql);
                  return why == null ? null : "case " + c.number() + " (" + c.kind() + "): " + why;
                }));
      }
      for (Future<String> f : results) {
        String why = f.get(60, TimeUnit.SECONDS);
        if (why != null) {
          failures.add(why);
        }
      }
    } finally {
      pool.shutdownNow();
    }
    String run = (mysql ? "MySQL" : "PostgreSQL") + " fuzz, seed " + seed + ", " + CASES + " cases";
    assertThat(failures).as(run).isEmpty();
    assertThat(traces).as(run + ": stack traces logged by Halo").isEmpty();
    // A normal login still works, on both listeners
    for (int port : mysql ? new int[] {myPort, myPooledPort} : new int[] {pgPort, pgPooledPort}) {
      if (mysql) {
        Properties p = new Properties();
        p.setProperty("user", "app");
        p.setProperty("password", "apppw");
        p.setProperty("sslMode", "DISABLED");
        try (Connection c =
                DriverManager.getConnection("jdbc:mysql://127.0.0.1:" + port + "/app", p);
            ResultSet rs = c.createStatement().executeQuery("select 1")) {
          assertThat(rs.next()).isTrue();
        }
      } else {
        try (Connection c =
                DriverManager.getConnection(
                    "jdbc:postgresql://127.0.0.1:" + port + "/app", "app", "apppw");
            ResultSet rs = c.createStatement().executeQuery("select 1")) {
          assertThat(rs.next()).isTrue();
        }
      }
    }
    // Memory stays bounded: heap after a collection, and Netty's direct memory
    System.gc();
    long heap = Runtime.getRuntime().totalMemory() - Runtime.getRuntime().freeMemory();
    assertThat(heap).as(run + ": heap in use after GC").isLessThan(512L << 20);
    assertThat(io.netty.util.internal.PlatformDependent.usedDirectMemory())
        .as(run + ": Netty direct memory")
        .isLessThan(256L << 20);
    System.out.printf(
        "%s: every connection answered or closed in time, no stack trace, heap %d MB%n",
        run, heap >> 20);
  }

  @Test
  void postgresql_frontend_survives_fuzzed_input() throws Exception {
    fuzz(false);
  }

  @Test
  void mysql_frontend_survives_fuzzed_input() throws Exception {
    fuzz(true);
  }
}

package io.halo.proxy.failover;

import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A client that inserts rows one by one (autocommit) through Halo at a steady rate, reconnecting
 * after errors, and remembers every acknowledged id with the time it was acknowledged. From that:
 * the write outage (largest gap between two acknowledgements) and, after a failover, which
 * acknowledged rows are missing. Runs on its own thread; bounded by {@link #stop()}.
 */
public final class Writer implements AutoCloseable {

  private final String url;
  private final Properties props;
  private final long intervalNanos;
  private final Thread thread;
  private final List<long[]> acked = new ArrayList<>(); // {id, nanoTime}
  private final AtomicLong errors = new AtomicLong();
  private volatile boolean stop;
  private volatile String lastError;
  private long firstId;

  public Writer(String url, String user, String password, Duration interval) {
    this.url = url;
    this.props = new Properties();
    props.setProperty("user", user);
    props.setProperty("password", password);
    props.setProperty("connectTimeout", "5");
    props.setProperty("socketTimeout", "5");
    props.setProperty("ApplicationName", "halo-writer");
    this.intervalNanos = interval.toNanos();
    this.thread = new Thread(this::loop, "writer");
    thread.setDaemon(true);
  }

  /** A writer for Connector/J, whose timeouts are in milliseconds. */
  public static Writer forMySql(String url, String user, String password, Duration interval) {
    Writer w = new Writer(url, user, password, interval);
    w.props.setProperty("connectTimeout", "5000");
    w.props.setProperty("socketTimeout", "5000");
    w.props.setProperty("sslMode", "DISABLED");
    w.props.remove("ApplicationName");
    return w;
  }

  public static void createTable(Connection c) throws SQLException {
    c.createStatement()
        .execute(
            "create table if not exists acked_writes(id bigint primary key, at timestamptz default now())");
  }

  /** Ids start after {@code base} (several writers into one table). */
  public Writer idsAfter(long base) {
    this.firstId = base;
    return this;
  }

  public Writer start() {
    thread.start();
    return this;
  }

  private void loop() {
    long id = firstId;
    Connection c = null;
    long next = System.nanoTime();
    while (!stop) {
      try {
        if (c == null) {
          c = DriverManager.getConnection(url, props);
        }
        try (PreparedStatement ps = c.prepareStatement("insert into acked_writes(id) values (?)")) {
          ps.setLong(1, ++id);
          ps.executeUpdate();
        }
        synchronized (acked) {
          acked.add(new long[] {id, System.nanoTime()});
        }
      } catch (SQLException e) {
        errors.incrementAndGet();
        lastError = e.getSQLState() + " " + e.getMessage();
        close(c);
        c = null;
      }
      next += intervalNanos;
      long sleep = next - System.nanoTime();
      if (sleep > 0) {
        try {
          Thread.sleep(sleep / 1_000_000, (int) (sleep % 1_000_000));
        } catch (InterruptedException e) {
          break;
        }
      } else {
        next = System.nanoTime();
      }
    }
    close(c);
  }

  private static void close(Connection c) {
    if (c != null) {
      try {
        c.close();
      } catch (SQLException e) {
        // already broken
      }
    }
  }

  public int ackedCount() {
    synchronized (acked) {
      return acked.size();
    }
  }

  public List<Long> ackedIds() {
    synchronized (acked) {
      return acked.stream().map(a -> a[0]).toList();
    }
  }

  /** Acknowledgements after the given System.nanoTime(). */
  public int ackedAfter(long nanoTime) {
    synchronized (acked) {
      return (int) acked.stream().filter(a -> a[1] > nanoTime).count();
    }
  }

  /** The largest gap between consecutive acknowledgements after {@code fromNanos}. */
  public Duration longestGapAfter(long fromNanos) {
    synchronized (acked) {
      long prev = -1;
      long max = 0;
      for (long[] a : acked) {
        if (a[1] < fromNanos) {
          prev = a[1];
          continue;
        }
        if (prev >= 0) {
          max = Math.max(max, a[1] - prev);
        }
        prev = a[1];
      }
      return Duration.ofNanos(max);
    }
  }

  public long errors() {
    return errors.get();
  }

  public String lastError() {
    return lastError;
  }

  /** Stops the writer and waits (bounded) for its thread. */
  public void stop() {
    stop = true;
    thread.interrupt();
    try {
      thread.join(10_000);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  @Override
  public void close() {
    stop();
  }
}

import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.LongAdder;

/**
 * Closed-loop load for bench/overload.sh: CLIENTS sessions each run SQL in a loop for SECONDS.
 * A statement refused with 53300 (Halo's throttle) is counted as rejected and retried after
 * BACKOFF_MS; any other error is counted and the session reconnects. pgbench cannot do this: its
 * clients abort on the first error other than a serialization failure or deadlock.
 *
 *   java -cp halo-proxy-core-*-all.jar bench/OverloadClient.java HOST PORT USER DB CLIENTS SECONDS BACKOFF_MS SQL
 *
 * Prints one line: completed, tps, p50/p90/p99/max latency of completed statements (client
 * observed, Halo's queueing included), rejected, rejection rate, other errors.
 */
public class OverloadClient {

  public static void main(String[] a) throws Exception {
    String url = "jdbc:postgresql://" + a[0] + ":" + a[1] + "/" + a[3];
    String user = a[2];
    int clients = Integer.parseInt(a[4]);
    long seconds = Long.parseLong(a[5]);
    long backoff = Long.parseLong(a[6]);
    String sql = a[7];
    Properties p = new Properties();
    p.setProperty("user", user);
    p.setProperty("connectTimeout", "10");
    p.setProperty("socketTimeout", "60");
    ConcurrentLinkedQueue<Long> latencies = new ConcurrentLinkedQueue<>();
    LongAdder rejected = new LongAdder();
    LongAdder errors = new LongAdder();
    ConcurrentLinkedQueue<String> samples = new ConcurrentLinkedQueue<>();
    List<Connection> sessions = new ArrayList<>();
    for (int i = 0; i < clients; i++) {
      sessions.add(DriverManager.getConnection(url, p));
    }
    long start = System.nanoTime();
    long end = start + seconds * 1_000_000_000L;
    List<Thread> threads = new ArrayList<>();
    for (Connection first : sessions) {
      Thread t = new Thread(() -> {
        Connection c = first;
        while (System.nanoTime() < end) {
          try {
            if (c == null) {
              c = DriverManager.getConnection(url, p);
            }
            long t0 = System.nanoTime();
            try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery(sql)) {
              rs.next();
            }
            latencies.add(System.nanoTime() - t0);
          } catch (SQLException e) {
            if ("53300".equals(e.getSQLState())) {
              rejected.increment();
              if (samples.size() < 1) {
                samples.add(e.getMessage());
              }
              sleep(backoff);
            } else {
              errors.increment();
              if (samples.size() < 3) {
                samples.add(e.getSQLState() + ": " + e.getMessage());
              }
              try {
                if (c != null) {
                  c.close();
                }
              } catch (SQLException ignored) {
                // closing a broken session
              }
              c = null;
              sleep(backoff);
            }
          }
        }
        try {
          if (c != null) {
            c.close();
          }
        } catch (SQLException ignored) {
          // done
        }
      });
      t.start();
      threads.add(t);
    }
    for (Thread t : threads) {
      t.join();
    }
    double took = (System.nanoTime() - start) / 1e9;
    List<Long> l = new ArrayList<>(latencies);
    Collections.sort(l);
    long done = l.size();
    long rej = rejected.sum();
    System.out.printf("completed %d, tps %.1f, latency ms p50 %s p90 %s p99 %s max %s, rejected %d (%.1f %%), other errors %d%n",
        done, done / took, ms(l, 0.5), ms(l, 0.9), ms(l, 0.99), ms(l, 1.0), rej,
        done + rej == 0 ? 0.0 : 100.0 * rej / (done + rej), errors.sum());
    for (String s : samples) {
      System.out.println("  e.g. " + s);
    }
  }

  private static String ms(List<Long> sorted, double q) {
    if (sorted.isEmpty()) {
      return "-";
    }
    int i = Math.min(sorted.size() - 1, Math.max(0, (int) Math.ceil(q * sorted.size()) - 1));
    return String.format("%.1f", sorted.get(i) / 1e6);
  }

  private static void sleep(long ms) {
    try {
      Thread.sleep(ms);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}

package io.halo.health.probe;

/**
 * Turns a GTID position into one comparable number: the sum of MariaDB sequence numbers ({@code
 * 0-1-123,1-2-5} gives 128) or of MySQL interval ends ({@code uuid:1-77:80-90} gives 90). Good for
 * ordering servers of one replication stream and for counting transactions behind.
 */
public final class Gtids {

  private Gtids() {}

  public static long position(String gtids) {
    if (gtids == null || gtids.isBlank()) {
      return 0;
    }
    long sum = 0;
    for (String part : gtids.split(",")) {
      String p = part.trim();
      if (p.isEmpty()) {
        continue;
      }
      int colon = p.indexOf(':');
      if (colon >= 0) { // MySQL: uuid:a-b:c-d ... the last interval end
        String last = p.substring(p.lastIndexOf(':') + 1);
        int dash = last.indexOf('-');
        sum += Long.parseLong(dash < 0 ? last : last.substring(dash + 1));
      } else { // MariaDB: domain-server-sequence
        sum += Long.parseLong(p.substring(p.lastIndexOf('-') + 1));
      }
    }
    return sum;
  }
}

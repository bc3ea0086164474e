package io.halo.proxy.admin;

/** PostgreSQL's text form of a WAL position: the high and low 32 bits in hex, {@code 0/3000060}. */
final class Lsn {

  private Lsn() {}

  /** The LSN text, or null for a negative (unknown) position. */
  static String format(long position) {
    if (position < 0) {
      return null;
    }
    return Long.toHexString(position >>> 32).toUpperCase(java.util.Locale.ROOT)
        + "/"
        + Long.toHexString(position & 0xFFFFFFFFL).toUpperCase(java.util.Locale.ROOT);
  }
}

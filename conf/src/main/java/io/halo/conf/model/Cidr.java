package io.halo.conf.model;

import java.net.Inet4Address;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.Objects;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A network written as {@code address/prefix}: {@code 10.0.0.0/8}, {@code 2001:db8::/32}; a bare
 * address means that one host ({@code /32}, {@code /128}).
 *
 * <p>Parsing never asks DNS: only IP literals are accepted. Host bits set beyond the prefix ({@code
 * 10.1.2.3/8}) are an error rather than silently masked, since they usually mean a typo in the
 * prefix. IPv4 networks are written in IPv4 notation; an IPv4-mapped IPv6 form is refused. An IPv4
 * network never contains an IPv6 address and the other way round; a client connecting over IPv6
 * with an IPv4-mapped address ({@code ::ffff:10.1.2.3}) counts as IPv4.
 *
 * @param network the network address (host bits zero)
 * @param prefixLength 0..32 for IPv4, 0..128 for IPv6
 */
public record Cidr(InetAddress network, int prefixLength) {

  private static final Pattern IPV4 =
      Pattern.compile("(\\d{1,3})\\.(\\d{1,3})\\.(\\d{1,3})\\.(\\d{1,3})");

  public Cidr {
    Objects.requireNonNull(network, "network");
    int bits = network.getAddress().length * 8;
    if (prefixLength < 0 || prefixLength > bits) {
      throw new IllegalArgumentException(
          "prefix length /" + prefixLength + " is outside 0.." + bits + " for " + format(network));
    }
    if (!sameNetwork(network.getAddress(), network.getAddress(), prefixLength, true)) {
      throw new IllegalArgumentException(
          "'" + format(network) + "/" + prefixLength + "' has host bits set beyond the prefix");
    }
  }

  /** Parses {@code a.b.c.d/n}, {@code v6addr/n} or a bare address. */
  public static Cidr parse(String text) {
    Objects.requireNonNull(text, "client");
    String s = text.trim();
    int slash = s.indexOf('/');
    String addressText = slash < 0 ? s : s.substring(0, slash);
    InetAddress address = literal(addressText, text);
    int bits = address.getAddress().length * 8;
    int prefix = bits;
    if (slash >= 0) {
      String p = s.substring(slash + 1);
      if (!p.matches("\\d{1,3}")) {
        throw new IllegalArgumentException(
            "'" + text + "': prefix length '" + p + "' is not a number");
      }
      prefix = Integer.parseInt(p);
      if (prefix > bits) {
        throw new IllegalArgumentException(
            "'"
                + text
                + "': prefix length /"
                + prefix
                + " is longer than the address ("
                + bits
                + " bits)");
      }
    }
    if (!sameNetwork(address.getAddress(), address.getAddress(), prefix, true)) {
      byte[] masked = address.getAddress();
      mask(masked, prefix);
      String suggestion;
      try {
        suggestion = format(InetAddress.getByAddress(masked)) + "/" + prefix;
      } catch (UnknownHostException e) {
        throw new IllegalStateException(e);
      }
      throw new IllegalArgumentException(
          "'" + text + "' has host bits set beyond the prefix (did you mean " + suggestion + "?)");
    }
    return new Cidr(address, prefix);
  }

  /** Whether this is an IPv6 network. */
  public boolean ipv6() {
    return network instanceof Inet6Address;
  }

  /** Whether {@code address} lies in this network (an IPv4-mapped IPv6 address counts as IPv4). */
  public boolean contains(InetAddress address) {
    if (address == null) {
      return false;
    }
    byte[] a = unmapped(address.getAddress());
    byte[] n = network.getAddress();
    return a.length == n.length && sameNetwork(n, a, prefixLength, false);
  }

  /** Whether every address of {@code other} lies in this network. */
  public boolean contains(Cidr other) {
    return other.ipv6() == ipv6()
        && other.prefixLength >= prefixLength
        && sameNetwork(network.getAddress(), other.network.getAddress(), prefixLength, false);
  }

  /** {@code 10.0.0.0/8}, {@code 2001:db8::/32} (IPv6 in its short form, RFC 5952). */
  @Override
  public String toString() {
    return format(network) + "/" + prefixLength;
  }

  /**
   * An address as RFC 5952 writes it: the longest run of zero groups (two or more) as {@code ::}.
   */
  static String format(InetAddress address) {
    byte[] b = address.getAddress();
    if (b.length == 4) {
      return address.getHostAddress();
    }
    int[] g = new int[8];
    for (int i = 0; i < 8; i++) {
      g[i] = ((b[2 * i] & 0xff) << 8) | (b[2 * i + 1] & 0xff);
    }
    int bestStart = -1;
    int bestLen = 1;
    for (int i = 0; i < 8; ) {
      int j = i;
      while (j < 8 && g[j] == 0) {
        j++;
      }
      if (j - i > bestLen) {
        bestStart = i;
        bestLen = j - i;
      }
      i = j == i ? i + 1 : j;
    }
    StringBuilder sb = new StringBuilder();
    for (int i = 0; i < 8; i++) {
      if (i == bestStart) {
        sb.append("::");
        i += bestLen - 1;
        continue;
      }
      if (sb.length() > 0 && sb.charAt(sb.length() - 1) != ':') {
        sb.append(':');
      }
      sb.append(Integer.toHexString(g[i]));
    }
    return sb.toString();
  }

  private static InetAddress literal(String addressText, String text) {
    if (IPV4.matcher(addressText).matches()) {
      Matcher m = IPV4.matcher(addressText);
      m.matches();
      byte[] b = new byte[4];
      for (int i = 0; i < 4; i++) {
        int octet = Integer.parseInt(m.group(i + 1));
        if (octet > 255) {
          throw new IllegalArgumentException(
              "'" + text + "' is not an IPv4 address (" + octet + " > 255)");
        }
        b[i] = (byte) octet;
      }
      try {
        return InetAddress.getByAddress(b);
      } catch (UnknownHostException e) {
        throw new IllegalStateException(e);
      }
    }
    if (addressText.indexOf(':') < 0
        || addressText.indexOf('%') >= 0
        || addressText.indexOf('[') >= 0) {
      throw new IllegalArgumentException(
          "'"
              + text
              + "' is not a network; write an IP address with a prefix length: 10.0.0.0/8, 2001:db8::/32 (no host names)");
    }
    InetAddress a;
    try {
      // Brackets make the JDK treat it as an IPv6 literal only: no name lookup on a bad one.
      a = InetAddress.getByName("[" + addressText + "]");
    } catch (UnknownHostException e) {
      throw new IllegalArgumentException("'" + text + "' is not an IPv6 address", e);
    }
    if (a instanceof Inet4Address) {
      throw new IllegalArgumentException(
          "'" + text + "': write IPv4 networks as a.b.c.d/n, not IPv4-mapped IPv6");
    }
    return a;
  }

  /** An IPv4-mapped IPv6 address ({@code ::ffff:a.b.c.d}) as its 4 IPv4 bytes; others unchanged. */
  static byte[] unmapped(byte[] a) {
    if (a.length != 16) {
      return a;
    }
    for (int i = 0; i < 10; i++) {
      if (a[i] != 0) {
        return a;
      }
    }
    if (a[10] != (byte) 0xff || a[11] != (byte) 0xff) {
      return a;
    }
    return new byte[] {a[12], a[13], a[14], a[15]};
  }

  /**
   * Whether {@code a} and {@code b} agree on the first {@code prefix} bits; with {@code
   * hostBitsZero}, instead whether {@code a} has no bit set after the prefix.
   */
  private static boolean sameNetwork(byte[] a, byte[] b, int prefix, boolean hostBitsZero) {
    for (int i = 0; i < a.length; i++) {
      int bitsHere = Math.max(0, Math.min(8, prefix - i * 8));
      int m = bitsHere == 0 ? 0 : (0xff << (8 - bitsHere)) & 0xff;
      if (hostBitsZero) {
        if ((a[i] & ~m & 0xff) != 0) {
          return false;
        }
      } else if ((a[i] & m) != (b[i] & m)) {
        return false;
      }
    }
    return true;
  }

  private static void mask(byte[] a, int prefix) {
    for (int i = 0; i < a.length; i++) {
      int bitsHere = Math.max(0, Math.min(8, prefix - i * 8));
      int m = bitsHere == 0 ? 0 : (0xff << (8 - bitsHere)) & 0xff;
      a[i] = (byte) (a[i] & m);
    }
  }
}

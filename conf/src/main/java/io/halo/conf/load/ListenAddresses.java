package io.halo.conf.load;

import io.halo.conf.model.HostPort;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/**
 * Every address Halo listens on (the admin API and all listeners of all clusters), so that two of
 * them cannot claim the same port. A wildcard host (0.0.0.0, ::) overlaps every host on the same
 * port: the second bind would fail at startup, so it is reported here, at its line.
 */
final class ListenAddresses {

  private static final Set<String> WILDCARDS = Set.of("0.0.0.0", "::", "*", "");

  private record Claim(HostPort address, String path) {}

  private final List<Claim> claims = new ArrayList<>();

  /** Records {@code address} written at {@code key} of {@code section}; reports a clash. */
  void claim(HostPort address, Section section, String key) {
    if (address == null) {
      return;
    }
    for (Claim c : claims) {
      if (overlaps(c.address(), address)) {
        String same = c.address().equals(address) ? "" : " (" + c.address() + ")";
        section.report(key, "listen address " + address + " is already used by " + c.path() + same);
        return;
      }
    }
    claims.add(new Claim(address, section.path(key) + ", line " + section.at(key).line()));
  }

  private static boolean overlaps(HostPort a, HostPort b) {
    if (a.port() != b.port() || a.port() == 0) {
      return false;
    }
    return a.host().equalsIgnoreCase(b.host())
        || WILDCARDS.contains(a.host())
        || WILDCARDS.contains(b.host());
  }
}

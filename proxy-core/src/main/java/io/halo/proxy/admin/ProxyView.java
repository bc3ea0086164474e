package io.halo.proxy.admin;

import java.util.List;

/** What the proxy side reports to the admin API and metrics. Reads are cheap and never block. */
public interface ProxyView {

  /** One client-facing listener. */
  record ListenerView(
      String name, String cluster, String address, String route, int clientConnections, int maxClientConnections) {}

  /** Relaying sessions of one cluster on one backend. */
  record BackendSessions(String cluster, String backend, int sessions) {}

  /** The read/write split counters of one {@code route: split} listener. */
  record SplitView(
      String listener, String cluster, long readsOnReplica, long readsOnPrimary, long readYourWritesOnPrimary,
      long sessions, long pinnedSessions, long pinnedTotal) {}

  List<ListenerView> listeners();

  /** One entry per {@code route: split} listener. */
  default List<SplitView> splits() {
    return List.of();
  }

  List<BackendSessions> sessions();

  /** Client connections refused since start, by reason (e.g. "too_many_connections", "auth_failed"). */
  java.util.Map<String, Long> rejections();
}

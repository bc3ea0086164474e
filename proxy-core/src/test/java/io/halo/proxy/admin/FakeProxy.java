package io.halo.proxy.admin;

import java.util.List;
import java.util.Map;

/** A fixed ProxyView: one listener per route, a few sessions, some rejections. */
final class FakeProxy implements ProxyView {

  @Override
  public List<ListenerView> listeners() {
    return List.of(
        new ListenerView("main-rw", "main", "0.0.0.0:6432", "primary", 12, 1000),
        new ListenerView("main \"ro\"", "main", "0.0.0.0:6433", "replicas", 3, 1000));
  }

  @Override
  public List<SplitView> splits() {
    return List.of(new SplitView("main-split", "main", 70, 30, 4, 5, 1, 2));
  }

  @Override
  public List<BackendSessions> sessions() {
    return List.of(new BackendSessions("main", "pg1", 12), new BackendSessions("main", "pg2", 3));
  }

  @Override
  public Map<String, Long> rejections() {
    return Map.of("too_many_connections", 2L, "auth_failed", 5L);
  }
}

package io.halo.proxy.admin;

import io.halo.conf.model.AuthMethod;
import io.halo.conf.model.ThrottleConfig;
import io.halo.conf.model.ThrottleLimit;
import io.halo.conf.model.UserConfig;
import io.halo.proxy.session.Admission;
import io.halo.proxy.session.UserLimits;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.NoSuchElementException;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;

/**
 * A fixed ProxyView: one listener per route, a few sessions, some rejections, and a real {@link
 * Admission} of cluster "main" (one session and one transaction admitted on pg1, user "app" with
 * one of its 3 sessions in use).
 */
final class FakeProxy implements ProxyView {

  private static final ScheduledExecutorService TIMER =
      Executors.newSingleThreadScheduledExecutor(
          r -> {
            Thread t = new Thread(r, "fake-proxy-timer");
            t.setDaemon(true);
            return t;
          });

  final Admission admission =
      new Admission(
          new ThrottleConfig(10, 5, Duration.ofSeconds(1), 4, ThrottleLimit.FIXED, 1),
          TIMER,
          null,
          new UserLimits(
              List.of(new UserConfig("app", null, AuthMethod.TRUST, "app", null, 3, 100, 10)),
              System::nanoTime));

  FakeProxy() {
    admission.acquire("pg1", Runnable::run);
    admission.transactionGate("app").begin("pg1", Runnable::run, refused -> {});
    admission.users().connect("app");
  }

  @Override
  public List<ListenerView> listeners() {
    return List.of(
        new ListenerView("main-rw", "main", "0.0.0.0:6432", "primary", 12, 1000),
        new ListenerView("main \"ro\"", "main", "0.0.0.0:6433", "replicas", 3, 1000));
  }

  @Override
  public List<SplitView> splits() {
    return List.of(new SplitView("main-split", "main", 70, 30, 4, 5, 1, 2, 3));
  }

  @Override
  public List<BackendSessions> sessions() {
    return List.of(new BackendSessions("main", "pg1", 12), new BackendSessions("main", "pg2", 3));
  }

  @Override
  public Map<String, Long> rejections() {
    return Map.of("too_many_connections", 2L, "auth_failed", 5L);
  }

  @Override
  public List<ThrottleView> throttles() {
    return List.of(ThrottleView.of("main", admission.settings(), admission.limiters()));
  }

  @Override
  public ThrottleView updateThrottle(
      String cluster, Integer maxConnections, Integer maxTransactions, Integer maxQueue) {
    if (!cluster.equals("main")) {
      throw new NoSuchElementException("no cluster '" + cluster + "'");
    }
    return ThrottleView.of(
        cluster, admission.update(maxConnections, maxTransactions, maxQueue), admission.limiters());
  }

  @Override
  public List<UserLimits.UserView> userLimits() {
    return admission.users().views();
  }
}

package io.halo.health;

import io.halo.conf.model.BackendConfig;
import io.halo.conf.model.BackendRole;
import io.halo.conf.model.ClusterConfig;
import io.halo.conf.model.Engine;
import io.halo.conf.model.FailoverConfig;
import io.halo.conf.model.HostPort;
import io.halo.conf.model.ListenerConfig;
import io.halo.conf.model.MonitorConfig;
import io.halo.conf.model.Route;
import io.halo.conf.model.ThrottleConfig;
import io.halo.health.probe.ProbeResult;
import io.halo.health.state.NodeRole;
import java.time.Duration;
import java.time.Instant;
import java.util.List;

/** Probe results as a monitor would report them, and a two-backend cluster, for unit tests. */
public final class Probes {

  private Probes() {}

  public static ProbeResult primary(
      String name, long lsn, List<ProbeResult.Downstream> downstreams) {
    return new ProbeResult(
        name,
        Instant.now(),
        Duration.ofMillis(1),
        null,
        NodeRole.PRIMARY,
        1,
        lsn,
        lsn,
        null,
        null,
        null,
        downstreams);
  }

  /** A primary on PostgreSQL timeline {@code timeline}. */
  public static ProbeResult primaryOnTimeline(String name, long timeline, long lsn) {
    return new ProbeResult(
        name,
        Instant.now(),
        Duration.ofMillis(1),
        null,
        NodeRole.PRIMARY,
        timeline,
        lsn,
        lsn,
        null,
        null,
        null,
        List.of());
  }

  public static ProbeResult standby(String name, long replayed, ProbeResult.Upstream upstream) {
    return new ProbeResult(
        name,
        Instant.now(),
        Duration.ofMillis(1),
        null,
        NodeRole.STANDBY,
        1,
        replayed,
        replayed,
        null,
        Duration.ZERO,
        upstream,
        List.of());
  }

  public static ProbeResult down(String name) {
    return ProbeResult.failed(name, Instant.now(), "Connection refused");
  }

  public static ProbeResult.Upstream streamingFrom(int port, Duration lastMessageAge) {
    return new ProbeResult.Upstream(
        "127.0.0.1", port, "streaming", true, lastMessageAge, Duration.ofSeconds(10));
  }

  public static ClusterConfig cluster(FailoverConfig.Mode mode) {
    return new ClusterConfig(
        "main",
        Engine.POSTGRESQL,
        List.of(new ListenerConfig(new HostPort("127.0.0.1", 0), Route.PRIMARY, 10, true)),
        List.of(
            new BackendConfig("pg1", new HostPort("127.0.0.1", 5001), BackendRole.PRIMARY, 0),
            new BackendConfig("pg2", new HostPort("127.0.0.1", 5002), BackendRole.STANDBY, 0)),
        new MonitorConfig(
            "mon", null, "postgres", Duration.ofMillis(100), Duration.ofSeconds(1), 3, 2),
        new FailoverConfig(
            mode,
            FailoverConfig.Type.HOT,
            1000,
            Duration.ofSeconds(5),
            null,
            null,
            null,
            Duration.ofSeconds(5)),
        new ThrottleConfig(10, 10, Duration.ofSeconds(1)));
  }
}

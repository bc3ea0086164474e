package io.halo.bench;

import io.halo.conf.load.ConfigLoader;
import io.halo.conf.model.HaloConfig;
import io.halo.proxy.HaloServer;
import io.halo.testkit.PgCluster;
import io.halo.testkit.PgNode;
import java.util.Map;

/** Halo with its default settings in front of a test-kit PostgreSQL cluster, for the benchmarks. */
final class BenchHalo {

  private BenchHalo() {}

  /** One listener per route, in order, on free ports (user app/apppw). */
  static HaloServer start(PgCluster c, String... routes) throws Exception {
    return startWith(c, "", routes);
  }

  /** With {@code clusterYaml} (keys of the cluster, e.g. a throttle) added to its section. */
  static HaloServer startWith(PgCluster c, String clusterYaml, String... routes) throws Exception {
    return startWithTop(c, "", clusterYaml, routes);
  }

  /** With {@code topYaml} (top-level keys, e.g. {@code coordination:}) added to the config. */
  static HaloServer startWithTop(PgCluster c, String topYaml, String clusterYaml, String... routes)
      throws Exception {
    StringBuilder backends = new StringBuilder();
    for (PgNode n : c.nodes()) {
      backends
          .append("      - { name: ")
          .append(n.name())
          .append(", address: 127.0.0.1:")
          .append(n.port())
          .append(", role: ")
          .append(n == c.primary() ? "primary" : "standby")
          .append(" }\n");
    }
    StringBuilder listeners = new StringBuilder();
    for (String route : routes) {
      listeners.append("      - { listen: 127.0.0.1:0, route: ").append(route).append(" }\n");
    }
    String yaml =
        topYaml
            + """
        admin: { listen: 127.0.0.1:0 }
        users:
          - { name: app, password: apppw }
        clusters:
          - name: bench
            listeners:
        %s    backends:
        %s    monitor: { user: %s, password: %s }
        %s"""
                .formatted(
                    listeners,
                    backends,
                    c.superuser(),
                    c.superuserPassword(),
                    clusterYaml.isEmpty() ? "" : "    " + clusterYaml + "\n");
    HaloConfig cfg = ConfigLoader.parse(yaml, "bench.yaml", Map.of());
    return HaloServer.start(cfg);
  }
}

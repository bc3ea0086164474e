package io.halo.proxy.cli;

import com.fasterxml.jackson.databind.JsonNode;
import io.halo.proxy.cli.AdminClient.AdminClientException;
import io.halo.proxy.cli.AdminClient.Reply;
import java.io.PrintWriter;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code halo status}: each cluster's backends with role, state, lag and probe latency. */
@Command(
    name = "status",
    mixinStandardHelpOptions = true,
    description =
        "Show clusters and backends (role, state, lag, latency) from a running Halo's admin API.")
public final class StatusCommand implements Callable<Integer> {

  @Mixin AdminOptions admin;

  @Option(
      names = "--cluster",
      paramLabel = "NAME",
      description = "only this cluster (default: all)")
  String cluster;

  @CommandLine.Spec CommandLine.Model.CommandSpec spec;

  @Override
  public Integer call() {
    PrintWriter out = spec.commandLine().getOut();
    PrintWriter err = spec.commandLine().getErr();
    try {
      AdminClient client = admin.client();
      List<String> names = new ArrayList<>();
      if (cluster != null) {
        names.add(cluster);
      } else {
        Reply all = client.get("/api/v1/clusters");
        if (!all.ok()) {
          err.println("halo: " + all.error());
          return 1;
        }
        all.body().forEach(c -> names.add(c.path("name").asText()));
      }
      for (String name : names) {
        Reply r = client.get("/api/v1/clusters/" + URLEncoder.encode(name, StandardCharsets.UTF_8));
        if (!r.ok()) {
          err.println("halo: " + r.error());
          return 1;
        }
        JsonNode c = r.body();
        AdminOutput.printCluster(out, c);
      }
      if (names.isEmpty()) {
        out.println("no clusters");
      }
      out.flush();
      return 0;
    } catch (AdminClientException e) {
      err.println("halo: " + e.getMessage());
      return 1;
    }
  }
}

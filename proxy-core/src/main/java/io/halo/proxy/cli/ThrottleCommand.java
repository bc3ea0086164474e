package io.halo.proxy.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.halo.proxy.cli.AdminClient.AdminClientException;
import java.io.PrintWriter;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code halo throttle}: show a cluster's limits, or change them at runtime, through the admin API.
 */
@Command(
    name = "throttle",
    mixinStandardHelpOptions = true,
    description = {
      "Show a cluster's throttle (limits, in use, waiting, rejections per backend), or change",
      "max_connections, max_transactions and max_queue at once, without a restart.",
      "Exit 1 when the API refused the change or answered an error."
    })
public final class ThrottleCommand implements Callable<Integer> {

  @Mixin AdminOptions admin;

  @Option(
      names = "--cluster",
      paramLabel = "NAME",
      description = "the cluster (default: the only one)")
  String cluster;

  @Option(
      names = "--max-connections",
      paramLabel = "N",
      description = "client sessions per backend at most")
  Integer maxConnections;

  @Option(
      names = "--max-transactions",
      paramLabel = "N",
      description = "concurrent transactions per backend at most (0: no limit)")
  Integer maxTransactions;

  @Option(
      names = "--max-queue",
      paramLabel = "N",
      description = "sessions or transactions waiting at most")
  Integer maxQueue;

  @CommandLine.Spec CommandLine.Model.CommandSpec spec;

  @Override
  public Integer call() {
    PrintWriter out = spec.commandLine().getOut();
    PrintWriter err = spec.commandLine().getErr();
    try {
      AdminClient client = admin.client();
      String path =
          "/api/v1/clusters/"
              + URLEncoder.encode(AdminOutput.cluster(client, cluster), StandardCharsets.UTF_8)
              + "/throttle";
      AdminClient.Reply r;
      if (maxConnections == null && maxTransactions == null && maxQueue == null) {
        r = client.get(path);
      } else {
        ObjectNode body = JsonNodeFactory.instance.objectNode();
        if (maxConnections != null) {
          body.put("max_connections", maxConnections);
        }
        if (maxTransactions != null) {
          body.put("max_transactions", maxTransactions);
        }
        if (maxQueue != null) {
          body.put("max_queue", maxQueue);
        }
        r = client.post(path, body.toString());
      }
      if (!r.ok()) {
        err.println("halo: " + r.error());
        return 1;
      }
      print(out, r.body());
      out.flush();
      return 0;
    } catch (AdminClientException e) {
      err.println("halo: " + e.getMessage());
      return 1;
    }
  }

  private static void print(PrintWriter out, JsonNode t) {
    out.printf(
        "cluster %s  max_connections %d  max_transactions %s  max_queue %d  queue_timeout %d ms  limit %s%n",
        t.path("cluster").asText(),
        t.path("max_connections").asInt(),
        t.path("max_transactions").asInt() == 0 ? "none" : t.path("max_transactions").asText(),
        t.path("max_queue").asInt(),
        t.path("queue_timeout_millis").asLong(),
        t.path("limit").asText());
    out.printf(
        "  %-12s %-12s %-8s %6s %6s %7s %7s %9s %10s %9s%n",
        "BACKEND",
        "UNIT",
        "KIND",
        "LIMIT",
        "MAX",
        "IN USE",
        "WAITING",
        "ADMITTED",
        "QUEUE FULL",
        "TIMED OUT");
    for (JsonNode l : t.path("limiters")) {
      out.printf(
          "  %-12s %-12s %-8s %6d %6d %7d %7d %9d %10d %9d%n",
          l.path("backend").asText(),
          l.path("unit").asText(),
          l.path("kind").asText(),
          l.path("limit").asInt(),
          l.path("maximum").asInt(),
          l.path("in_use").asInt(),
          l.path("waiting").asInt(),
          l.path("admitted").asLong(),
          l.path("rejected_queue_full").asLong(),
          l.path("rejected_timed_out").asLong());
    }
  }
}

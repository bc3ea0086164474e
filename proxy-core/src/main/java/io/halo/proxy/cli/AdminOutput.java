package io.halo.proxy.cli;

import com.fasterxml.jackson.databind.JsonNode;
import io.halo.proxy.cli.AdminClient.AdminClientException;
import io.halo.proxy.cli.AdminClient.Reply;
import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import picocli.CommandLine;

/** Shared parts of the admin commands: choosing the cluster and printing the API's JSON. */
final class AdminOutput {

  private AdminOutput() {}

  /** {@code --cluster}, or the only cluster there is. */
  static String cluster(AdminClient client, String cluster) {
    if (cluster != null) {
      return cluster;
    }
    Reply r = client.get("/api/v1/clusters");
    if (!r.ok()) {
      throw new AdminClientException(r.error());
    }
    List<String> names = new ArrayList<>();
    r.body().forEach(c -> names.add(c.path("name").asText()));
    if (names.size() != 1) {
      throw new AdminClientException(
          names.isEmpty()
              ? "Halo has no clusters"
              : "Halo has "
                  + names.size()
                  + " clusters ("
                  + String.join(", ", names)
                  + "); choose one with --cluster");
    }
    return names.get(0);
  }

  /** The instances sharing the cluster through ZooKeeper, and who leads. */
  static void printFleet(PrintWriter out, JsonNode fleet) {
    if (!fleet.isObject()) {
      return;
    }
    out.printf(
        "  instance %s: %s%s%n",
        fleet.path("instance").asText(),
        fleet.path("leads").asBoolean()
            ? "LEADER (takes the failover decisions)"
            : "follower"
                + (fleet.path("leader").isTextual()
                    ? " of " + oneLine(fleet.path("leader").asText())
                    : " (no leader known)"),
        fleet.path("problem").isTextual()
            ? "  DEGRADED: " + oneLine(fleet.path("problem").asText())
            : "");
    for (JsonNode m : fleet.path("instances")) {
      List<String> down = new ArrayList<>();
      m.path("down").forEach(d -> down.add(oneLine(d.asText())));
      out.printf(
          "    %-20s %-22s epoch %-4d primary %s%s%s%n",
          oneLine(m.path("instance").asText()),
          oneLine(m.path("admin").asText()),
          m.path("epoch").asLong(),
          m.path("primary").isNull() ? "(none)" : oneLine(m.path("primary").asText()),
          m.path("leader").asBoolean() ? "  leader" : "",
          down.isEmpty() ? "" : "  sees down: " + String.join(", ", down));
    }
  }

  /** One cluster from {@code GET /api/v1/clusters/{c}}: a header and one line per backend. */
  static void printCluster(PrintWriter out, JsonNode c) {
    out.printf(
        "cluster %s  epoch %d  primary %s%s%s%n",
        c.path("name").asText(),
        c.path("epoch").asLong(),
        c.path("primary").isNull() ? "(none)" : c.path("primary").asText(),
        c.path("failover_mode").isTextual() ? "  failover " + c.path("failover_mode").asText() : "",
        c.path("failover_running").asBoolean() ? "  FAILOVER RUNNING" : "");
    JsonNode state = c.path("state");
    if (state.path("state_dir").isTextual()) {
      out.printf(
          "  state saved in %s: epoch %d%s%n",
          oneLine(state.path("state_dir").asText()),
          state.path("saved_epoch").asLong(),
          state.path("save_error").isTextual()
              ? "  SAVE FAILED: " + oneLine(state.path("save_error").asText())
              : "");
    } else if (state.isObject()) {
      out.println(
          "  state not saved (no server.state_dir): a restarted Halo starts from the config");
    }
    if (state.path("overruled").isTextual()) {
      out.println("  config overruled: " + oneLine(state.path("overruled").asText()));
    }
    printFleet(out, c.path("fleet"));
    String format = "  %-12s %-8s %-9s %-9s %12s %10s %8s%n";
    out.printf(format, "BACKEND", "ROLE", "STATE", "ADMIN", "LAG", "LATENCY", "SESSIONS");
    for (JsonNode b : c.path("backends")) {
      JsonNode probe = b.path("last_probe");
      JsonNode latency = probe.path("latency_ms");
      out.printf(
          format,
          b.path("name").asText() + (b.path("split_brain").asBoolean() ? "!" : ""),
          b.path("role").asText(),
          b.path("state").asText(),
          b.path("admin_state").asText(),
          !b.path("lag_bytes").isNumber()
              ? "-"
              : "transactions".equals(c.path("lag_unit").asText())
                  ? b.path("lag_bytes").asLong() + " tx"
                  : bytes(b.path("lag_bytes").asLong()),
          latency.isNumber() ? String.format(Locale.ROOT, "%.1f ms", latency.asDouble()) : "-",
          b.path("sessions").asText());
      if (probe.path("error").isTextual()) {
        out.printf("    last probe failed: %s%n", oneLine(probe.path("error").asText()));
      }
      if (b.path("split_brain").asBoolean()) {
        out.printf("    SPLIT BRAIN: %s claims to be primary%n", b.path("name").asText());
      }
    }
    JsonNode last = c.path("last_failover");
    if (last.isObject()) {
      out.printf(
          "  last failover: #%d %s %s %s -> %s at %s%n",
          last.path("id").asLong(),
          last.path("kind").asText(),
          last.path("outcome").asText(),
          orNone(last.path("from")),
          orNone(last.path("to")),
          last.path("started_at").asText());
    }
  }

  /** A failover/switchover report: outcome, from -> to, reason, steps with their timings. */
  static void printReport(PrintWriter out, JsonNode r) {
    out.printf(
        "%s #%d on %s: %s  %s -> %s  (epoch %d -> %d%s)%n",
        r.path("kind").asText().toLowerCase(Locale.ROOT),
        r.path("id").asLong(),
        r.path("cluster").asText(),
        r.path("outcome").asText(),
        orNone(r.path("from")),
        orNone(r.path("to")),
        r.path("epoch_before").asLong(),
        r.path("epoch_after").asLong(),
        r.path("duration_ms").isNumber() ? ", " + r.path("duration_ms").asLong() + " ms" : "");
    if (r.path("reason").isTextual()) {
      out.printf("  reason: %s%n", oneLine(r.path("reason").asText()));
    }
    for (JsonNode s : r.path("steps")) {
      out.printf(
          "  %-4s %-14s %8s  %s%n",
          s.path("ok").asBoolean() ? "ok" : "FAIL",
          s.path("name").asText(),
          s.path("took_ms").isNumber() ? s.path("took_ms").asLong() + " ms" : "-",
          s.path("detail").isTextual() ? oneLine(s.path("detail").asText()) : "");
    }
    if (r.path("possible_loss_bytes").isNumber()) {
      out.printf("  possible loss: %s of WAL%n", bytes(r.path("possible_loss_bytes").asLong()));
    }
    if (r.path("write_pause_ms").isNumber()) {
      out.printf("  writes paused: %d ms%n", r.path("write_pause_ms").asLong());
    }
    if (r.path("acted_by").isTextual()) {
      out.printf(
          "  taken by Halo instance %s%s%n",
          r.path("acted_by").asText(),
          r.path("forwarded_by").isTextual()
              ? " (forwarded by " + r.path("forwarded_by").asText() + ")"
              : "");
    }
  }

  /** Exit code of a failover/switchover answer, after printing it. */
  static int reportExit(PrintWriter out, PrintWriter err, Reply reply) {
    if (reply.body().has("outcome")) {
      printReport(out, reply.body());
      return "SUCCEEDED".equals(reply.body().path("outcome").asText()) ? 0 : 1;
    }
    err.println("halo: " + reply.error());
    return 1;
  }

  static String bytes(long n) {
    if (n < 1024) {
      return n + " B";
    }
    if (n < 1024 * 1024) {
      return String.format(Locale.ROOT, "%.1f KiB", n / 1024.0);
    }
    if (n < 1024L * 1024 * 1024) {
      return String.format(Locale.ROOT, "%.1f MiB", n / (1024.0 * 1024));
    }
    return String.format(Locale.ROOT, "%.1f GiB", n / (1024.0 * 1024 * 1024));
  }

  /** Longest server-supplied text on a table line. */
  static final int MAX_TEXT = 200;

  /**
   * Server-supplied text (a driver's error, a command's output) on one line: line breaks and the
   * indentation after them become one space, and it is cut at {@link #MAX_TEXT} characters, so a
   * multi-line JDBC error cannot break the status table.
   */
  static String oneLine(String text) {
    String flat = text.strip().replaceAll("\\s*[\\r\\n]+\\s*", " ");
    return flat.length() <= MAX_TEXT ? flat : flat.substring(0, MAX_TEXT - 3) + "...";
  }

  private static String orNone(JsonNode n) {
    return n.isTextual() ? n.asText() : "(none)";
  }

  /**
   * Posts a cluster action ({@code failover}, {@code switchover}) with {@code body}, prints the
   * report, and returns the exit code: 0 when it succeeded, 1 when refused, failed or unreachable.
   */
  static int postAction(
      CommandLine.Model.CommandSpec spec,
      AdminOptions admin,
      String cluster,
      String action,
      com.fasterxml.jackson.databind.node.ObjectNode body) {
    java.io.PrintWriter out = spec.commandLine().getOut();
    java.io.PrintWriter err = spec.commandLine().getErr();
    try {
      AdminClient client = admin.client();
      String c = cluster(client, cluster);
      String path =
          "/api/v1/clusters/"
              + java.net.URLEncoder.encode(c, java.nio.charset.StandardCharsets.UTF_8)
              + "/"
              + action;
      int exit = reportExit(out, err, client.post(path, body.toString()));
      out.flush();
      return exit;
    } catch (AdminClientException e) {
      err.println("halo: " + e.getMessage());
      return 1;
    }
  }
}

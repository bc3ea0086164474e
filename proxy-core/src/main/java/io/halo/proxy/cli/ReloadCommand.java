package io.halo.proxy.cli;

import com.fasterxml.jackson.databind.JsonNode;
import io.halo.proxy.cli.AdminClient.AdminClientException;
import java.io.PrintWriter;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;

/**
 * {@code halo reload}: makes a running Halo read its config file again, through the admin API (the
 * same as {@code kill -HUP}, but with the answer on the terminal).
 */
@Command(
    name = "reload",
    mixinStandardHelpOptions = true,
    description = {
      "Make a running Halo read its config file again and apply what may change without a",
      "restart (users, admin tokens, throttle limits); print what was applied and what waits",
      "for a restart. Exit 1 when the file does not load (then nothing changed)."
    })
public final class ReloadCommand implements Callable<Integer> {

  @Mixin AdminOptions admin;

  @CommandLine.Option(
      names = "--dry-run",
      description = "only show what a reload would apply and what would wait for a restart")
  boolean dryRun;

  @CommandLine.Spec CommandLine.Model.CommandSpec spec;

  @Override
  public Integer call() {
    PrintWriter out = spec.commandLine().getOut();
    PrintWriter err = spec.commandLine().getErr();
    try {
      AdminClient.Reply r =
          admin.client().post("/api/v1/reload", dryRun ? "{\"dry_run\": true}" : "");
      if (!r.ok()) {
        err.println("halo: " + r.error());
        for (JsonNode p : r.body().path("problems")) {
          err.println("  " + p.asText());
        }
        err.flush();
        return 1;
      }
      JsonNode b = r.body();
      boolean dry = b.path("dry_run").asBoolean(false);
      out.println((dry ? "dry run, nothing changed: " : "reloaded ") + b.path("file").asText());
      print(out, dry ? "would apply" : "applied", b.path("applied"));
      print(out, "needs a restart (still the old value)", b.path("pending_restart"));
      out.flush();
      return 0;
    } catch (AdminClientException e) {
      err.println("halo: " + e.getMessage());
      return 1;
    }
  }

  private static void print(PrintWriter out, String title, JsonNode keys) {
    if (keys.isEmpty()) {
      out.println("  " + title + ": nothing");
      return;
    }
    out.println("  " + title + ":");
    for (JsonNode k : keys) {
      out.println("    " + k.asText());
    }
  }
}

package io.halo.proxy.cli;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code halo failover}: promote a standby now, through the admin API. */
@Command(
    name = "failover",
    mixinStandardHelpOptions = true,
    description = {
      "Promote a standby now (manual failover) and print the report.",
      "Exit 1 when the failover was refused or failed, or the API answered an error."
    })
public final class FailoverCommand implements Callable<Integer> {

  @Mixin AdminOptions admin;

  @Option(
      names = "--cluster",
      paramLabel = "NAME",
      description = "the cluster (default: the only one)")
  String cluster;

  @Option(
      names = "--target",
      paramLabel = "BACKEND",
      description = "the standby to promote (default: the best candidate)")
  String target;

  @Option(
      names = "--force",
      description =
          "promote even if the candidate lags beyond max_lag or the primary is up; the report says what may be lost")
  boolean force;

  @CommandLine.Spec CommandLine.Model.CommandSpec spec;

  @Override
  public Integer call() {
    ObjectNode body = JsonNodeFactory.instance.objectNode();
    body.put("target", target);
    body.put("force", force);
    return AdminOutput.postAction(spec, admin, cluster, "failover", body);
  }
}

package io.halo.proxy.cli;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code halo switchover}: planned change of primary, through the admin API. */
@Command(
    name = "switchover",
    mixinStandardHelpOptions = true,
    description = {
      "Planned switchover: hold new transactions, let the target catch up, promote it; print the report.",
      "Exit 1 when the switchover was refused or failed, or the API answered an error."
    })
public final class SwitchoverCommand implements Callable<Integer> {

  @Mixin AdminOptions admin;

  @Option(
      names = "--cluster",
      paramLabel = "NAME",
      description = "the cluster (default: the only one)")
  String cluster;

  @Option(
      names = "--target",
      paramLabel = "BACKEND",
      description = "the new primary (default: the best candidate)")
  String target;

  @CommandLine.Spec CommandLine.Model.CommandSpec spec;

  @Override
  public Integer call() {
    ObjectNode body = JsonNodeFactory.instance.objectNode();
    body.put("target", target);
    return AdminOutput.postAction(spec, admin, cluster, "switchover", body);
  }
}

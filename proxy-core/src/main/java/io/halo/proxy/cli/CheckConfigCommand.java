package io.halo.proxy.cli;

import io.halo.conf.load.ConfigException;
import io.halo.conf.load.ConfigException.Violation;
import io.halo.conf.load.ConfigLoader;
import io.halo.conf.model.HaloConfig;
import io.halo.conf.model.Origin;
import io.halo.routing.rules.RuleAnalysis;
import io.halo.routing.rules.RuleFinding;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;

/**
 * {@code halo check-config --config FILE} (or {@code halo check-config FILE}): validates a config
 * and prints every problem.
 *
 * <p>Errors (the config cannot be used; {@code halo start} refuses it) and warnings (it can, but
 * part of it never takes effect: a routing rule shadowed by an earlier one, or one that cannot
 * match on its listener) are printed alike to stderr, {@code file:line:col: key: message}, a
 * warning's message starting with {@code warning: }. Exit status: 0 valid, 1 errors, 2 warnings
 * only.
 */
@Command(
    name = "check-config",
    mixinStandardHelpOptions = true,
    description = {
      "Validate a config file and list every problem (file:line:col: key: message).",
      "Exit status: 0 valid; 1 errors (Halo refuses to start); 2 warnings only (Halo starts, but a"
          + " routing rule is shadowed by an earlier one or cannot match on its listener)."
    })
public final class CheckConfigCommand implements Callable<Integer> {

  /** Exit status when the config is valid but has warnings. */
  public static final int WARNINGS = 2;

  @CommandLine.Spec CommandLine.Model.CommandSpec spec;

  @CommandLine.Option(
      names = "--config",
      paramLabel = "FILE",
      description = "the YAML config (as for start and status)")
  Path option;

  @Parameters(
      paramLabel = "FILE",
      arity = "0..1",
      description = "the YAML config (same as --config)")
  Path positional;

  @Override
  public Integer call() {
    PrintWriter out = spec.commandLine().getOut();
    PrintWriter err = spec.commandLine().getErr();
    if ((option == null) == (positional == null)) {
      throw new CommandLine.ParameterException(
          spec.commandLine(),
          "give the config once: check-config --config FILE (or check-config FILE)");
    }
    Path file = option != null ? option : positional;
    HaloConfig config;
    try {
      config = ConfigLoader.load(file);
    } catch (ConfigException e) {
      err.println(e.getMessage());
      err.flush();
      return 1;
    }
    List<RuleFinding> findings = RuleAnalysis.analyze(config);
    for (RuleFinding f : findings) {
      Origin o = f.rule().origin();
      err.println(
          new Violation(file.toString(), o.line(), o.column(), o.key(), "warning: " + f.message()));
    }
    err.flush();
    out.printf(
        "%s: %s (%d user(s), %d cluster(s), %d listener(s))%n",
        file,
        findings.isEmpty() ? "OK" : "valid with " + findings.size() + " warning(s)",
        config.users().size(),
        config.clusters().size(),
        config.clusters().stream().mapToInt(c -> c.listeners().size()).sum());
    out.flush();
    return findings.isEmpty() ? 0 : WARNINGS;
  }
}

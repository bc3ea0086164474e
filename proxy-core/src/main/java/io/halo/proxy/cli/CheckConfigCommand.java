package io.halo.proxy.cli;

import io.halo.conf.load.ConfigException;
import io.halo.conf.load.ConfigLoader;
import io.halo.conf.model.HaloConfig;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;

/** {@code halo check-config FILE}: validates a config and prints every violation. */
@Command(
    name = "check-config",
    mixinStandardHelpOptions = true,
    description = "Validate a config file; exit 1 and list every problem (file:line:col: key: message).")
public final class CheckConfigCommand implements Callable<Integer> {

  @Parameters(paramLabel = "FILE", description = "the YAML config")
  Path file;

  @Override
  public Integer call() {
    try {
      HaloConfig config = ConfigLoader.load(file);
      System.out.printf(
          "%s: OK (%d user(s), %d cluster(s), %d listener(s))%n",
          file,
          config.users().size(),
          config.clusters().size(),
          config.clusters().stream().mapToInt(c -> c.listeners().size()).sum());
      return 0;
    } catch (ConfigException e) {
      System.err.println(e.getMessage());
      return 1;
    }
  }
}

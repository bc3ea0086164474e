package io.halo.proxy;

import io.halo.proxy.cli.CheckConfigCommand;
import io.halo.proxy.cli.FailoverCommand;
import io.halo.proxy.cli.StartCommand;
import io.halo.proxy.cli.StatusCommand;
import io.halo.proxy.cli.SwitchoverCommand;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/** The {@code halo} command line. */
@Command(
    name = "halo",
    mixinStandardHelpOptions = true,
    versionProvider = Halo.Version.class,
    description = "High-availability proxy and load balancer for PostgreSQL and MySQL/MariaDB.",
    footer =
        "%nhalo demo (local servers with Halo in front) is in the demo artifact: ./bin/halo demo",
    subcommands = {
      StartCommand.class,
      CheckConfigCommand.class,
      StatusCommand.class,
      FailoverCommand.class,
      SwitchoverCommand.class,
      io.halo.proxy.cli.ThrottleCommand.class,
      io.halo.proxy.cli.ReloadCommand.class
    })
public final class Halo implements Runnable {

  @CommandLine.Spec CommandLine.Model.CommandSpec spec;

  public static void main(String[] args) {
    int exit = new CommandLine(new Halo()).execute(args);
    io.halo.proxy.log.Logs.flush();
    System.exit(exit);
  }

  @Override
  public void run() {
    spec.commandLine().usage(System.out);
  }

  /** Reads the version from the jar manifest (shade writes it), "dev" when run from classes. */
  static final class Version implements CommandLine.IVersionProvider {
    @Override
    public String[] getVersion() {
      String v = Halo.class.getPackage().getImplementationVersion();
      return new String[] {"halo " + (v == null ? "dev" : v)};
    }
  }
}

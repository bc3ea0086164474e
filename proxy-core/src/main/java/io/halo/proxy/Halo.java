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

  /** Netty's leak detector level, as a system property. */
  static final String LEAK_DETECTION = "io.netty.leakDetection.level";

  public static void main(String[] args) {
    productionDefaults();
    int exit = new CommandLine(new Halo()).execute(args);
    io.halo.proxy.log.Logs.flush();
    System.exit(exit);
  }

  /**
   * Netty's leak detector samples about one buffer in 128 and records a stack trace for it: 1.1 %
   * of the event loop's CPU samples under {@code pgbench -S} through transaction pooling (profiled
   * 2026-12-06). Every build runs Halo's tests with it at paranoid (every buffer, and a LEAK report
   * fails the test class), so a running Halo turns it off unless {@code
   * -Dio.netty.leakDetection.level} (e.g. {@code simple}, in HALO_JAVA_OPTS) asks for it. Before
   * any Netty class loads.
   */
  public static void productionDefaults() {
    if (System.getProperty(LEAK_DETECTION) == null
        && System.getProperty("io.netty.leakDetectionLevel") == null) {
      System.setProperty(LEAK_DETECTION, "disabled");
    }
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

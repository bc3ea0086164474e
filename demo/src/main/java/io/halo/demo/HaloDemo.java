package io.halo.demo;

import io.halo.proxy.Halo;
import picocli.CommandLine;

/**
 * The {@code halo} command line with {@code demo} added: the demo starts database servers from the
 * test kit's embedded binaries, so it lives in its own artifact ({@code halo-demo-*-all.jar}) and
 * the runtime artifact that production runs carries no database binaries. {@code bin/halo demo}
 * runs this; every other subcommand works here too.
 */
public final class HaloDemo {

  private HaloDemo() {}

  public static void main(String[] args) {
    Halo.productionDefaults(); // as the halo command: before any Netty class loads
    CommandLine cli = new CommandLine(new Halo());
    cli.addSubcommand("demo", new DemoCommand());
    int exit = cli.execute(args);
    io.halo.proxy.log.Logs.flush();
    System.exit(exit);
  }
}

package io.halo.proxy.cli;

import io.halo.conf.load.ConfigException;
import io.halo.conf.load.ConfigLoader;
import io.halo.conf.model.HaloConfig;
import io.halo.proxy.HaloServer;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code halo start --config FILE}: runs Halo in front of your own databases until stopped. */
@Command(
    name = "start",
    mixinStandardHelpOptions = true,
    description = "Run Halo with a config file until SIGTERM/Ctrl-C.")
public final class StartCommand implements Callable<Integer> {

  private static final org.slf4j.Logger log = org.slf4j.LoggerFactory.getLogger(StartCommand.class);

  @Option(
      names = {"-c", "--config"},
      required = true,
      paramLabel = "FILE",
      description = "the YAML config")
  Path config;

  @Override
  public Integer call() throws InterruptedException {
    HaloConfig cfg;
    try {
      cfg = ConfigLoader.load(config);
    } catch (ConfigException e) {
      System.err.println(e.getMessage());
      return 1;
    }
    log.info(
        "Loaded {}: {} cluster(s), {} user(s)", config, cfg.clusters().size(), cfg.users().size());
    HaloServer server;
    try {
      server = HaloServer.start(cfg);
    } catch (IllegalStateException e) {
      System.err.println("halo: " + e.getMessage());
      return 1;
    }
    HangupReload.install(server);
    runUntilStopped(server::close);
    return 0;
  }

  /** Blocks until the JVM is asked to stop, then runs {@code onStop} before it exits. */
  public static void runUntilStopped(Runnable onStop) throws InterruptedException {
    CountDownLatch stopped = new CountDownLatch(1);
    Runtime.getRuntime()
        .addShutdownHook(
            new Thread(
                () -> {
                  try {
                    onStop.run();
                  } finally {
                    stopped.countDown();
                    io.halo.proxy.log.Logs.flush();
                  }
                },
                "halo-shutdown"));
    stopped.await();
  }
}

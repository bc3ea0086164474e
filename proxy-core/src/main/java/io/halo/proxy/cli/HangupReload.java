package io.halo.proxy.cli;

import io.halo.proxy.HaloServer;
import java.lang.reflect.InvocationHandler;
import java.lang.reflect.Proxy;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@code kill -HUP <halo>} reloads the config, as it does for PgBouncer and PostgreSQL. The JVM's
 * signal thread only queues the reload; it runs on its own thread, and signals that arrive while
 * one is queued are folded into it. The outcome goes to the log ({@code halo reload} prints it
 * instead).
 *
 * <p>{@code sun.misc.Signal} (module jdk.unsupported, in every JDK since 9) is reached by
 * reflection: javac warns about it at compile time, and this build fails on warnings.
 */
final class HangupReload {

  private static final Logger log = LoggerFactory.getLogger(HangupReload.class);

  private final HaloServer server;
  private final AtomicBoolean queued = new AtomicBoolean();
  private final ExecutorService thread =
      new ThreadPoolExecutor(
          1,
          1,
          0,
          TimeUnit.MILLISECONDS,
          new LinkedBlockingQueue<>(1),
          r -> {
            Thread t = new Thread(r, "halo-reload");
            t.setDaemon(true);
            return t;
          });

  private HangupReload(HaloServer server) {
    this.server = server;
  }

  /** Reloads {@code server}'s config on every SIGHUP from now on (or logs why it cannot). */
  static void install(HaloServer server) {
    HangupReload reload = new HangupReload(server);
    try {
      Class<?> signal = Class.forName("sun.misc.Signal");
      Class<?> handler = Class.forName("sun.misc.SignalHandler");
      InvocationHandler onSignal =
          (proxy, method, args) -> {
            if (method.getName().equals("handle")) {
              reload.requested();
              return null;
            }
            return switch (method.getName()) {
              case "hashCode" -> System.identityHashCode(proxy);
              case "equals" -> proxy == args[0];
              default -> "HangupReload";
            };
          };
      Object h =
          Proxy.newProxyInstance(
              HangupReload.class.getClassLoader(), new Class<?>[] {handler}, onSignal);
      Object hup = signal.getConstructor(String.class).newInstance("HUP");
      signal.getMethod("handle", signal, handler).invoke(null, hup, h);
    } catch (ReflectiveOperationException | RuntimeException | LinkageError e) {
      log.warn(
          "SIGHUP will not reload the config ({}); use halo reload or POST /api/v1/reload",
          e.toString());
    }
  }

  /** On the JVM's signal thread: queue one reload unless one is queued already. */
  private void requested() {
    if (queued.compareAndSet(false, true)) {
      thread.execute(this::run);
    }
  }

  private void run() {
    queued.set(false);
    log.info("SIGHUP: reloading the config");
    try {
      server.reload(false); // logs what it applied and what waits for a restart
    } catch (io.halo.conf.load.ConfigException e) {
      log.error("SIGHUP: the config does not load; nothing changed:\n{}", e.getMessage());
    } catch (RuntimeException e) {
      log.error("SIGHUP: reload refused; nothing changed: {}", e.getMessage());
    }
  }
}

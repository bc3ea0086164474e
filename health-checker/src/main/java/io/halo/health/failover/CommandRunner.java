package io.halo.health.failover;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs an operator's shell command (fence, start, switchover) with a timeout: {@code /bin/sh -c},
 * extra environment variables, output captured (bounded) and logged, the whole process tree
 * killed when the timeout passes.
 */
public final class CommandRunner {

  private static final Logger log = LoggerFactory.getLogger(CommandRunner.class);
  private static final int MAX_OUTPUT = 16 * 1024;

  /** How a command ended. */
  public record Result(int exitCode, boolean timedOut, String output, Duration took) {
    public boolean ok() {
      return !timedOut && exitCode == 0;
    }

    public String describe() {
      String tail = output.isBlank() ? "" : ": " + lastLine(output);
      return timedOut ? "timed out after " + took.toMillis() + " ms" + tail : "exit " + exitCode + tail;
    }
  }

  public Result run(String what, String command, Map<String, String> env, Duration timeout) {
    long t0 = System.nanoTime();
    ProcessBuilder pb = new ProcessBuilder("/bin/sh", "-c", command).redirectErrorStream(true);
    pb.environment().putAll(env);
    Process p;
    try {
      p = pb.start();
    } catch (IOException e) {
      return new Result(127, false, "cannot start /bin/sh: " + e.getMessage(), Duration.ZERO);
    }
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    Thread reader = new Thread(() -> drain(p.getInputStream(), out), "halo-cmd-" + what);
    reader.setDaemon(true);
    reader.start();
    boolean done;
    try {
      p.getOutputStream().close();
      done = p.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS);
    } catch (IOException | InterruptedException e) {
      if (e instanceof InterruptedException) {
        Thread.currentThread().interrupt();
      }
      done = false;
    }
    if (!done) {
      p.descendants().forEach(ProcessHandle::destroyForcibly);
      p.destroyForcibly();
    }
    try {
      reader.join(1000);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    String output;
    synchronized (out) {
      output = out.toString(StandardCharsets.UTF_8);
    }
    Result r = new Result(done ? p.exitValue() : -1, !done, output, Duration.ofNanos(System.nanoTime() - t0));
    if (r.ok()) {
      log.info("{} command finished in {} ms{}", what, r.took().toMillis(), output.isBlank() ? "" : ":\n" + output.strip());
    } else {
      log.warn("{} command failed ({}){}", what, r.describe(), output.isBlank() ? "" : ":\n" + output.strip());
    }
    return r;
  }

  private static void drain(InputStream in, ByteArrayOutputStream out) {
    byte[] buf = new byte[4096];
    try (in) {
      for (int n; (n = in.read(buf)) >= 0; ) {
        synchronized (out) {
          if (out.size() < MAX_OUTPUT) {
            out.write(buf, 0, Math.min(n, MAX_OUTPUT - out.size()));
          }
        }
      }
    } catch (IOException e) {
      // the process ended or was killed; what was read is kept
    }
  }

  private static String lastLine(String s) {
    String t = s.strip();
    int i = t.lastIndexOf('\n');
    return i < 0 ? t : t.substring(i + 1);
  }
}

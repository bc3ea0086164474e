package io.halo.testkit;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Ports for servers that another process binds later (a database node, a Halo process).
 *
 * <p>A port the kernel hands out for {@code bind(0)} comes from its ephemeral range, the same range
 * it takes the local ports of outgoing connections from; between the pick and the server's bind
 * (seconds, for a database node behind an initdb) any connection made meanwhile can take it, and
 * the server then fails with "Address already in use" (CI saw exactly that). So the ports here are
 * drawn at random below the ephemeral range, where the kernel never assigns one by itself, each is
 * claimed against other test JVMs by a lock file, and checked free by binding it.
 */
public final class Ports {
  private static final Path RANGE = Path.of("/proc/sys/net/ipv4/ip_local_port_range");
  private static final int LOWEST = 10_000;
  private static final int DEFAULT_EPHEMERAL_START = 32_768;
  private static final int ATTEMPTS = 1_000;

  /**
   * Ports handed out in this JVM, never handed out again: a test that picks two ports and binds
   * them later must not get one twice, nor one an earlier test's server may still be closing.
   */
  private static final Set<Integer> HANDED_OUT = ConcurrentHashMap.newKeySet();

  private Ports() {}

  /** One free port below the ephemeral range. */
  public static int free() throws IOException {
    return free(1).get(0);
  }

  /** {@code count} distinct ports free now; all stay bound until every one is picked. */
  public static List<Integer> free(int count) throws IOException {
    int[] range = outsideEphemeral();
    int start = range[0];
    int end = range[1];
    List<ServerSocket> sockets = new ArrayList<>();
    try {
      List<Integer> ports = new ArrayList<>();
      for (int attempt = 0; ports.size() < count; attempt++) {
        if (attempt >= ATTEMPTS) {
          throw new IOException(
              "no free port found in [" + start + ", " + end + ") after " + ATTEMPTS + " tries");
        }
        int port = ThreadLocalRandom.current().nextInt(start, end);
        if (HANDED_OUT.contains(port) || !claim(port)) {
          continue;
        }
        ServerSocket socket = tryBind(port);
        if (socket != null) {
          sockets.add(socket);
          ports.add(port);
        }
      }
      HANDED_OUT.addAll(ports);
      return ports;
    } finally {
      for (ServerSocket socket : sockets) {
        try {
          socket.close();
        } catch (IOException ignored) {
          // a probe socket that does not close leaves its port taken; the server then fails to
          // bind, visibly
        }
      }
    }
  }

  /**
   * Takes {@code port}, chosen by the caller (a block of ports at fixed offsets), as {@link #free}
   * takes the ports it draws: true when it was free and is now this caller's, never handed out by
   * {@link #free} afterwards; false when it is taken (in use, claimed by another test JVM, or
   * handed out already).
   */
  public static boolean reserve(int port) {
    if (HANDED_OUT.contains(port) || !claim(port)) {
      return false;
    }
    ServerSocket socket = tryBind(port);
    if (socket == null) {
      return false;
    }
    try {
      socket.close();
    } catch (IOException ignored) {
      // as in free(): a port whose probe does not close stays taken, visibly
    }
    return HANDED_OUT.add(port);
  }

  /** Lock files of the ports this JVM claimed: held until it exits. */
  private static final List<java.nio.channels.FileChannel> CLAIMS = new ArrayList<>();

  /**
   * Claims {@code port} against other JVMs of the same machine (the build runs test JVMs side by
   * side, and two could draw the same port between pick and bind): a lock on a file named after it,
   * which the operating system releases when the JVM ends.
   */
  static synchronized boolean claim(int port) {
    try {
      Path dir = Path.of(System.getProperty("java.io.tmpdir"), "halo-test-ports");
      Files.createDirectories(dir);
      java.nio.channels.FileChannel channel =
          java.nio.channels.FileChannel.open(
              dir.resolve(port + ".lock"),
              java.nio.file.StandardOpenOption.CREATE,
              java.nio.file.StandardOpenOption.WRITE);
      java.nio.channels.FileLock lock;
      try {
        lock = channel.tryLock();
      } catch (java.nio.channels.OverlappingFileLockException e) {
        lock = null;
      } catch (IOException e) {
        channel.close(); // not left open by a port that is not claimed
        throw e;
      }
      if (lock == null) {
        channel.close();
        return false;
      }
      CLAIMS.add(channel);
      return true;
    } catch (IOException e) {
      return true; // no lock files here: the bind check alone, as before
    }
  }

  private static ServerSocket tryBind(int port) {
    try {
      // bound on the wildcard address, so a port some server holds on any address is skipped
      ServerSocket socket = new ServerSocket();
      try {
        socket.bind(new InetSocketAddress((InetAddress) null, port), 1);
        return socket;
      } catch (IOException e) {
        socket.close();
        return null;
      }
    } catch (IOException e) {
      return null;
    }
  }

  /**
   * The ports to draw from, [start, end): below the kernel's ephemeral range (Linux) where there is
   * room, else above it; elsewhere below the IANA default range.
   */
  static int[] outsideEphemeral() {
    int[] ephemeral = ephemeralRange();
    if (ephemeral[0] > LOWEST + 1_000) {
      return new int[] {LOWEST, ephemeral[0]};
    }
    if (ephemeral[1] < 65_535 - 1_000) {
      return new int[] {ephemeral[1] + 1, 65_536};
    }
    return new int[] {LOWEST, DEFAULT_EPHEMERAL_START}; // no room outside: the old race remains
  }

  /** The kernel's ephemeral range, inclusive (Linux), or the IANA default elsewhere. */
  static int[] ephemeralRange() {
    try {
      String[] range = Files.readString(RANGE, StandardCharsets.US_ASCII).trim().split("\\s+");
      return new int[] {Integer.parseInt(range[0]), Integer.parseInt(range[1])};
    } catch (IOException | RuntimeException e) {
      return new int[] {DEFAULT_EPHEMERAL_START, 65_535};
    }
  }
}

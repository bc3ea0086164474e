package io.halo.testkit;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A TCP relay on 127.0.0.1 in front of one server, for network faults in tests. {@link
 * #blackhole()} makes it a partition: connections stay open and new ones are accepted, but no byte
 * passes in either direction (probes time out, as across a dead link). {@link #heal()} lets bytes
 * pass again on new connections.
 */
public final class TcpRelay implements AutoCloseable {

  private static final Logger log = LoggerFactory.getLogger(TcpRelay.class);

  private final String name;
  private final InetSocketAddress target;
  private final ServerSocket server;
  private final Set<Socket> sockets = ConcurrentHashMap.newKeySet();
  private final java.util.concurrent.atomic.AtomicInteger accepted =
      new java.util.concurrent.atomic.AtomicInteger();
  private volatile boolean blackholed;
  private volatile boolean closed;

  private TcpRelay(String name, InetSocketAddress target) throws IOException {
    this.name = name;
    this.target = target;
    this.server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
    Thread acceptor = new Thread(this::accept, "relay-" + name);
    acceptor.setDaemon(true);
    acceptor.start();
  }

  /** Starts a relay to {@code host:port} on a free loopback port. */
  public static TcpRelay start(String name, String host, int port) throws IOException {
    return new TcpRelay(name, new InetSocketAddress(host, port));
  }

  public int port() {
    return server.getLocalPort();
  }

  /** From now on no byte passes; connections are kept open, so peers wait instead of failing. */
  /** Client connections accepted so far. */
  public int accepted() {
    return accepted.get();
  }

  public void blackhole() {
    log.info("relay {}: blackholing traffic to {}", name, target);
    blackholed = true;
  }

  /** Bytes pass again (connections opened during the blackhole stay dead). */
  public void heal() {
    log.info("relay {}: healed", name);
    blackholed = false;
  }

  private void accept() {
    while (!closed) {
      Socket client;
      try {
        client = server.accept();
      } catch (IOException e) {
        return;
      }
      sockets.add(client);
      accepted.incrementAndGet();
      if (blackholed) {
        continue; // accepted, never answered
      }
      try {
        Socket upstream = new Socket();
        upstream.connect(target, 5000);
        sockets.add(upstream);
        pipe(client, upstream);
        pipe(upstream, client);
      } catch (IOException e) {
        close(client);
      }
    }
  }

  private void pipe(Socket from, Socket to) {
    Thread t =
        new Thread(
            () -> {
              byte[] buf = new byte[16 * 1024];
              try (InputStream in = from.getInputStream();
                  OutputStream out = to.getOutputStream()) {
                for (int n; (n = in.read(buf)) >= 0; ) {
                  if (blackholed) {
                    continue; // swallowed, as by a dead link
                  }
                  out.write(buf, 0, n);
                  out.flush();
                }
              } catch (IOException e) {
                // one side closed
              } finally {
                if (!blackholed) {
                  close(from);
                  close(to);
                }
              }
            },
            "relay-" + name + "-pipe");
    t.setDaemon(true);
    t.start();
  }

  private void close(Socket s) {
    try {
      s.close();
    } catch (IOException e) {
      // closing anyway
    }
    sockets.remove(s);
  }

  @Override
  public void close() {
    closed = true;
    try {
      server.close();
    } catch (IOException e) {
      // closing anyway
    }
    sockets.forEach(this::close);
  }
}

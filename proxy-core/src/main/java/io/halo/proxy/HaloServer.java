package io.halo.proxy;

import io.halo.conf.model.ClusterConfig;
import io.halo.conf.model.Engine;
import io.halo.conf.model.HaloConfig;
import io.halo.conf.model.ListenerConfig;
import io.halo.health.state.StaticTopology;
import io.halo.health.state.TopologySource;
import io.halo.proxy.pg.PgListener;
import io.halo.proxy.pg.PgListenerContext;
import io.halo.proxy.pg.PgSession;
import io.halo.proxy.pg.auth.Credentials;
import io.halo.proxy.session.CancelRegistry;
import io.halo.proxy.transport.Transports;
import io.halo.routing.ListenerRouter;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.WriteBufferWaterMark;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One running Halo: the event loops and a bound listener per configured listener. Start with
 * {@link #start(HaloConfig)}, stop with {@link #close()}.
 */
public final class HaloServer implements AutoCloseable {

  private static final Logger log = LoggerFactory.getLogger(HaloServer.class);
  /** Per-channel outbound buffer bounds: reading from the peer pauses above the high mark. */
  private static final WriteBufferWaterMark WATER_MARK = new WriteBufferWaterMark(64 * 1024, 256 * 1024);

  private final HaloConfig config;
  private final Transports transports;
  private final EventLoopGroup boss;
  private final EventLoopGroup workers;
  private final List<Channel> serverChannels = new ArrayList<>();
  private final CancelRegistry<PgSession> pgCancels = new CancelRegistry<>();

  private HaloServer(HaloConfig config, Transports transports) {
    this.config = config;
    this.transports = transports;
    this.boss = transports.newGroup(1);
    int threads = config.server().ioThreads() == 0 ? Runtime.getRuntime().availableProcessors() : config.server().ioThreads();
    this.workers = transports.newGroup(threads);
  }

  /** Binds every listener of every cluster, or fails and releases whatever it bound. */
  public static HaloServer start(HaloConfig config) throws InterruptedException {
    HaloServer server = new HaloServer(config, Transports.best());
    try {
      server.bindAll();
      return server;
    } catch (RuntimeException | InterruptedException e) {
      server.close();
      throw e;
    }
  }

  private void bindAll() throws InterruptedException {
    Credentials credentials = Credentials.of(config.users());
    for (ClusterConfig cluster : config.clusters()) {
      if (cluster.engine() != Engine.POSTGRESQL) {
        throw new IllegalStateException(
            "cluster " + cluster.name() + ": engine " + cluster.engine().name().toLowerCase()
                + " is not supported by this version of Halo yet");
      }
      TopologySource topology = new StaticTopology(cluster);
      for (ListenerConfig listener : cluster.listeners()) {
        String name = cluster.name() + "/" + listener.listen();
        PgListenerContext context =
            new PgListenerContext(
                name,
                cluster.name(),
                listener,
                config.server(),
                credentials,
                new ListenerRouter(cluster.name(), listener, topology),
                pgCancels,
                transports,
                new AtomicInteger());
        ServerBootstrap b =
            new ServerBootstrap()
                .group(boss, workers)
                .channel(transports.serverChannel())
                .option(ChannelOption.SO_BACKLOG, 1024)
                .option(ChannelOption.SO_REUSEADDR, true)
                .childOption(ChannelOption.TCP_NODELAY, true)
                .childOption(ChannelOption.SO_KEEPALIVE, true)
                .childOption(ChannelOption.WRITE_BUFFER_WATER_MARK, WATER_MARK)
                .childHandler(new PgListener(context));
        Channel ch;
        try {
          ch = b.bind(listener.listen().host(), listener.listen().port()).sync().channel();
        } catch (Exception e) {
          throw new IllegalStateException(
              "cluster " + cluster.name() + ": cannot listen on " + listener.listen() + ": " + e.getMessage(), e);
        }
        serverChannels.add(ch);
        log.info("[{}] listening ({}, route {}, {} transport)", name, cluster.engine().name().toLowerCase(),
            listener.route().name().toLowerCase(), transports.name());
      }
    }
  }

  /** The addresses actually bound, in config order (useful with port 0). */
  public List<InetSocketAddress> boundAddresses() {
    return serverChannels.stream().map(c -> (InetSocketAddress) c.localAddress()).toList();
  }

  public HaloConfig config() {
    return config;
  }

  @Override
  public void close() {
    for (Channel ch : serverChannels) {
      ch.close().awaitUninterruptibly(5, TimeUnit.SECONDS);
    }
    long timeout = config.server().shutdownTimeout().toMillis();
    boss.shutdownGracefully(0, timeout, TimeUnit.MILLISECONDS);
    workers.shutdownGracefully(0, timeout, TimeUnit.MILLISECONDS).awaitUninterruptibly(timeout + 1000);
    log.info("Halo stopped");
  }
}

package io.halo.health.store;

import io.halo.conf.model.BackendTlsConfig;
import io.halo.conf.model.CoordinationConfig;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.CuratorFrameworkFactory;
import org.apache.curator.framework.state.ConnectionState;
import org.apache.curator.retry.RetryUntilElapsed;
import org.apache.zookeeper.client.ZKClientConfig;
import org.apache.zookeeper.common.ClientX509Util;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * This process's ZooKeeper session (Apache Curator), shared by the {@link ZkStateStore} of every
 * cluster. The connection state is watched here: on SUSPENDED or LOST every store stops deciding at
 * once (before the session can expire on the ensemble and another instance be elected); on
 * RECONNECTED the stores catch up with the newest state.
 */
public final class ZkCoordination implements AutoCloseable {

  private static final Logger log = LoggerFactory.getLogger(ZkCoordination.class);

  /**
   * ZooKeeper's {@code CREATOR_ALL_ACL}: every permission (31) for the identities the creating
   * session authenticated with (the "auth" scheme). Spelled out: ZooDefs carries annotations whose
   * classes are not on the compile path.
   */
  private static final List<org.apache.zookeeper.data.ACL> CREATOR_ALL =
      // not List.of: ZooKeeper asks the list whether it contains null, which List.of refuses
      java.util.Collections.singletonList(
          new org.apache.zookeeper.data.ACL(31, new org.apache.zookeeper.data.Id("auth", "")));

  private final CoordinationConfig config;
  private final CuratorFramework client;
  private final String instance;
  private volatile String adminAddress;
  private final Map<String, ZkStateStore> stores = new ConcurrentHashMap<>();
  private final List<Consumer<ConnectionState>> listeners = new CopyOnWriteArrayList<>();
  private volatile ConnectionState state = ConnectionState.LOST;
  private LeaderWatch leaderWatch;

  /** The joined certificate and key for ZooKeeper's TLS client, or null. */
  private Path keyStore;

  private ZkCoordination(CoordinationConfig config, String instance, String adminAddress) {
    this.config = config;
    this.instance = instance;
    this.adminAddress = adminAddress;
    int session = (int) config.sessionTimeout().toMillis();
    CuratorFrameworkFactory.Builder builder = CuratorFrameworkFactory.builder();
    if (config.auth() != null) {
      // every znode this session creates (state, views, latches, their parents) is readable and
      // writable by the same digest identity only: the other instances share it, nobody else
      builder
          .authorization("digest", config.auth().getBytes(java.nio.charset.StandardCharsets.UTF_8))
          .aclProvider(
              new org.apache.curator.framework.api.ACLProvider() {
                @Override
                public List<org.apache.zookeeper.data.ACL> getDefaultAcl() {
                  return CREATOR_ALL;
                }

                @Override
                public List<org.apache.zookeeper.data.ACL> getAclForPath(String path) {
                  return CREATOR_ALL;
                }
              });
    }
    if (config.tls().enabled()) {
      builder.zkClientConfig(tlsClientConfig(config.tls()));
    }
    this.client =
        builder
            .connectString(config.connect())
            .sessionTimeoutMs(session)
            .connectionTimeoutMs(Math.max(1000, session / 2))
            // Bounded: a save runs on a cluster's health writer, which must not wait longer than
            // a session for an unreachable ensemble (the leader stops deciding by then anyway).
            .retryPolicy(new RetryUntilElapsed(session, 200))
            // Curator's EnsembleTracker would replace the configured connect string with the
            // servers the ensemble announces (/zookeeper/config) and reconnect to them directly,
            // past a proxy, VIP or firewall rule the operator put in coordination.zookeeper.connect
            // (FleetProcessIT saw an instance cut from its ZooKeeper relay reconnect that way).
            .ensembleTracker(false)
            .build();
    client
        .getConnectionStateListenable()
        .addListener(
            (c, s) -> {
              state = s;
              if (s == ConnectionState.SUSPENDED || s == ConnectionState.LOST) {
                log.warn(
                    "ZooKeeper connection {}: this instance takes no decision and keeps routing by the last epoch it saw",
                    s);
              } else {
                log.info("ZooKeeper connection {} ({})", s, config.connect());
              }
              for (Consumer<ConnectionState> l : listeners) {
                l.accept(s);
              }
            });
  }

  /**
   * ZooKeeper's client settings for {@code coordination.zookeeper.tls}: its Netty socket (the only
   * one that speaks TLS), the trust store and, with a client certificate, the key store, both PEM.
   * Every TLS setting is given here, empty where unused, so that none comes from a {@code
   * zookeeper.ssl.*} system property of this JVM.
   */
  private ZKClientConfig tlsClientConfig(BackendTlsConfig tls) {
    ZKClientConfig zc = new ZKClientConfig();
    zc.setProperty(ZKClientConfig.SECURE_CLIENT, "true");
    zc.setProperty(
        ZKClientConfig.ZOOKEEPER_CLIENT_CNXN_SOCKET, "org.apache.zookeeper.ClientCnxnSocketNetty");
    try (ClientX509Util x = new ClientX509Util()) {
      zc.setProperty(x.getSslTruststoreLocationProperty(), tls.ca().toString());
      zc.setProperty(x.getSslTruststoreTypeProperty(), "PEM");
      zc.setProperty(x.getSslTruststorePasswdProperty(), "");
      zc.setProperty(x.getSslHostnameVerificationEnabledProperty(), "true");
      zc.setProperty(x.getSslCrlEnabledProperty(), "false");
      zc.setProperty(x.getSslOcspEnabledProperty(), "false");
      zc.setProperty(x.getSslKeystorePasswdProperty(), "");
      if (tls.cert() == null) {
        zc.setProperty(x.getSslKeystoreLocationProperty(), "");
      } else {
        // ZooKeeper reads the certificate chain and the key from one PEM file
        keyStore = joinedKeyStore(tls.cert(), tls.key());
        zc.setProperty(x.getSslKeystoreLocationProperty(), keyStore.toString());
        zc.setProperty(x.getSslKeystoreTypeProperty(), "PEM");
      }
    }
    return zc;
  }

  /** {@code cert} and {@code key} in one file readable by this user only, removed on close. */
  private static Path joinedKeyStore(Path cert, Path key) {
    try {
      Path joined =
          Files.createTempFile(
              "halo-zk-",
              ".pem",
              PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
      joined.toFile().deleteOnExit();
      Files.write(
          joined,
          (Files.readString(cert, StandardCharsets.US_ASCII).strip()
                  + "\n"
                  + Files.readString(key, StandardCharsets.US_ASCII).strip()
                  + "\n")
              .getBytes(StandardCharsets.US_ASCII));
      return joined;
    } catch (IOException e) {
      throw new UncheckedIOException(
          "cannot prepare the ZooKeeper client certificate from " + cert + " and " + key, e);
    }
  }

  /**
   * Connects, waiting at most the session timeout: a Halo that starts without ZooKeeper would not
   * know the fleet's epoch, so it refuses to start.
   *
   * @param instance this instance's name in the fleet (unique)
   * @param adminAddress where its admin API listens (null until bound: {@link
   *     #adminAddress(String)})
   */
  public static ZkCoordination connect(
      CoordinationConfig config, String instance, String adminAddress) throws IOException {
    ZkCoordination z = new ZkCoordination(config, instance, adminAddress);
    z.client.start();
    try {
      if (!z.client.blockUntilConnected(
          (int) config.sessionTimeout().toMillis(), TimeUnit.MILLISECONDS)) {
        z.close();
        throw new IOException(
            "cannot reach ZooKeeper at "
                + config.connect()
                + " within "
                + config.sessionTimeout().toMillis()
                + " ms (coordination.zookeeper.connect)"
                + (config.tls().enabled()
                    ? "; over TLS ("
                        + config.tls().mode().yamlName()
                        + "), a refused certificate on either side looks the same: ZooKeeper's"
                        + " client logs the handshake's error"
                    : ""));
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      z.close();
      throw new IOException("interrupted while connecting to ZooKeeper", e);
    }
    z.state = ConnectionState.CONNECTED;
    if (config.fastTakeover()) {
      z.leaderWatch = new LeaderWatch(() -> List.copyOf(z.stores.values()), () -> z.adminAddress);
      z.leaderWatch.start();
    }
    log.info(
        "Instance {} coordinates through ZooKeeper {} under {}",
        instance,
        config.connect(),
        config.root());
    return z;
  }

  /** The store of {@code cluster} (one per cluster, created on first use). */
  public ZkStateStore store(String cluster) {
    return stores.computeIfAbsent(cluster, c -> new ZkStateStore(this, c));
  }

  CuratorFramework client() {
    return client;
  }

  String root() {
    return config.root();
  }

  public String instance() {
    return instance;
  }

  public String adminAddress() {
    return adminAddress;
  }

  /** Where this instance's admin API listens, once it is bound. */
  public void adminAddress(String address) {
    this.adminAddress = address;
  }

  /** Whether the session is usable now (not suspended, not lost). */
  public boolean connected() {
    ConnectionState s = state;
    return s == ConnectionState.CONNECTED || s == ConnectionState.RECONNECTED;
  }

  public ConnectionState connectionState() {
    return state;
  }

  public String connectString() {
    return config.connect();
  }

  void onConnectionState(Consumer<ConnectionState> l) {
    listeners.add(l);
  }

  /**
   * A stopping instance stops watching the leaders and never joins an election again; what it leads
   * it keeps until {@link #leave()} (running actions may still save).
   */
  public void stopping() {
    if (leaderWatch != null) {
      leaderWatch.close();
    }
    stores.values().forEach(ZkStateStore::stopping);
  }

  /** A stopping instance leaves every election (the next instance leads at once). */
  public void leave() {
    stopping();
    stores.values().forEach(ZkStateStore::leave);
  }

  @Override
  public void close() {
    if (leaderWatch != null) {
      leaderWatch.close();
    }
    stores.values().forEach(ZkStateStore::close);
    client.close();
    if (keyStore != null) {
      try {
        Files.deleteIfExists(keyStore);
      } catch (IOException e) {
        log.debug("cannot remove {}: {}", keyStore, e.toString());
      }
    }
  }
}

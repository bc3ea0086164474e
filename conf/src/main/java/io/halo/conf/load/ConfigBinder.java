package io.halo.conf.load;

import io.halo.conf.model.AdminConfig;
import io.halo.conf.model.AuthMethod;
import io.halo.conf.model.BackendTlsConfig;
import io.halo.conf.model.Cidr;
import io.halo.conf.model.ClusterConfig;
import io.halo.conf.model.CoordinationConfig;
import io.halo.conf.model.HaloConfig;
import io.halo.conf.model.HostPort;
import io.halo.conf.model.ServerConfig;
import io.halo.conf.model.UserConfig;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * Binds the top of the tree (server, admin, users) and hands each cluster to {@link ClusterBinder}.
 * Defaults live here and in ClusterBinder, next to the key they belong to; {@code halo.yaml}
 * documents the same values (ConfigLoaderTest checks every default).
 */
final class ConfigBinder {

  static final HostPort DEFAULT_ADMIN_LISTEN = new HostPort("127.0.0.1", 7070);

  private final Problems problems;
  private final ListenAddresses listenAddresses = new ListenAddresses();

  ConfigBinder(Problems problems) {
    this.problems = problems;
  }

  /** The config, or null when a violation was recorded. */
  HaloConfig bind(Node root, Path source) {
    Section top =
        Section.of(
            root,
            root.mark(),
            "",
            problems,
            "server",
            "admin",
            "users",
            "clusters",
            "coordination");
    ServerConfig server =
        server(
            top.section(
                "server",
                "io_threads",
                "auth_timeout",
                "backend_connect_timeout",
                "max_message_size",
                "shutdown_timeout",
                "state_dir",
                "max_client_connections",
                "max_unauthenticated_per_address",
                "startup_timeout",
                "transport"),
            source);
    AdminConfig admin =
        admin(
            top.section("admin", "listen", "token", "read_only_token", "tls"),
            new TlsBinder(source == null ? null : source.toAbsolutePath().getParent()));
    List<UserConfig> users = users(top, source);
    CoordinationConfig coordination =
        top.has("coordination")
            ? coordination(
                top.section("coordination", "zookeeper"),
                new TlsBinder(source == null ? null : source.toAbsolutePath().getParent()))
            : null;
    List<ClusterConfig> clusters = new ArrayList<>();
    UniqueNames clusterNames = new UniqueNames("cluster");
    List<Node> clusterNodes = top.nonEmptyList("clusters");
    for (int i = 0; i < clusterNodes.size(); i++) {
      Node n = clusterNodes.get(i);
      clusters.add(
          new ClusterBinder(
                  problems,
                  listenAddresses,
                  clusterNames,
                  source == null ? null : source.toAbsolutePath().getParent())
              .bind(n, "clusters[" + i + "]"));
    }
    top.finish();
    if (!problems.isEmpty()
        || server == null
        || admin == null
        || users.contains(null)
        || clusters.contains(null)) {
      return null;
    }
    return top.construct(
        () -> new HaloConfig(source, server, admin, users, clusters, coordination));
  }

  /**
   * {@code state_dir} resolves against the config file's directory; when absent, a config loaded
   * from a file keeps its state in {@code halo-state} beside the file (a parsed text keeps none).
   */
  private static ServerConfig server(Section s, Path source) {
    Integer ioThreads = s.optional("io_threads", 0, Formats::integer);
    Duration authTimeout = s.optional("auth_timeout", Duration.ofSeconds(15), Formats::duration);
    Duration connectTimeout =
        s.optional("backend_connect_timeout", Duration.ofSeconds(5), Formats::duration);
    Long maxMessageSize = s.optional("max_message_size", 64L << 20, Formats::size);
    Duration shutdownTimeout =
        s.optional("shutdown_timeout", Duration.ofSeconds(10), Formats::duration);
    Path base = source == null ? null : source.toAbsolutePath().getParent();
    String stateDirText = s.string("state_dir", null);
    Path stateDir = null;
    if (stateDirText != null && stateDirText.isBlank()) {
      s.report(
          "state_dir",
          "is empty; remove the key to keep state in "
              + ServerConfig.DEFAULT_STATE_DIR
              + " beside the config file");
    } else if (stateDirText != null) {
      stateDir = base == null ? Path.of(stateDirText) : base.resolve(stateDirText);
    } else if (base != null) {
      stateDir = base.resolve(ServerConfig.DEFAULT_STATE_DIR);
    }
    Integer maxClients = s.optional("max_client_connections", 0, Formats::integer);
    Integer perAddress =
        s.optional(
            "max_unauthenticated_per_address",
            ServerConfig.DEFAULT_MAX_UNAUTHENTICATED_PER_ADDRESS,
            Formats::integer);
    Duration startupTimeout =
        s.optional("startup_timeout", ServerConfig.DEFAULT_STARTUP_TIMEOUT, Formats::duration);
    ServerConfig.Transport transport =
        s.optional(
            "transport",
            ServerConfig.Transport.AUTO,
            t -> Formats.enumValue(t, ServerConfig.Transport.class));
    s.finish();
    Path dir = stateDir;
    return s.construct(
        () ->
            new ServerConfig(
                ioThreads,
                authTimeout,
                connectTimeout,
                maxMessageSize,
                shutdownTimeout,
                dir,
                maxClients,
                perAddress,
                startupTimeout,
                transport));
  }

  /**
   * {@code coordination: { zookeeper: { connect, root, session_timeout, instance, auth, tls,
   * fast_takeover } }}.
   */
  private static CoordinationConfig coordination(Section s, TlsBinder tlsBinder) {
    Section zk =
        s.requiredSection(
            "zookeeper",
            "connect",
            "root",
            "session_timeout",
            "instance",
            "auth",
            "tls",
            "fast_takeover");
    String connect = zk.requiredString("connect");
    if (connect != null && connect.isBlank()) {
      zk.report("connect", "is empty: name the ZooKeeper ensemble, e.g. zk1:2181,zk2:2181");
    }
    String root = zk.string("root", CoordinationConfig.DEFAULT_ROOT);
    if (root != null && (!root.startsWith("/") || (root.length() > 1 && root.endsWith("/")))) {
      zk.report("root", "must be an absolute znode path such as /halo");
    }
    Duration timeout =
        zk.optional(
            "session_timeout", CoordinationConfig.DEFAULT_SESSION_TIMEOUT, Formats::duration);
    String instance = zk.string("instance", null);
    String auth = zk.string("auth", null);
    if (auth != null && (auth.indexOf(':') < 1 || auth.indexOf(':') == auth.length() - 1)) {
      zk.report("auth", "must be user:password (ZooKeeper's digest scheme)");
    }
    BackendTlsConfig tls = tlsBinder.zookeeper(zk);
    Boolean fast = zk.optional("fast_takeover", true, Formats::bool);
    zk.finish();
    s.finish();
    if (tls == null) {
      return null; // its violations are reported
    }
    return zk.construct(
        () ->
            new CoordinationConfig(
                connect, root, timeout, instance, auth, tls, fast == null || fast));
  }

  private AdminConfig admin(Section s, TlsBinder tlsBinder) {
    HostPort listen = s.optional("listen", DEFAULT_ADMIN_LISTEN, HostPort::parse);
    String token = s.string("token", null);
    if (token != null && token.isEmpty()) {
      s.report("token", "is empty; remove the key to run the admin API without a token");
    }
    if (token == null && listen != null && !listen.loopback()) {
      s.report(
          "listen",
          "is "
              + listen
              + ", reachable from other hosts, and admin.token is not set: anyone who"
              + " can connect could fail over, drain or throttle; set admin.token or listen on 127.0.0.1");
    }
    String readOnly = s.string("read_only_token", null);
    if (readOnly != null && readOnly.isEmpty()) {
      s.report("read_only_token", "is empty; remove the key to have no read-only token");
    } else if (readOnly != null && token == null) {
      s.report(
          "read_only_token",
          "needs admin.token: without it every request may change everything anyway");
    } else if (readOnly != null && readOnly.equals(token)) {
      s.report(
          "read_only_token", "is the same as admin.token; give the read-only token its own value");
    }
    listenAddresses.claim(listen, s, "listen");
    io.halo.conf.model.ListenerTlsConfig tls = tlsBinder.admin(s);
    s.finish();
    if (tls == null) {
      return null;
    }
    return s.construct(() -> new AdminConfig(listen, token, readOnly, tls));
  }

  private List<UserConfig> users(Section top, Path source) {
    List<UserConfig> users = new ArrayList<>();
    UniqueNames names = new UniqueNames("user");
    List<Node> nodes = top.nonEmptyList("users");
    for (int i = 0; i < nodes.size(); i++) {
      Node n = nodes.get(i);
      Section s =
          Section.of(
              n,
              n.mark(),
              "users[" + i + "]",
              problems,
              "name",
              "password",
              "password_file",
              "auth",
              "backend_user",
              "backend_password",
              "max_connections",
              "max_transactions_per_second",
              "transaction_burst",
              "allow",
              "require_tls",
              "certificate_names");
      String name = s.requiredString("name");
      String password = s.string("password", null);
      if (s.has("password_file") && s.has("password")) {
        s.report("password_file", "give either password or password_file, not both");
      } else if (s.has("password_file")) {
        password = Passwords.readFile(s, s.string("password_file", null), source);
        if (password == null) {
          // Already reported; a stand-in keeps the trial construction from repeating it.
          password = "(password_file unreadable)";
        }
      }
      final String secret = password;
      AuthMethod auth =
          s.optional("auth", AuthMethod.SCRAM_SHA_256, t -> Formats.enumValue(t, AuthMethod.class));
      String backendUser = s.string("backend_user", name);
      String backendPassword = Passwords.backendPassword(s, name, secret, auth, backendUser);
      if (auth != null
          && auth != AuthMethod.TRUST
          && auth != AuthMethod.CERT
          && !s.has("password")
          && !s.has("password_file")) {
        s.report(
            "password",
            "required key is missing (give password or password_file; only auth: trust and"
                + " auth: cert need neither)");
      }
      Integer maxConnections = s.optional("max_connections", 0, Formats::integer);
      Integer rate = s.optional("max_transactions_per_second", 0, Formats::integer);
      Integer burst = s.optional("transaction_burst", rate == null ? 0 : rate, Formats::integer);
      List<Cidr> allow = Passwords.allow(s);
      Boolean requireTls = s.optional("require_tls", false, Formats::bool);
      List<String> certificateNames = Passwords.certificateNames(s);
      names.check(name, s, "name");
      s.finish();
      users.add(
          s.construct(
              () ->
                  new UserConfig(
                      name,
                      secret,
                      auth,
                      backendUser,
                      backendPassword,
                      maxConnections,
                      rate,
                      burst,
                      allow,
                      requireTls,
                      certificateNames)));
    }
    return users;
  }
}

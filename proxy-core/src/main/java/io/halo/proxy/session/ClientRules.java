package io.halo.proxy.session;

import io.halo.conf.model.Cidr;
import io.halo.conf.model.UserConfig;
import io.netty.channel.Channel;
import io.netty.handler.ssl.SslHandler;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.util.List;

/**
 * A user's address rules ({@code allow:}, {@code require_tls}), like {@code pg_hba.conf}'s {@code
 * host}/{@code hostssl} lines, for both engines: checked once the user name is known and before the
 * password is asked for, so a refused client learns nothing about the password. CPU work only (no
 * DNS: rules are IP networks).
 */
public final class ClientRules {

  private static final org.slf4j.Logger log = org.slf4j.LoggerFactory.getLogger(ClientRules.class);

  private ClientRules() {}

  /**
   * Whether {@code user}'s rules refuse this connection; if so, counts it ({@code
   * address_not_allowed}) and logs why (at most once a second per listener, as failed logins). The
   * caller then sends its protocol's error, which does not say which rule refused.
   */
  /**
   * {@link #refuses(Channel, UserConfig, String, Rejections, AuthFailures)} on {@code listener}.
   */
  public static boolean refuses(Channel channel, UserConfig user, SessionListener listener) {
    return refuses(channel, user, listener.name(), listener.rejections(), listener.authFailures());
  }

  public static boolean refuses(
      Channel channel,
      UserConfig user,
      String listenerName,
      Rejections rejections,
      AuthFailures failures) {
    String why = refusal(user, channel.remoteAddress(), tls(channel));
    if (why == null) {
      return false;
    }
    rejections.count("address_not_allowed");
    long suppressed = failures.admitLogLine(listenerName);
    if (suppressed >= 0) {
      log.info(
          "[{}] refused before authentication: {}{}",
          listenerName,
          why,
          AuthFailures.suppressed(suppressed));
    }
    return true;
  }

  /** Whether the client's connection is encrypted (an {@link SslHandler} in its pipeline). */
  public static boolean tls(Channel channel) {
    return channel.pipeline().get(SslHandler.class) != null;
  }

  /** Why {@code user} may not connect from {@code remote}, or null when the rules allow it. */
  public static String refusal(UserConfig user, SocketAddress remote, boolean tls) {
    if (user.requireTls() && !tls) {
      return "user \"" + user.name() + "\" must connect with TLS (require_tls)";
    }
    InetAddress address =
        remote instanceof InetSocketAddress inet && !inet.isUnresolved() ? inet.getAddress() : null;
    if (allows(user.allow(), address)) {
      return null;
    }
    return "address " + host(remote) + " is not in user \"" + user.name() + "\"'s allow list";
  }

  /**
   * Whether an {@code allow:} list (a user's, or a listener's at accept) holds {@code address}: an
   * empty list holds any address, an unknown address is in no non-empty list.
   */
  public static boolean allows(List<Cidr> allow, InetAddress address) {
    if (allow.isEmpty()) {
      return true;
    }
    for (Cidr c : allow) {
      if (c.contains(address)) {
        return true;
      }
    }
    return false;
  }

  /** The client's IP address as text (never a name lookup). */
  public static String host(SocketAddress remote) {
    return remote instanceof InetSocketAddress inet && inet.getAddress() != null
        ? inet.getAddress().getHostAddress()
        : String.valueOf(remote);
  }
}

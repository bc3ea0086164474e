package io.halo.proxy.session;

import io.halo.conf.model.CertificateName;
import io.halo.conf.model.UserConfig;
import io.netty.channel.Channel;
import io.netty.handler.ssl.SslHandler;
import java.security.cert.Certificate;
import java.security.cert.CertificateParsingException;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import javax.naming.InvalidNameException;
import javax.naming.ldap.LdapName;
import javax.naming.ldap.Rdn;
import javax.net.ssl.SSLPeerUnverifiedException;

/**
 * Login by TLS client certificate ({@code auth: cert}), for both engines, like PostgreSQL's {@code
 * cert} method: the certificate was checked against the listener's {@code tls.ca} by the TLS engine
 * during the handshake (a certificate that does not chain, or has expired, never gets here); this
 * class only decides whether one of its names is one of the user's {@code certificate_names}.
 *
 * <p>Design memo. Runs on the client's event loop once the login names the user, which is after the
 * handshake: reading the peer certificate from the finished session and its subject and alternative
 * names is parsing in memory, no I/O. A connection without TLS, or whose client sent no certificate
 * (listener {@code client_certificates: optional}), is refused.
 */
public final class CertificateLogin {

  private CertificateLogin() {}

  /**
   * Why {@code channel}'s client certificate does not log in as {@code user}, or null when it does.
   */
  public static String refusal(Channel channel, UserConfig user) {
    SslHandler ssl = channel.pipeline().get(SslHandler.class);
    if (ssl == null) {
      return "certificate login needs TLS, and the connection has none";
    }
    X509Certificate cert;
    try {
      Certificate[] chain = ssl.engine().getSession().getPeerCertificates();
      if (chain.length == 0 || !(chain[0] instanceof X509Certificate x)) {
        return "the client sent no X.509 certificate";
      }
      cert = x;
    } catch (SSLPeerUnverifiedException e) {
      return "the client sent no certificate (does the listener have client_certificates:"
          + " optional or require, and did the client give one?)";
    }
    List<String> seen = new ArrayList<>();
    for (CertificateName wanted : user.certificateIdentities()) {
      for (CertificateName has : names(cert)) {
        if (wanted.matches(has.kind(), has.value())) {
          return null;
        }
      }
    }
    for (CertificateName has : names(cert)) {
      seen.add(has.toString());
    }
    return "the certificate's names "
        + seen
        + " are not among user \""
        + user.name()
        + "\"'s certificate names "
        + user.certificateIdentities();
  }

  /** The common names of the subject and the DNS, email and URI alternative names. */
  static List<CertificateName> names(X509Certificate cert) {
    List<CertificateName> out = new ArrayList<>();
    try {
      for (Rdn rdn : new LdapName(cert.getSubjectX500Principal().getName()).getRdns()) {
        if (rdn.getType().equalsIgnoreCase("CN") && rdn.getValue() instanceof String cn) {
          out.add(new CertificateName(CertificateName.Kind.CN, cn));
        }
      }
    } catch (InvalidNameException e) {
      // a subject the JDK printed cannot be unparseable; no CN then
    }
    try {
      Collection<List<?>> sans = cert.getSubjectAlternativeNames();
      if (sans != null) {
        for (List<?> san : sans) {
          if (san.size() < 2 || !(san.get(0) instanceof Integer type)) {
            continue;
          }
          if (!(san.get(1) instanceof String value) || value.isEmpty()) {
            continue;
          }
          CertificateName.Kind kind =
              switch (type) {
                case 1 -> CertificateName.Kind.EMAIL;
                case 2 -> CertificateName.Kind.DNS;
                case 6 -> CertificateName.Kind.URI;
                default -> null;
              };
          if (kind != null) {
            out.add(new CertificateName(kind, value));
          }
        }
      }
    } catch (CertificateParsingException e) {
      // alternative names unreadable: only the CN counts
    }
    return out;
  }
}

package io.halo.conf.model;

import java.util.Locale;
import java.util.Objects;

/**
 * One name a client certificate may carry, as a user's {@code certificate_names} entry writes it:
 * {@code CN:app} (the subject's common name), {@code DNS:app.example.com}, {@code
 * email:app@example.com}, {@code URI:spiffe://example/app} (subject alternative names). An entry
 * without one of these prefixes is a common name. Matching is exact (case-sensitive, as PostgreSQL
 * compares the CN with the user name), except DNS names, which compare without case.
 */
public record CertificateName(Kind kind, String value) {

  /** Where in the certificate the name is looked for. */
  public enum Kind {
    CN,
    DNS,
    EMAIL,
    URI
  }

  public CertificateName {
    Objects.requireNonNull(kind, "kind");
    Objects.requireNonNull(value, "value");
    if (value.isEmpty()) {
      throw new IllegalArgumentException("certificate name is empty after " + kind + ":");
    }
  }

  /**
   * {@code CN:x}, {@code DNS:x}, {@code email:x}, {@code URI:x} (prefix in any case), or {@code x}.
   */
  public static CertificateName parse(String text) {
    Objects.requireNonNull(text, "text");
    int colon = text.indexOf(':');
    if (colon > 0) {
      String prefix = text.substring(0, colon).toUpperCase(Locale.ROOT);
      for (Kind k : Kind.values()) {
        if (k.name().equals(prefix)) {
          return new CertificateName(k, text.substring(colon + 1));
        }
      }
    }
    if (text.isEmpty()) {
      throw new IllegalArgumentException("certificate name is empty");
    }
    return new CertificateName(Kind.CN, text);
  }

  /** Whether a certificate's name of {@code kind} equal to {@code candidate} is this name. */
  public boolean matches(Kind candidateKind, String candidate) {
    if (candidateKind != kind || candidate == null) {
      return false;
    }
    return kind == Kind.DNS ? value.equalsIgnoreCase(candidate) : value.equals(candidate);
  }

  @Override
  public String toString() {
    return (kind == Kind.EMAIL ? "email" : kind.name()) + ":" + value;
  }
}

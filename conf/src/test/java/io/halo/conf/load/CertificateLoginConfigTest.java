package io.halo.conf.load;

import static io.halo.conf.load.ViolationAssertions.only;
import static org.assertj.core.api.Assertions.assertThat;

import io.halo.conf.load.ConfigException.Violation;
import io.halo.conf.model.AuthMethod;
import io.halo.conf.model.CertificateName;
import io.halo.conf.model.UserConfig;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Users who log in by client certificate ({@code auth: cert}). */
class CertificateLoginConfigTest {

  private static final String CLUSTERS =
      """
      clusters:
        - name: main
          listeners:
            - listen: 0.0.0.0:6432
          backends:
            - name: pg1
              address: 10.0.0.1:5432
              role: primary
          monitor:
            user: mon
      """;

  private static String users(String userLines) {
    return "users:\n  - name: app\n" + userLines + CLUSTERS;
  }

  private static UserConfig load(String yaml) throws ConfigException {
    return ConfigLoader.parse(yaml, "halo.yaml", Map.of()).users().get(0);
  }

  @Test
  void a_certificate_user_needs_no_password_and_defaults_to_its_name_as_cn()
      throws ConfigException {
    UserConfig u = load(users("    auth: cert\n"));

    assertThat(u.auth()).isEqualTo(AuthMethod.CERT);
    assertThat(u.password()).isNull();
    assertThat(u.backendPassword()).isNull();
    assertThat(u.certificateIdentities())
        .containsExactly(new CertificateName(CertificateName.Kind.CN, "app"));
  }

  @Test
  void certificate_names_map_subject_alternative_names_and_cns_to_the_user()
      throws ConfigException {
    UserConfig u =
        load(
            users(
                "    auth: cert\n    password: backendpw\n"
                    + "    certificate_names: [\"DNS:billing.example\", \"email:ops@example.com\","
                    + " svc-42]\n"));

    assertThat(u.certificateIdentities())
        .containsExactly(
            new CertificateName(CertificateName.Kind.DNS, "billing.example"),
            new CertificateName(CertificateName.Kind.EMAIL, "ops@example.com"),
            new CertificateName(CertificateName.Kind.CN, "svc-42"));
    assertThat(u.backendPassword()).isEqualTo("backendpw");
  }

  @Test
  void certificate_names_without_auth_cert_are_refused() {
    Violation v = only(users("    password: pw\n    certificate_names: [app]\n"));
    assertThat(v.message()).contains("certificate_names applies only to auth: cert");
  }

  @Test
  void a_scram_verifier_cannot_serve_the_backend_login_of_a_certificate_user() {
    Violation v =
        only(users("    auth: cert\n    password: \"" + StoredPasswordConfigTest.SCRAM + "\"\n"));
    assertThat(v.key()).isEqualTo("users[0].password");
    assertThat(v.message()).contains("certificate login").contains("plaintext");
  }

  @Test
  void matching_is_exact_except_for_dns_names() {
    CertificateName cn = CertificateName.parse("CN:App");
    CertificateName dns = CertificateName.parse("dns:Billing.Example");

    assertThat(cn.matches(CertificateName.Kind.CN, "App")).isTrue();
    assertThat(cn.matches(CertificateName.Kind.CN, "app")).isFalse();
    assertThat(cn.matches(CertificateName.Kind.DNS, "App")).isFalse();
    assertThat(dns.matches(CertificateName.Kind.DNS, "billing.example")).isTrue();
    assertThat(List.of(CertificateName.parse("URI:spiffe://x/y").kind()))
        .containsExactly(CertificateName.Kind.URI);
  }
}

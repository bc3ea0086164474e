package io.halo.proxy.pg.auth;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

/** SCRAM-SHA-256-PLUS on the server side: what a relay or a downgrade looks like, and refusals. */
class ScramChannelBindingTest {

  private static final byte[] BINDING =
      Scram.sha256("Halo's certificate".getBytes(StandardCharsets.UTF_8));

  private static ScramServer server() {
    return new ScramServer(ScramServer.impossibleVerifier("app"), BINDING);
  }

  @Test
  void offers_plus_only_over_tls() {
    assertThat(server().bindingAvailable()).isTrue();
    assertThat(new ScramServer(ScramServer.impossibleVerifier("app")).bindingAvailable()).isFalse();
  }

  @Test
  void refuses_a_client_that_believes_halo_cannot_bind_when_it_can() {
    assertThatThrownBy(() -> server().clientFirst("y,,n=,r=abc", false))
        .hasMessageContaining("negotiation error");
  }

  @Test
  void refuses_plus_without_binding_and_binding_without_plus() {
    assertThatThrownBy(() -> server().clientFirst("n,,n=,r=abc", true))
        .hasMessageContaining("without channel binding");
    assertThatThrownBy(() -> server().clientFirst("p=tls-server-end-point,,n=,r=abc", false))
        .hasMessageContaining("tls-server-end-point");
    assertThatThrownBy(() -> server().clientFirst("p=tls-unique,,n=,r=abc", true))
        .hasMessageContaining("unsupported SCRAM channel binding 'tls-unique'");
  }

  @Test
  void refuses_a_proof_bound_to_another_certificate() throws Exception {
    ScramServer s = server();
    String serverFirst = s.clientFirst("p=tls-server-end-point,,n=,r=abc", true);
    String nonce = Scram.attribute(serverFirst, 'r');
    // A relay in the middle has its own certificate: the client binds to that one.
    byte[] header = "p=tls-server-end-point,,".getBytes(StandardCharsets.UTF_8);
    byte[] other = Scram.sha256("the relay's certificate".getBytes(StandardCharsets.UTF_8));
    byte[] c = java.util.Arrays.copyOf(header, header.length + other.length);
    System.arraycopy(other, 0, c, header.length, other.length);
    String proof = Scram.b64(new byte[32]);

    assertThatThrownBy(() -> s.clientFinal("c=" + Scram.b64(c) + ",r=" + nonce + ",p=" + proof))
        .hasMessageContaining("channel binding check failed");
  }

  @Test
  void checks_the_plain_header_too() throws Exception {
    ScramServer s = new ScramServer(ScramServer.impossibleVerifier("app"));
    String serverFirst = s.clientFirst("n,,n=,r=abc");
    String nonce = Scram.attribute(serverFirst, 'r');

    // "eSws" is base64 of "y,,": not what this client sent.
    assertThatThrownBy(() -> s.clientFinal("c=eSws,r=" + nonce + ",p=" + Scram.b64(new byte[32])))
        .hasMessageContaining("channel binding check failed");
  }
}

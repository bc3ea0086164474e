package io.halo.proxy.pg.auth;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

class ScramTest {

  @Test
  void computes_the_rfc_7677_proof_and_server_signature() {
    // RFC 7677 section 3: user "user", password "pencil"
    byte[] salted = Scram.saltedPassword("pencil", Scram.unb64("W22ZaJ0SNY7soEsUEjb6gQ=="), 4096);
    String authMessage =
        "n=user,r=rOprNGfwEbeRWgbNEkqO,"
            + "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096,"
            + "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0";
    byte[] clientKey = Scram.hmac(salted, "Client Key");
    byte[] proof = Scram.xor(clientKey, Scram.hmac(Scram.sha256(clientKey), authMessage));
    byte[] serverSignature =
        Scram.hmac(Scram.hmac(salted, "Server Key"), authMessage.getBytes(StandardCharsets.UTF_8));
    assertThat(Scram.b64(proof)).isEqualTo("dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=");
    assertThat(Scram.b64(serverSignature))
        .isEqualTo("6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=");
  }

  @Test
  void client_and_server_agree_on_the_right_password() throws Exception {
    ScramServer server = new ScramServer(Scram.Verifier.of("s3cret", Scram.randomBytes(16), 4096));
    ScramClient client = new ScramClient("s3cret");
    String serverFirst = server.clientFirst(client.clientFirst());
    String serverFinal = server.clientFinal(client.clientFinal(serverFirst));
    client.serverFinal(serverFinal); // throws if the server signature were wrong
    assertThat(serverFinal).startsWith("v=");
  }

  @Test
  void server_rejects_a_wrong_password() throws Exception {
    ScramServer server = new ScramServer(Scram.Verifier.of("s3cret", Scram.randomBytes(16), 4096));
    ScramClient client = new ScramClient("guess");
    String serverFirst = server.clientFirst(client.clientFirst());
    String clientFinal = client.clientFinal(serverFirst);
    assertThatThrownBy(() -> server.clientFinal(clientFinal))
        .isInstanceOf(ScramException.class)
        .hasMessageContaining("password does not match");
  }

  @Test
  void client_rejects_a_server_that_does_not_know_the_password() throws Exception {
    ScramServer impostor = new ScramServer(ScramServer.impossibleVerifier("nobody"));
    ScramClient client = new ScramClient("s3cret");
    client.clientFinal(impostor.clientFirst(client.clientFirst()));
    assertThatThrownBy(() -> client.serverFinal("v=" + Scram.b64(new byte[32])))
        .isInstanceOf(ScramException.class);
  }

  @Test
  void server_refuses_channel_binding_requests() {
    ScramServer server = new ScramServer(ScramServer.impossibleVerifier("nobody"));
    assertThatThrownBy(() -> server.clientFirst("p=tls-server-end-point,,n=,r=abc"))
        .hasMessageContaining("channel binding");
  }
}

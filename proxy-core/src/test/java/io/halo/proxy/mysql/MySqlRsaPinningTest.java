package io.halo.proxy.mysql;

import static org.assertj.core.api.Assertions.assertThat;

import io.halo.conf.model.BackendTlsConfig;
import io.halo.conf.model.HostPort;
import io.halo.health.state.BackendNode;
import io.halo.health.state.NodeRole;
import io.halo.health.state.NodeState;
import io.halo.proxy.mysql.packet.HandshakeResponse;
import io.halo.proxy.mysql.packet.MySqlPackets;
import io.halo.proxy.transport.BackendTls;
import io.halo.proxy.transport.Transports;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.ByteBufUtil;
import io.netty.channel.EventLoopGroup;
import io.netty.util.concurrent.Future;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.PublicKey;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import javax.crypto.Cipher;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * caching_sha2_password full authentication to a MySQL 8 backend without TLS (the test kit's
 * MariaDB has no caching_sha2_password server side, so a scripted server on a socket plays MySQL 8:
 * greeting, "perform full authentication", then OK). Halo must encrypt the password with the pinned
 * {@code server_public_key} (checked here by decrypting with the private key, RSA-OAEP as MySQL
 * does), and without a pinned key refuse, never asking the server for its key (0x02).
 */
class MySqlRsaPinningTest {

  private static final String PASSWORD = "s3cret-pw";

  private final EventLoopGroup group = Transports.nio().newGroup(1);
  private final ServerSocket server;

  MySqlRsaPinningTest() throws IOException {
    server = new ServerSocket(0, 1, InetAddress.getLoopbackAddress());
  }

  @AfterEach
  void close() throws IOException {
    server.close();
    group.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
  }

  /** What the scripted server received after it asked for full authentication. */
  record Seen(List<byte[]> afterFullAuth, boolean closedByHalo) {}

  /** A MySQL 8 login: greeting, the response, 0x01 0x04, then OK to whatever comes next. */
  private CompletableFuture<Seen> mysql8(byte[] scramble) {
    return CompletableFuture.supplyAsync(
        () -> {
          try (Socket s = server.accept()) {
            s.setSoTimeout(10_000);
            OutputStream out = s.getOutputStream();
            DataInputStream in = new DataInputStream(s.getInputStream());
            write(
                out,
                0,
                MySqlGreetings.handshake(ByteBufAllocator.DEFAULT, null, 7, scramble, false));
            read(in); // handshake response
            write(out, 2, io.netty.buffer.Unpooled.wrappedBuffer(new byte[] {0x01, 0x04}));
            List<byte[]> after = new ArrayList<>();
            try {
              after.add(read(in));
              write(out, 4, MySqlPackets.ok(ByteBufAllocator.DEFAULT, 0, 0, 2, 0));
              return new Seen(after, false);
            } catch (EOFException | java.net.SocketException e) {
              return new Seen(after, true);
            }
          } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
          }
        });
  }

  private static void write(OutputStream out, int seq, ByteBuf payload) throws IOException {
    ByteBuf framed = MySqlPackets.frame(ByteBufAllocator.DEFAULT, seq, payload);
    try {
      out.write(ByteBufUtil.getBytes(framed));
      out.flush();
    } finally {
      framed.release();
    }
  }

  private static byte[] read(DataInputStream in) throws IOException {
    byte[] header = new byte[4];
    in.readFully(header);
    int length = (header[0] & 0xff) | (header[1] & 0xff) << 8 | (header[2] & 0xff) << 16;
    byte[] body = new byte[length];
    in.readFully(body);
    return body;
  }

  private Future<MySqlBackendConnection> login(PublicKey pinned) throws Exception {
    BackendNode node =
        new BackendNode(
            "my1",
            new HostPort("127.0.0.1", server.getLocalPort()),
            NodeRole.PRIMARY,
            NodeState.UP,
            0);
    Transports transports =
        Transports.nio()
            .withBackendTls(
                BackendTls.of(
                    Map.of(
                        "my1", new BackendTls.Backend(BackendTlsConfig.DISABLED, null, pinned))));
    HandshakeResponse client =
        new HandshakeResponse(
            MySqlFrontendHandler.CAPABILITIES,
            1 << 24,
            45,
            "app",
            new byte[0],
            "app",
            "caching_sha2_password",
            Map.of());
    return group
        .next()
        .submit(
            () ->
                MySqlBackendConnector.connect(
                    group.next(),
                    transports,
                    node,
                    "app",
                    PASSWORD,
                    client,
                    MySqlFrontendHandler.CAPABILITIES,
                    Duration.ofSeconds(10),
                    1 << 20))
        .get(10, TimeUnit.SECONDS);
  }

  @Test
  void full_authentication_without_tls_encrypts_the_password_with_the_pinned_key()
      throws Exception {
    KeyPair rsa = KeyPairGenerator.getInstance("RSA").generateKeyPair();
    byte[] scramble = "abcdefghij0123456789".getBytes(StandardCharsets.US_ASCII);
    CompletableFuture<Seen> seen = mysql8(scramble);

    Future<MySqlBackendConnection> login = login(rsa.getPublic());

    assertThat(login.await(10, TimeUnit.SECONDS)).isTrue();
    assertThat(login.cause()).isNull();
    login.getNow().channel().close();
    byte[] sent = seen.get(10, TimeUnit.SECONDS).afterFullAuth().get(0);
    assertThat(sent).hasSize(256); // one RSA-2048 block, not the key request 0x02
    Cipher c = Cipher.getInstance("RSA/ECB/OAEPWithSHA-1AndMGF1Padding");
    c.init(Cipher.DECRYPT_MODE, rsa.getPrivate());
    byte[] mixed = c.doFinal(sent);
    ByteArrayOutputStream plain = new ByteArrayOutputStream();
    for (int i = 0; i < mixed.length; i++) {
      plain.write(mixed[i] ^ scramble[i % scramble.length]);
    }
    assertThat(plain.toString(StandardCharsets.UTF_8)).isEqualTo(PASSWORD + "\0");
  }

  @Test
  void full_authentication_without_tls_or_a_pinned_key_is_refused_without_fetching_the_key()
      throws Exception {
    byte[] scramble = "abcdefghij0123456789".getBytes(StandardCharsets.US_ASCII);
    CompletableFuture<Seen> seen = mysql8(scramble);

    Future<MySqlBackendConnection> login = login(null);

    assertThat(login.await(10, TimeUnit.SECONDS)).isTrue();
    assertThat(login.cause())
        .hasMessageContaining("caching_sha2_password full authentication")
        .hasMessageContaining("tls.server_public_key");
    Seen s = seen.get(10, TimeUnit.SECONDS);
    assertThat(s.closedByHalo()).isTrue();
    assertThat(s.afterFullAuth()).isEmpty(); // no 0x02 "send me your public key"
  }
}

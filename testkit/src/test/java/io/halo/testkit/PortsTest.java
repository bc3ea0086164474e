package io.halo.testkit;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.List;
import org.junit.jupiter.api.Test;

class PortsTest {

  @Test
  void ports_are_distinct_bindable_and_below_the_kernels_ephemeral_range() throws Exception {
    List<Integer> ports = Ports.free(20);
    assertThat(new HashSet<>(ports)).hasSize(20);
    int[] ephemeral = Ports.ephemeralRange();
    assertThat(ports)
        .allSatisfy(
            p -> assertThat(p < ephemeral[0] || p > ephemeral[1]).as("port %d", p).isTrue());
    for (int port : ports) {
      try (ServerSocket s = new ServerSocket()) {
        s.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), port));
      }
    }
  }

  @Test
  void a_port_is_never_handed_out_twice_in_one_jvm() throws Exception {
    List<Integer> first = Ports.free(50);
    List<Integer> second = Ports.free(50);
    assertThat(second).doesNotContainAnyElementsOf(first);
  }

  @Test
  void another_jvm_cannot_claim_a_port_this_one_handed_out() throws Exception {
    int mine = Ports.free();
    assertThat(claimInAnotherJvm(mine)).isEqualTo("false");
    int unclaimed;
    do {
      unclaimed = 10_000 + java.util.concurrent.ThreadLocalRandom.current().nextInt(20_000);
    } while (new java.io.File(
            System.getProperty("java.io.tmpdir"), "halo-test-ports/" + unclaimed + ".lock")
        .exists());
    assertThat(claimInAnotherJvm(unclaimed)).isEqualTo("true");
  }

  private static String claimInAnotherJvm(int port) throws Exception {
    Process p =
        new ProcessBuilder(
                Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-cp",
                System.getProperty("java.class.path"),
                PortsClaimMain.class.getName(),
                String.valueOf(port))
            .redirectErrorStream(true)
            .start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
    assertThat(p.waitFor(30, java.util.concurrent.TimeUnit.SECONDS)).isTrue();
    return out;
  }
}

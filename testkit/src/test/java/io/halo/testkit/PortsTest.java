package io.halo.testkit;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
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
}

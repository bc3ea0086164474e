package io.halo.conf.model;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class HostPortTest {

  @Test
  void loopback_is_decided_by_spelling_and_a_name_starting_with_127_is_not_one() {
    assertThat(HostPort.parse("127.0.0.1:7070").loopback()).isTrue();
    assertThat(HostPort.parse("127.3.2.1:7070").loopback()).isTrue();
    assertThat(HostPort.parse("localhost:7070").loopback()).isTrue();
    assertThat(HostPort.parse("[::1]:7070").loopback()).isTrue();
    assertThat(HostPort.isLoopback("[::1]")).isTrue();

    assertThat(HostPort.parse("0.0.0.0:7070").loopback()).isFalse();
    assertThat(HostPort.parse("127.example.com:7070").loopback()).isFalse();
    assertThat(HostPort.parse("127.0.0.1.nip.io:7070").loopback()).isFalse();
    assertThat(HostPort.parse("127.0.0.256:7070").loopback()).isFalse();
    assertThat(HostPort.parse("[::]:7070").loopback()).isFalse();
  }
}

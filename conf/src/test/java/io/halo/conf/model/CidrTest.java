package io.halo.conf.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.net.InetAddress;
import org.junit.jupiter.api.Test;

class CidrTest {

  private static InetAddress ip(String literal) throws Exception {
    return InetAddress.getByName(literal);
  }

  @Test
  void an_ipv4_network_contains_its_addresses_only() throws Exception {
    Cidr net = Cidr.parse("10.1.0.0/16");

    assertThat(net.contains(ip("10.1.0.0"))).isTrue();
    assertThat(net.contains(ip("10.1.255.255"))).isTrue();
    assertThat(net.contains(ip("10.2.0.1"))).isFalse();
    assertThat(net.contains(ip("9.1.0.1"))).isFalse();
    assertThat(net.toString()).isEqualTo("10.1.0.0/16");
    assertThat(net.ipv6()).isFalse();
  }

  @Test
  void prefixes_that_do_not_end_on_a_byte_boundary() throws Exception {
    Cidr net = Cidr.parse("192.168.4.0/22");

    assertThat(net.contains(ip("192.168.7.200"))).isTrue();
    assertThat(net.contains(ip("192.168.8.1"))).isFalse();
    assertThat(net.contains(ip("192.168.3.255"))).isFalse();
  }

  @Test
  void an_ipv6_network_contains_its_addresses_only() throws Exception {
    Cidr net = Cidr.parse("2001:db8:abcd::/48");

    assertThat(net.ipv6()).isTrue();
    assertThat(net.contains(ip("2001:db8:abcd:12::1"))).isTrue();
    assertThat(net.contains(ip("2001:db8:abce::1"))).isFalse();
    assertThat(net.contains(ip("10.0.0.1"))).isFalse();
  }

  @Test
  void a_bare_address_is_one_host() throws Exception {
    assertThat(Cidr.parse("127.0.0.1")).isEqualTo(Cidr.parse("127.0.0.1/32"));
    assertThat(Cidr.parse("::1").prefixLength()).isEqualTo(128);
    assertThat(Cidr.parse("::1").contains(ip("::1"))).isTrue();
    assertThat(Cidr.parse("::1").contains(ip("::2"))).isFalse();
  }

  @Test
  void slash_zero_contains_every_address_of_its_family() throws Exception {
    assertThat(Cidr.parse("0.0.0.0/0").contains(ip("203.0.113.9"))).isTrue();
    assertThat(Cidr.parse("0.0.0.0/0").contains(ip("::1"))).isFalse();
    assertThat(Cidr.parse("::/0").contains(ip("fe80::1"))).isTrue();
  }

  @Test
  void an_ipv4_mapped_client_address_counts_as_ipv4() throws Exception {
    byte[] mapped = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, (byte) 0xff, (byte) 0xff, 10, 1, 2, 3};
    InetAddress v6 = java.net.Inet6Address.getByAddress(null, mapped, -1);

    assertThat(Cidr.parse("10.1.0.0/16").contains(v6)).isTrue();
  }

  @Test
  void ipv6_networks_print_in_their_short_form() {
    assertThat(Cidr.parse("::1").toString()).isEqualTo("::1/128");
    assertThat(Cidr.parse("::/0").toString()).isEqualTo("::/0");
    assertThat(Cidr.parse("2001:0db8:0000:0000:0001:0000:0000:0000/128").toString())
        .as("the longest run of zeros")
        .isEqualTo("2001:db8:0:0:1::/128");
    assertThat(Cidr.parse("2001:db8:0:1:0:0:0:0/64").toString()).isEqualTo("2001:db8:0:1::/64");
    assertThat(Cidr.parse("fe80:0:0:0:1:2:3:4/128").toString()).isEqualTo("fe80::1:2:3:4/128");
    assertThatThrownBy(() -> Cidr.parse("2001:db8::1/32"))
        .hasMessageContaining("did you mean 2001:db8::/32?");
  }

  @Test
  void network_containment() {
    assertThat(Cidr.parse("10.0.0.0/8").contains(Cidr.parse("10.1.0.0/16"))).isTrue();
    assertThat(Cidr.parse("10.1.0.0/16").contains(Cidr.parse("10.0.0.0/8"))).isFalse();
    assertThat(Cidr.parse("10.0.0.0/8").contains(Cidr.parse("11.0.0.0/16"))).isFalse();
    assertThat(Cidr.parse("::/0").contains(Cidr.parse("10.0.0.0/8"))).isFalse();
    assertThat(Cidr.parse("2001:db8::/32").contains(Cidr.parse("2001:db8:1::/48"))).isTrue();
  }

  @Test
  void refuses_what_is_not_a_network() {
    assertThatThrownBy(() -> Cidr.parse("10.1.2.3/8"))
        .hasMessageContaining("host bits")
        .hasMessageContaining("did you mean 10.0.0.0/8?");
    assertThatThrownBy(() -> Cidr.parse("10.0.0.0/33"))
        .hasMessageContaining("longer than the address");
    assertThatThrownBy(() -> Cidr.parse("10.0.0.256/32")).hasMessageContaining("256 > 255");
    assertThatThrownBy(() -> Cidr.parse("db.example.com/24")).hasMessageContaining("no host names");
    assertThatThrownBy(() -> Cidr.parse("2001:db8::zz/32"))
        .hasMessageContaining("not an IPv6 address");
    assertThatThrownBy(() -> Cidr.parse("10.0.0.0/x")).hasMessageContaining("not a number");
    assertThatThrownBy(() -> Cidr.parse("::ffff:10.0.0.0/104")).hasMessageContaining("a.b.c.d/n");
    assertThatThrownBy(() -> Cidr.parse("fe80::1%eth0")).hasMessageContaining("not a network");
  }
}

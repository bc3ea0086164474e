package io.halo.health.failover;

import static org.assertj.core.api.Assertions.assertThat;

import io.halo.conf.model.HostPort;
import org.junit.jupiter.api.Test;

class PgOpsTest {

  @Test
  void rewrites_host_and_port_and_keeps_everything_else() {
    String before =
        "user=replicator password='s3 cret' host=127.0.0.1 port=5001 application_name=pg2 sslmode=prefer";
    assertThat(PgOps.withHostPort(before, new HostPort("10.0.0.9", 6000)))
        .isEqualTo(
            "user=replicator password='s3 cret' host=10.0.0.9 port=6000 application_name=pg2 sslmode=prefer");
  }

  @Test
  void adds_host_and_port_when_missing_and_quotes_odd_hosts() {
    assertThat(PgOps.withHostPort("user=r", new HostPort("db one", 5432)))
        .isEqualTo("user=r host='db one' port=5432");
  }
}

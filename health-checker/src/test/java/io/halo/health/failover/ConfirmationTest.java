package io.halo.health.failover;

import static org.assertj.core.api.Assertions.assertThat;

import io.halo.conf.model.HostPort;
import io.halo.health.Probes;
import io.halo.health.probe.ProbeResult;
import io.halo.health.state.AdminState;
import io.halo.health.state.BackendNode;
import io.halo.health.state.BackendStatus;
import io.halo.health.state.NodeRole;
import io.halo.health.state.NodeState;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

class ConfirmationTest {

  private static final HostPort PRIMARY = new HostPort("127.0.0.1", 5001);

  private static BackendStatus standby(ProbeResult.Upstream up) {
    return new BackendStatus(new BackendNode("pg2", new HostPort("127.0.0.1", 5002), NodeRole.STANDBY, NodeState.UP, 0),
        AdminState.ENABLED, Probes.standby("pg2", 1, up), 0, 1, 0, false);
  }

  @Test
  void a_standby_still_hearing_from_the_primary_means_halo_lost_its_own_link() {
    String why = Confirmation.check(List.of(standby(Probes.streamingFrom(5001, Duration.ofMillis(300)))), "pg1",
        PRIMARY, Duration.ofMillis(200));
    assertThat(why).contains("still streams from pg1").contains("300 ms");
  }

  @Test
  void a_standby_whose_stream_broke_confirms_the_failure() {
    assertThat(Confirmation.check(List.of(standby(null)), "pg1", PRIMARY, Duration.ofMillis(200))).isNull();
    var waiting = new ProbeResult.Upstream("127.0.0.1", 5001, "waiting", false, null, Duration.ofSeconds(10));
    assertThat(Confirmation.check(List.of(standby(waiting)), "pg1", PRIMARY, Duration.ofMillis(200))).isNull();
  }

  @Test
  void a_stream_silent_for_longer_than_keepalives_allow_confirms_a_hung_primary() {
    // wal_sender_timeout 10 s: keepalives at least every 5 s; 5 s + 2 intervals of slack
    assertThat(Confirmation.check(List.of(standby(Probes.streamingFrom(5001, Duration.ofMillis(5300)))), "pg1",
        PRIMARY, Duration.ofMillis(200))).isNotNull();
    assertThat(Confirmation.check(List.of(standby(Probes.streamingFrom(5001, Duration.ofMillis(5500)))), "pg1",
        PRIMARY, Duration.ofMillis(200))).isNull();
  }
}

package io.halo.proxy.pg;

import io.halo.health.state.Topology;
import io.halo.health.state.TopologySource;
import io.halo.proxy.session.SwitchoverGateBase;
import java.util.Collection;

/**
 * The proxy's half of a planned switchover for one PostgreSQL cluster: read-write sessions stop at
 * their next transaction boundary (their next request is kept, not sent); at release, sessions on
 * the old primary are moved to the new one first ({@link SwitchoverGateBase}).
 */
public final class PgSwitchoverGate extends SwitchoverGateBase {

  private final PgSessions sessions;

  public PgSwitchoverGate(PgSessions sessions, TopologySource topology) {
    super(topology);
    this.sessions = sessions;
  }

  @Override
  protected void holding(boolean on) {
    sessions.holding(on);
  }

  @Override
  protected Collection<PgSession> sessions() {
    return sessions.all();
  }

  @Override
  protected void onTopology(Topology t) {
    sessions.onTopology(t);
  }
}

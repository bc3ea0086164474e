package io.halo.health.state;

import io.halo.health.probe.ProbeResult;

/**
 * Everything Halo knows about one backend, for the admin API and metrics. Immutable.
 *
 * @param lastProbe null before the first probe
 * @param lagBytes how far the backend's replay trails the primary's current WAL position, from the
 *     two latest probes; 0 on the primary; -1 when unknown
 * @param splitBrain the backend reports itself primary but is not the topology's primary
 */
public record BackendStatus(
    BackendNode node,
    AdminState admin,
    ProbeResult lastProbe,
    int consecutiveFailures,
    int consecutiveSuccesses,
    long lagBytes,
    boolean splitBrain) {}

package io.halo.health.store;

import java.time.Instant;

/**
 * What the admin API shows about a cluster's saved state. Immutable.
 *
 * @param location the state directory; null when Halo keeps no state (nothing survives a restart)
 * @param savedEpoch the epoch in the latest saved state; 0 before the first save
 * @param savedAt when it was saved; null before the first save
 * @param error why the latest save failed; null when it succeeded
 * @param overruled why the primary is not the one the config names; null when it is
 */
public record StateInfo(
    String location, long savedEpoch, Instant savedAt, String error, String overruled) {

  public static final StateInfo NONE = new StateInfo(null, 0, null, null, null);
}

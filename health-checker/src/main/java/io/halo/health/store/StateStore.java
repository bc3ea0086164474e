package io.halo.health.store;

import java.io.IOException;
import java.util.Optional;

/**
 * Where Halo keeps what it decided about its clusters, so that a restarted Halo routes writes where
 * the Halo before it did. One implementation keeps a file per cluster in {@code state_dir}; a
 * coordination service can take its place for several Halo instances. Calls may block on I/O: never
 * call them on a Netty event loop.
 */
public interface StateStore {

  /** The state saved for {@code cluster}, if any. */
  Optional<SavedState> load(String cluster) throws IOException;

  /** Saves {@code state} durably: when this returns, a crash cannot lose it. */
  void save(SavedState state) throws IOException;

  /** Where the state lives, for logs and the admin API; null when nothing is kept. */
  String location();

  /**
   * Registers {@code changed}, called (on any thread, never an event loop) with the state another
   * Halo instance saved, and starts whatever the store needs (leader election). A store that only
   * this process writes never calls it.
   */
  default void watch(java.util.function.Consumer<SavedState> changed) {}

  /**
   * Whether this process may take decisions (failover, start-up reconciliation) and save them now.
   * Alone: always. In a fleet: only the elected leader, while connected to the coordination
   * service.
   */
  default boolean decides() {
    return true;
  }

  /**
   * {@link #decides()}, asked of the coordination service itself right before an action that no
   * state write guards (a promotion): in a fleet, whether this instance's election node still
   * exists. Blocks (never on an event loop).
   */
  default boolean confirmsLeadership() {
    return decides();
  }

  /** Why this process is degraded (coordination lost), for status; null when it is not. */
  default String problem() {
    return null;
  }

  /**
   * Where the instance that decides can be reached ({@code instance@admin-address}); null when this
   * process decides itself or no leader is known.
   */
  default String leader() {
    return null;
  }

  /** The fleet as this instance sees it; null when this process runs alone. */
  default io.halo.health.FleetView fleet() {
    return null;
  }

  /**
   * The leader asks every instance of the fleet to hold its sessions for the switchover {@code
   * token} names (null: the request ends), published in its view. Never blocks.
   */
  default void askHold(String token) {}

  /**
   * This instance's sessions are held for the leader's switchover {@code token} (null: no longer),
   * published in its view. Never blocks.
   */
  default void answerHold(String token) {}

  /**
   * Registers {@code asked}, called (on a coordination thread; it must not block) with the token of
   * each hold the fleet's leader asks for while this instance follows.
   */
  default void onHoldAsked(java.util.function.Consumer<String> asked) {}

  /** A store that keeps nothing: every start begins from the config. */
  static StateStore none() {
    return new StateStore() {
      @Override
      public Optional<SavedState> load(String cluster) {
        return Optional.empty();
      }

      @Override
      public void save(SavedState state) {}

      @Override
      public String location() {
        return null;
      }
    };
  }
}

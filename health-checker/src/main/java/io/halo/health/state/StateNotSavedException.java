package io.halo.health.state;

/**
 * A change of primary could not be saved to the state store (a state file that cannot be written, a
 * ZooKeeper error, an instance that no longer leads): nothing changed and nothing was published.
 */
public final class StateNotSavedException extends IllegalStateException {

  private static final long serialVersionUID = 1L;

  public StateNotSavedException(String message) {
    super(message);
  }
}

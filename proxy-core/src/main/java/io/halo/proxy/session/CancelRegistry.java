package io.halo.proxy.session;

import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;

/**
 * Halo's own cancel keys. Each client gets a (process id, secret) from Halo instead of the
 * backend's, so that a cancel request reaches the right backend even when sessions later move
 * between backend connections. Shared by all event loops, hence concurrent.
 *
 * @param <T> what a key stands for (the session's cancel target)
 */
public final class CancelRegistry<T> {

  /** A registered key. */
  public record Key(int processId, int secret) {}

  private final ConcurrentMap<Integer, Entry<T>> entries = new ConcurrentHashMap<>();

  private record Entry<T>(int secret, T target) {}

  /** Registers {@code target} under a fresh key. */
  public Key register(T target) {
    int secret = Secrets.nextInt();
    while (true) {
      int pid = Secrets.nextInt(Integer.MAX_VALUE - 1) + 1;
      if (entries.putIfAbsent(pid, new Entry<>(secret, target)) == null) {
        return new Key(pid, secret);
      }
    }
  }

  /** The target of an id alone, for protocols whose ids are not secret (MySQL connection ids). */
  public Optional<T> target(int processId) {
    Entry<T> e = entries.get(processId);
    return e == null ? Optional.empty() : Optional.of(e.target());
  }

  public void unregister(Key key) {
    entries.remove(key.processId());
  }

  /** The target of a cancel request, if process id and secret both match. */
  public Optional<T> lookup(int processId, int secret) {
    Entry<T> e = entries.get(processId);
    return e != null && e.secret() == secret ? Optional.of(e.target()) : Optional.empty();
  }

  public int size() {
    return entries.size();
  }
}

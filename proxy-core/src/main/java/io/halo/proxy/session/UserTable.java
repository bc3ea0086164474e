package io.halo.proxy.session;

import io.halo.conf.model.UserConfig;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;

/**
 * The configured users of one engine, each with what its logins are checked against (derived once,
 * because some derivations, PBKDF2, are deliberately slow). A reload replaces the whole table at
 * once: a login sees either the old users or the new ones, never a mix, and a session keeps the
 * entry it logged in with. Both engines' credentials keep their users here.
 *
 * @param <E> one user's entry (its config and derived secrets)
 */
public final class UserTable<E> {

  private final Function<UserConfig, E> derive;
  private final Function<E, UserConfig> userOf;

  /** Immutable; replaced whole. Read by the event loops, written by the reload thread. */
  private volatile Map<String, E> byName;

  private UserTable(Function<UserConfig, E> derive, Function<E, UserConfig> userOf) {
    this.derive = derive;
    this.userOf = userOf;
  }

  /**
   * @param derive makes a user's entry; may be slow (never called on an event loop after start)
   * @param userOf the config an entry was made from
   */
  public static <E> UserTable<E> of(
      List<UserConfig> users, Function<UserConfig, E> derive, Function<E, UserConfig> userOf) {
    UserTable<E> t = new UserTable<>(derive, userOf);
    t.byName = t.build(users, Map.of());
    return t;
  }

  /** The entry of {@code user}, or null when the config does not list it. */
  public E get(String user) {
    return byName.get(user);
  }

  /**
   * Makes {@code users} the table. A user whose config did not change keeps its entry (no new
   * derivation, the same salt); sessions already logged in are not touched. Not on an event loop.
   */
  public synchronized void replace(List<UserConfig> users) {
    byName = build(users, byName);
  }

  private Map<String, E> build(List<UserConfig> users, Map<String, E> keep) {
    Map<String, E> map = new HashMap<>();
    for (UserConfig u : users) {
      E before = keep.get(u.name());
      map.put(
          u.name(), before != null && userOf.apply(before).equals(u) ? before : derive.apply(u));
    }
    return Map.copyOf(map);
  }
}

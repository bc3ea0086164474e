package io.halo.proxy.session.split;

import io.halo.health.state.BackendNode;
import io.netty.channel.Channel;
import java.util.ArrayDeque;

/**
 * A split session's connection to one backend (its primary or its replica): the node, the channel
 * once connected, and the FIFO of replies the backend owes, in the order they will come. Engines
 * extend it with what their protocol keeps per connection. Owned by the session's event loop.
 */
public class Leg {

  private final boolean primary;
  private final BackendNode node;
  private Channel channel;
  private boolean connecting;
  private final ArrayDeque<Owed> owed = new ArrayDeque<>(4); // grows when requests pipeline

  /** The session's place on the connection once adopted ({@link SplitRelay#adopt}). */
  SplitRelay.Hop hop;

  protected Leg(boolean primary, BackendNode node) {
    this.primary = primary;
    this.node = node;
  }

  public final boolean isPrimary() {
    return primary;
  }

  public final BackendNode node() {
    return node;
  }

  /** The connection, or null while it is not open yet. */
  public final Channel channel() {
    return channel;
  }

  /** Nothing is owed: the backend has answered every request sent to it. */
  public final boolean idle() {
    return owed.isEmpty();
  }

  /** Expects a reply to what is sent next. */
  public final void owe(Owed o) {
    owed.add(o);
  }

  /** The reply that comes next, or null when nothing is owed. */
  public final Owed next() {
    return owed.peek();
  }

  /** The reply last expected, or null. */
  public final Owed lastOwed() {
    return owed.peekLast();
  }

  final boolean owes(Owed o) {
    return owed.contains(o);
  }

  /** How many replies are owed. */
  public final int owedCount() {
    return owed.size();
  }

  /** Whether every owed reply is the client's (no hidden request of Halo's among them). */
  public final boolean owesOnlyClient() {
    return owed.stream().noneMatch(Owed::isHidden);
  }

  final boolean owesOnlyHidden() {
    return owed.stream().allMatch(Owed::isHidden);
  }

  /** The head of the FIFO is answered: its timer stops, a hidden one goes to its callback. */
  final Owed answered() {
    Owed o = owed.poll();
    if (o != null) {
      o.done();
    }
    return o;
  }

  /** Forgets every owed reply (the connection is dropped), stopping their timers. */
  final void forget() {
    owed.forEach(
        o -> {
          if (o.timer != null) {
            o.timer.cancel(false);
          }
        });
    owed.clear();
  }

  final boolean connecting() {
    return connecting;
  }

  final void connecting(boolean on) {
    connecting = on;
  }

  final void attached(Channel c) {
    this.channel = c;
  }

  @Override
  public String toString() {
    return node.name();
  }
}

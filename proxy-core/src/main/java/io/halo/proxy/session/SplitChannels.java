package io.halo.proxy.session;

import io.netty.channel.Channel;
import java.util.ArrayList;
import java.util.List;

/**
 * What the split relays (PostgreSQL and MySQL) do to all of a session's backend connections at
 * once: its primary and replica connections, either of which may not be open yet.
 */
public final class SplitChannels {

  private SplitChannels() {}

  /** The given channels that exist (null: not connected yet). */
  public static List<Channel> of(Channel... channels) {
    List<Channel> out = new ArrayList<>(channels.length);
    for (Channel c : channels) {
      if (c != null) {
        out.add(c);
      }
    }
    return out;
  }

  public static void flush(List<Channel> channels) {
    channels.forEach(Channel::flush);
  }

  /** Backends stop (false) or go on (true) reading, as the client's outbound buffer allows. */
  public static void autoRead(List<Channel> channels, boolean on) {
    channels.forEach(c -> c.config().setAutoRead(on));
  }

  public static boolean allWritable(List<Channel> channels) {
    return channels.stream().allMatch(Channel::isWritable);
  }

  public static void close(List<Channel> channels) {
    channels.forEach(Channel::close);
  }
}

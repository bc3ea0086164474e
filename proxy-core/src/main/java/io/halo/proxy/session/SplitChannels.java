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
    channels.forEach(c -> autoRead(c, on));
  }

  /**
   * Turns {@code channel}'s reading on or off unless it is so already: Netty's {@code setAutoRead}
   * is an atomic exchange even when nothing changes, and a split session asks several times per
   * transaction. On the channel's event loop (the only thread that turns it).
   */
  public static void autoRead(Channel channel, boolean on) {
    if (channel.config().isAutoRead() != on) {
      channel.config().setAutoRead(on);
    }
  }

  public static boolean allWritable(List<Channel> channels) {
    return channels.stream().allMatch(Channel::isWritable);
  }

  /**
   * Says goodbye in the protocol before closing (PostgreSQL Terminate, MySQL COM_QUIT), so that the
   * server counts a normal disconnect, not an aborted client, and logs no warning.
   */
  public static void quit(List<Channel> channels, byte[] goodbye) {
    for (Channel c : channels) {
      if (c.isActive()) {
        c.writeAndFlush(io.netty.buffer.Unpooled.wrappedBuffer(goodbye))
            .addListener(io.netty.channel.ChannelFutureListener.CLOSE);
      } else {
        c.close();
      }
    }
  }

  /** PostgreSQL Terminate ('X', length 4). */
  public static final byte[] PG_TERMINATE = {'X', 0, 0, 0, 4};

  /** MySQL COM_QUIT: payload length 1, sequence id 0, 0x01. */
  public static final byte[] MYSQL_QUIT = {1, 0, 0, 0, 1};
}

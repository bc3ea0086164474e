package io.halo.proxy.mysql;

import io.halo.health.state.BackendNode;
import io.halo.proxy.mysql.packet.ServerGreeting;
import io.netty.channel.Channel;

/**
 * An authenticated backend connection: its thread id (for KILL), its server status flags, and the
 * greeting it sent (server version and capabilities; null in unit tests without a server).
 */
record MySqlBackendConnection(
    Channel channel, BackendNode node, long threadId, int status, ServerGreeting greeting) {

  MySqlBackendConnection(Channel channel, BackendNode node, long threadId, int status) {
    this(channel, node, threadId, status, null);
  }
}

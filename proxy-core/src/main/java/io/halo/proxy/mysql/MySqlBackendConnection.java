package io.halo.proxy.mysql;

import io.halo.health.state.BackendNode;
import io.netty.channel.Channel;

/** An authenticated backend connection: its thread id (for KILL) and its server status flags. */
record MySqlBackendConnection(Channel channel, BackendNode node, long threadId, int status) {}

package io.halo.proxy.mysql;

import io.halo.conf.model.ListenerConfig;
import io.halo.conf.model.ServerConfig;
import io.halo.proxy.mysql.auth.MySqlCredentials;
import io.halo.proxy.session.LogThrottle;
import io.halo.proxy.session.Rejections;
import io.halo.proxy.transport.Transports;
import io.halo.routing.Router;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Everything the sessions of one MySQL listener share. Immutable apart from the counters.
 *
 * @param split for {@code route: split}: the classifier and counters; null otherwise
 */
public record MySqlListenerContext(
    String name,
    String cluster,
    ListenerConfig listener,
    ServerConfig server,
    MySqlCredentials credentials,
    Router router,
    Transports transports,
    AtomicInteger clientConnections,
    io.halo.proxy.session.CancelRegistry<MySqlKill.Target> connectionIds,
    Rejections rejections,
    LogThrottle backendErrors,
    java.time.Duration holdTimeout,
    MySqlSessions sessions,
    io.halo.proxy.session.Admission admission,
    io.halo.proxy.session.SplitContext split,
    io.halo.proxy.session.AuthFailures authFailures) {}

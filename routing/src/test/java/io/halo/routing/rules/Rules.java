package io.halo.routing.rules;

import io.halo.conf.model.Cidr;
import io.halo.conf.model.Origin;
import io.halo.conf.model.RuleConfig;
import io.halo.conf.model.RuleTarget;
import io.halo.routing.RouteRequest;
import java.net.InetSocketAddress;

/** Test fixtures: rules built key by key, and requests from an address. */
final class Rules {

  private String user;
  private String database;
  private String application;
  private Cidr client;
  private String statement;
  private String hint;

  private Rules() {}

  static Rules rule() {
    return new Rules();
  }

  Rules user(String v) {
    user = v;
    return this;
  }

  Rules database(String v) {
    database = v;
    return this;
  }

  Rules application(String v) {
    application = v;
    return this;
  }

  Rules client(String v) {
    client = Cidr.parse(v);
    return this;
  }

  Rules statement(String v) {
    statement = v;
    return this;
  }

  Rules hint(String v) {
    hint = v;
    return this;
  }

  RuleConfig to(RuleTarget target) {
    return to(target, 0);
  }

  RuleConfig to(RuleTarget target, int line) {
    return new RuleConfig(
        user,
        database,
        application,
        client,
        statement,
        hint,
        target,
        new Origin(line, 11, "rules[" + line + "]"));
  }

  static RouteRequest request(String user, String database, String application, String ip) {
    return new RouteRequest(
        user, database, application, ip == null ? null : new InetSocketAddress(ip, 40000));
  }

  static RouteRequest request(String user) {
    return request(user, "app", null, "127.0.0.1");
  }
}

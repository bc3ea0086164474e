package io.halo.routing.rules;

import io.halo.conf.model.Cidr;
import io.halo.conf.model.ClusterConfig;
import io.halo.conf.model.HaloConfig;
import io.halo.conf.model.ListenerConfig;
import io.halo.conf.model.Route;
import io.halo.conf.model.RuleConfig;
import io.halo.conf.model.UserConfig;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * Finds rules that load fine but can never apply: shadowed by an earlier rule, or unreachable on
 * their listener. Used by {@code halo check-config} (warnings) and logged at startup.
 *
 * <h2>What counts</h2>
 *
 * <ul>
 *   <li><b>Shadowed</b>: an earlier rule that takes part on this listener covers this one: every
 *       key the earlier rule writes, this rule writes too with a value the earlier one matches (the
 *       same user, database, application name, hint or regex text; a network containing this rule's
 *       network). A rule with no keys covers every later rule. Regexes are compared as text only:
 *       {@code ^select} does not cover {@code ^select 1}, so some shadowing goes unreported, never
 *       the other way round.
 *   <li><b>Unreachable</b>: a {@code statement} or {@code hint} rule on a listener whose route is
 *       not {@code split} (sessions are routed whole there, before any statement); a {@code user}
 *       that is not in {@code users:} (Halo authenticates every client against that list); a {@code
 *       client} network of the other IP family than the listener's own address (a listener on
 *       {@code 10.0.0.5} only sees IPv4 clients; wildcards are not judged, as the JDK may bind
 *       {@code 0.0.0.0} dual-stack).
 * </ul>
 *
 * Stateless; pure function of the config.
 */
public final class RuleAnalysis {

  private RuleAnalysis() {}

  /** Every finding of every listener of {@code config}, in file order per listener. */
  public static List<RuleFinding> analyze(HaloConfig config) {
    Set<String> users = config.users().stream().map(UserConfig::name).collect(Collectors.toSet());
    List<RuleFinding> out = new ArrayList<>();
    for (ClusterConfig cluster : config.clusters()) {
      for (ListenerConfig listener : cluster.listeners()) {
        out.addAll(analyze(listener, users));
      }
    }
    return out;
  }

  /**
   * The findings for one listener's rules.
   *
   * @param users the names clients can log in with; null when unknown (not checked)
   */
  public static List<RuleFinding> analyze(ListenerConfig listener, Collection<String> users) {
    List<RuleFinding> out = new ArrayList<>();
    List<RuleConfig> rules = listener.rules();
    boolean split = listener.route() == Route.SPLIT;
    List<RuleConfig> live = new ArrayList<>();
    for (RuleConfig rule : rules) {
      String unreachable = unreachable(rule, listener, split, users);
      if (unreachable != null) {
        out.add(new RuleFinding(rule, RuleFinding.Kind.UNREACHABLE, unreachable));
        continue;
      }
      for (RuleConfig earlier : live) {
        if (covers(earlier, rule)) {
          out.add(
              new RuleFinding(
                  rule,
                  RuleFinding.Kind.SHADOWED,
                  "shadowed by "
                      + earlier.origin().key()
                      + lineOf(earlier)
                      + " ("
                      + earlier.describeMatch()
                      + " -> "
                      + earlier.target()
                      + "), which matches everything this rule matches; it never applies"));
          break;
        }
      }
      live.add(rule);
    }
    return out;
  }

  /**
   * Whether every session or statement that {@code later} matches is matched by {@code earlier}.
   */
  public static boolean covers(RuleConfig earlier, RuleConfig later) {
    return covers(earlier.user(), later.user())
        && covers(earlier.database(), later.database())
        && covers(earlier.applicationName(), later.applicationName())
        && covers(earlier.statement(), later.statement())
        && (earlier.hint() == null
            || (later.hint() != null && earlier.hint().equalsIgnoreCase(later.hint())))
        && (earlier.client() == null
            || (later.client() != null && earlier.client().contains(later.client())));
  }

  private static boolean covers(String earlier, String later) {
    return earlier == null || Objects.equals(earlier, later);
  }

  private static String unreachable(
      RuleConfig rule, ListenerConfig listener, boolean split, Collection<String> users) {
    if (!split && rule.statementLevel()) {
      return "a rule with "
          + (rule.statement() != null ? "statement" : "hint")
          + " applies only on a listener with"
          + " route: split; this listener ("
          + listener.listen()
          + ") routes whole sessions (route: "
          + listener.route().name().toLowerCase(Locale.ROOT)
          + "), so the rule never applies";
    }
    if (rule.user() != null && users != null && !users.contains(rule.user())) {
      return "user '"
          + rule.user()
          + "' is not in users:, and Halo only lets those users in; the rule never applies";
    }
    Cidr client = rule.client();
    if (client != null) {
      Boolean v6Listener = listenerFamily(listener.listen().host());
      if (v6Listener != null && v6Listener != client.ipv6()) {
        return "client "
            + client
            + " is "
            + (client.ipv6() ? "IPv6" : "IPv4")
            + " but the listener "
            + listener.listen()
            + " accepts "
            + (v6Listener ? "IPv6" : "IPv4")
            + " clients only; the rule never applies";
      }
    }
    return null;
  }

  /**
   * The only IP family a listen host accepts: true for IPv6, false for IPv4, null when it may
   * accept both or is not a literal (wildcards: the JDK binds {@code 0.0.0.0} as {@code ::} when
   * IPv6 is available; a host name may resolve either way).
   */
  private static Boolean listenerFamily(String host) {
    if (host.matches("\\d{1,3}(\\.\\d{1,3}){3}")) {
      return host.equals("0.0.0.0") ? null : Boolean.FALSE;
    }
    if (host.indexOf(':') >= 0
        && !host.equals("::")
        && !host.equals("0:0:0:0:0:0:0:0")
        && !host.regionMatches(true, 0, "::ffff:", 0, 7)) {
      return Boolean.TRUE;
    }
    return null;
  }

  private static String lineOf(RuleConfig rule) {
    return rule.origin().line() > 0 ? " (line " + rule.origin().line() + ")" : "";
  }
}

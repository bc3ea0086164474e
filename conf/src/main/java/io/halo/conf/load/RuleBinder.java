package io.halo.conf.load;

import io.halo.conf.load.Node.ListNode;
import io.halo.conf.load.Node.ScalarNode;
import io.halo.conf.model.BackendConfig;
import io.halo.conf.model.Cidr;
import io.halo.conf.model.GroupConfig;
import io.halo.conf.model.Origin;
import io.halo.conf.model.RuleConfig;
import io.halo.conf.model.RuleTarget;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * Binds the routing rules of a cluster's listeners ({@code rules:}) and the cluster's backend
 * groups ({@code groups:}), and checks what crosses them: a group target names a group of the
 * cluster, a group names backends of the cluster. One instance per cluster: group targets seen in
 * the listeners are remembered and checked once the groups are bound.
 *
 * <p>What can only be judged across rules (a rule shadowed by an earlier one, a rule that cannot
 * match on its listener) is not a load error: {@code halo check-config} reports it as a warning,
 * from {@code io.halo.routing.rules.RuleAnalysis}.
 */
final class RuleBinder {

  private static final String[] RULE_KEYS = {
    "user", "database", "application_name", "client", "statement", "hint", "target"
  };

  private record GroupRef(Section rule, String group) {}

  private final Problems problems;
  private final List<GroupRef> groupRefs = new ArrayList<>();

  RuleBinder(Problems problems) {
    this.problems = problems;
  }

  /** The rules of one listener (empty when absent); null entries where a rule has a violation. */
  List<RuleConfig> rules(Section listener) {
    List<RuleConfig> rules = new ArrayList<>();
    for (Node n : optionalList(listener, "rules")) {
      String path = listener.path("rules") + "[" + rules.size() + "]";
      Section s = Section.of(n, n.mark(), path, problems, RULE_KEYS);
      String user = s.string("user", null);
      String database = s.string("database", null);
      String application = s.string("application_name", null);
      Cidr client = s.optional("client", null, Cidr::parse);
      String statement =
          s.optional(
              "statement",
              null,
              t -> {
                RuleConfig.compileStatement(t);
                return t;
              });
      String hint = s.optional("hint", null, RuleConfig::checkHint);
      RuleTarget target = s.required("target", RuleTarget::parse);
      if (target != null && target.kind() == RuleTarget.Kind.GROUP) {
        groupRefs.add(new GroupRef(s, target.group()));
      }
      Origin origin = new Origin(s.mark().line(), s.mark().column(), path);
      s.finish();
      rules.add(
          s.construct(
              () ->
                  new RuleConfig(
                      user, database, application, client, statement, hint, target, origin)));
    }
    return rules;
  }

  /**
   * The cluster's groups (empty when absent), or null after a violation. {@code backends} may hold
   * nulls (entries with their own violations): then unknown members are not reported, as the name
   * may be in the broken entry.
   */
  List<GroupConfig> groups(Section cluster, List<BackendConfig> backends) {
    Set<String> backendNames = new HashSet<>();
    boolean backendsKnown = backends != null && !backends.contains(null);
    if (backends != null) {
      backends.stream().filter(b -> b != null).forEach(b -> backendNames.add(b.name()));
    }
    List<GroupConfig> groups = new ArrayList<>();
    UniqueNames names = new UniqueNames("group");
    Set<String> groupNames = new HashSet<>();
    boolean ok = true;
    List<Node> nodes = optionalList(cluster, "groups");
    for (int i = 0; i < nodes.size(); i++) {
      Node n = nodes.get(i);
      Section s =
          Section.of(
              n, n.mark(), cluster.path("groups") + "[" + i + "]", problems, "name", "backends");
      String name = s.requiredString("name");
      names.check(name, s, "name");
      if (name != null) {
        groupNames.add(name);
      }
      List<String> members = new ArrayList<>();
      List<Node> items = s.nonEmptyList("backends");
      Set<String> seen = new HashSet<>();
      for (int j = 0; j < items.size(); j++) {
        Node item = items.get(j);
        String itemPath = s.path("backends") + "[" + j + "]";
        if (!(item instanceof ScalarNode scalar) || scalar.isNull()) {
          problems.add(item.mark(), itemPath, "expected a backend name, got " + item.describe());
          ok = false;
          continue;
        }
        if (scalar.kind() == ScalarNode.Kind.INVALID) {
          ok = false; // reported where it became invalid
          continue;
        }
        String member = scalar.text().trim();
        if (backendsKnown && !backendNames.contains(member)) {
          String hint =
              Suggestions.closest(member, backendNames)
                  .map(b -> " (did you mean '" + b + "'?)")
                  .orElse(
                      " (backends: "
                          + String.join(", ", backendNames.stream().sorted().toList())
                          + ")");
          problems.add(item.mark(), itemPath, "unknown backend '" + member + "'" + hint);
          ok = false;
        } else if (!seen.add(member)) {
          problems.add(
              item.mark(), itemPath, "backend '" + member + "' is already in group '" + name + "'");
          ok = false;
        }
        members.add(member);
      }
      s.finish();
      GroupConfig group = s.construct(() -> new GroupConfig(name, members));
      ok &= group != null;
      groups.add(group);
    }
    ok &= checkGroupRefs(groupNames);
    return ok ? groups : null;
  }

  /** Reports every group target that names no group of the cluster; whether there was none. */
  private boolean checkGroupRefs(Set<String> names) {
    boolean ok = true;
    for (GroupRef ref : groupRefs) {
      if (!names.contains(ref.group())) {
        String hint =
            names.isEmpty()
                ? " (the cluster has no groups: define it under the cluster's groups:)"
                : Suggestions.closest(ref.group(), names)
                    .map(g -> " (did you mean 'group:" + g + "'?)")
                    .orElse(
                        " (groups: " + String.join(", ", names.stream().sorted().toList()) + ")");
        ref.rule().report("target", "unknown group '" + ref.group() + "'" + hint);
        ok = false;
      }
    }
    return ok;
  }

  /** The items of an optional list key; empty when absent, or when not a list (reported). */
  private static List<Node> optionalList(Section s, String key) {
    if (!s.has(key)) {
      return List.of();
    }
    Node n = s.node(key);
    if (!(n instanceof ListNode list)) {
      s.report(key, "expected a list, got " + n.describe());
      return List.of();
    }
    return list.items();
  }
}

package io.halo.conf.load;

import com.fasterxml.jackson.core.JsonLocation;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import com.fasterxml.jackson.dataformat.yaml.YAMLParser;
import io.halo.conf.load.Node.Entry;
import io.halo.conf.load.Node.ListNode;
import io.halo.conf.load.Node.MapNode;
import io.halo.conf.load.Node.Mark;
import io.halo.conf.load.Node.ScalarNode;
import java.io.IOException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.yaml.snakeyaml.error.MarkedYAMLException;

/**
 * Reads YAML text into a {@link Node} tree with Jackson's streaming YAML parser. Structural
 * oddities that YAML allows but a config must not have (a key twice, aliases, several documents)
 * are reported as violations; a syntax error ends reading and is the only violation.
 */
final class YamlTreeReader {

  private final YAMLFactory factory = new YAMLFactory();
  private final Problems problems;

  YamlTreeReader(Problems problems) {
    this.problems = problems;
  }

  /** The root node, or null when the text is not YAML (a violation has then been recorded). */
  Node read(String yaml) {
    try (JsonParser parser = factory.createParser(yaml)) {
      JsonToken first = parser.nextToken();
      if (first == null) {
        problems.add(new Mark(1, 1), "", "the file is empty");
        return null;
      }
      Node root = readValue(parser, first, "");
      if (parser.nextToken() != null) {
        problems.add(mark(parser), "", "only one YAML document is allowed, found a second one");
      }
      return root;
    } catch (JsonProcessingException e) {
      reportSyntaxError(e);
      return null;
    } catch (IOException e) {
      // Reading from a String does not fail with I/O; treat it like a syntax problem anyway.
      problems.add(new Mark(0, 0), "", "cannot read YAML: " + e.getMessage());
      return null;
    }
  }

  private Node readValue(JsonParser parser, JsonToken token, String path) throws IOException {
    Mark at = mark(parser);
    switch (token) {
      case START_OBJECT:
        return readMap(parser, at, path);
      case START_ARRAY:
        return readList(parser, at, path);
      case VALUE_STRING:
        if (parser instanceof YAMLParser yaml && yaml.isCurrentAlias()) {
          problems.add(at, path, "YAML aliases (*" + parser.getText() + ") are not supported");
        }
        return new ScalarNode(at, parser.getText(), ScalarNode.Kind.STRING);
      case VALUE_NUMBER_INT:
      case VALUE_NUMBER_FLOAT:
        return new ScalarNode(at, parser.getText(), ScalarNode.Kind.NUMBER);
      case VALUE_TRUE:
      case VALUE_FALSE:
        return new ScalarNode(at, parser.getText(), ScalarNode.Kind.BOOLEAN);
      case VALUE_NULL:
        return new ScalarNode(at, null, ScalarNode.Kind.NULL);
      default:
        problems.add(at, path, "unsupported YAML value (" + token + ")");
        return new ScalarNode(at, null, ScalarNode.Kind.NULL);
    }
  }

  private MapNode readMap(JsonParser parser, Mark at, String path) throws IOException {
    Map<String, Entry> entries = new LinkedHashMap<>();
    for (JsonToken t = parser.nextToken(); t != JsonToken.END_OBJECT; t = parser.nextToken()) {
      String key = parser.currentName();
      Mark keyMark = mark(parser);
      String childPath = path.isEmpty() ? key : path + "." + key;
      Node value = readValue(parser, parser.nextToken(), childPath);
      Entry first = entries.get(key);
      if (first != null) {
        problems.add(
            keyMark, childPath, "duplicate key (first at line " + first.keyMark().line() + ")");
      } else {
        entries.put(key, new Entry(key, keyMark, value));
      }
    }
    return new MapNode(at, entries);
  }

  private ListNode readList(JsonParser parser, Mark at, String path) throws IOException {
    List<Node> items = new ArrayList<>();
    for (JsonToken t = parser.nextToken(); t != JsonToken.END_ARRAY; t = parser.nextToken()) {
      items.add(readValue(parser, t, path + "[" + items.size() + "]"));
    }
    return new ListNode(at, items);
  }

  private void reportSyntaxError(JsonProcessingException e) {
    if (e.getCause() instanceof MarkedYAMLException yaml && yaml.getProblemMark() != null) {
      var m = yaml.getProblemMark();
      String context = yaml.getContext() == null ? "" : " (" + yaml.getContext() + ")";
      problems.add(
          new Mark(m.getLine() + 1, m.getColumn() + 1),
          "",
          "YAML syntax error: " + yaml.getProblem() + context);
      return;
    }
    JsonLocation loc = e.getLocation();
    String message = e.getOriginalMessage() == null ? e.toString() : e.getOriginalMessage();
    problems.add(
        loc == null ? new Mark(0, 0) : new Mark(loc.getLineNr(), loc.getColumnNr()),
        "",
        "YAML syntax error: " + message.lines().findFirst().orElse(message));
  }

  private static Mark mark(JsonParser parser) {
    JsonLocation loc = parser.currentTokenLocation();
    return new Mark(loc.getLineNr(), loc.getColumnNr());
  }
}

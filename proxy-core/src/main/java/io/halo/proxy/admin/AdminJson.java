package io.halo.proxy.admin;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.SerializationFeature;
import io.netty.handler.codec.http.HttpResponseStatus;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;

/**
 * JSON in and out of the admin API. The views are records with camelCase components; the mapper
 * writes them snake_case. Request bodies are read as trees and checked field by field so that a
 * typo ({@code "forse": true}) is a 400 naming the field, not a silently ignored option.
 */
final class AdminJson {

  /** The body of a failover or switchover request. */
  record ActionBody(String target, boolean force) {}

  private final ObjectMapper mapper =
      new ObjectMapper()
          .setPropertyNamingStrategy(PropertyNamingStrategies.SNAKE_CASE)
          .disable(SerializationFeature.FAIL_ON_EMPTY_BEANS);

  AdminResponse ok(Object view) {
    return json(HttpResponseStatus.OK, view);
  }

  AdminResponse json(HttpResponseStatus status, Object view) {
    try {
      return new AdminResponse(
          status, AdminResponse.JSON, mapper.writeValueAsBytes(view), Map.of());
    } catch (JsonProcessingException e) {
      throw new IllegalStateException(
          "cannot write " + view.getClass().getSimpleName() + " as JSON", e);
    }
  }

  /**
   * The same answer with {@code fields} added to its JSON object (an answer that is not a JSON
   * object is returned as it is).
   */
  AdminResponse withFields(AdminResponse r, Map<String, String> fields) {
    if (!AdminResponse.JSON.equals(r.contentType())) {
      return r;
    }
    try {
      JsonNode tree = mapper.readTree(r.body());
      if (!(tree instanceof com.fasterxml.jackson.databind.node.ObjectNode o)) {
        return r;
      }
      fields.forEach(o::put);
      return new AdminResponse(
          r.status(), r.contentType(), mapper.writeValueAsBytes(o), r.headers());
    } catch (java.io.IOException e) {
      return r;
    }
  }

  AdminResponse error(HttpResponseStatus status, String message) {
    Map<String, String> body = new LinkedHashMap<>();
    body.put("error", message);
    return json(status, body);
  }

  /**
   * Reads an object of whole numbers, e.g. {@code {"max_transactions": 20}}; every field optional,
   * each one named in {@code allowed}, each a JSON integer that fits an int.
   */
  Map<String, Integer> readIntegers(String body, Set<String> allowed) {
    Map<String, Integer> out = new LinkedHashMap<>();
    if (body == null || body.isBlank()) {
      return out;
    }
    JsonNode tree = readObject(body, allowed);
    for (Iterator<String> names = tree.fieldNames(); names.hasNext(); ) {
      String name = names.next();
      JsonNode value = tree.get(name);
      if (!value.isInt()) {
        throw AdminException.badRequest("'" + name + "' must be a whole number, was " + value);
      }
      out.put(name, value.intValue());
    }
    return out;
  }

  /**
   * Reads {@code {"<field>": true}}: an empty body or a missing field is false; any other field, or
   * a value that is not a boolean, is a 400.
   */
  boolean readFlag(String body, String field) {
    if (body == null || body.isBlank()) {
      return false;
    }
    JsonNode v = readObject(body, Set.of(field)).path(field);
    if (v.isMissingNode() || v.isNull()) {
      return false;
    }
    if (!v.isBoolean()) {
      throw AdminException.badRequest("'" + field + "' must be true or false");
    }
    return v.booleanValue();
  }

  private JsonNode readObject(String body, Set<String> allowed) {
    JsonNode tree;
    try {
      tree = mapper.readTree(body);
    } catch (JsonProcessingException e) {
      throw AdminException.badRequest("request body is not valid JSON: " + e.getOriginalMessage());
    }
    if (tree == null || !tree.isObject()) {
      throw AdminException.badRequest("request body must be a JSON object");
    }
    for (Iterator<String> names = tree.fieldNames(); names.hasNext(); ) {
      String name = names.next();
      if (!allowed.contains(name)) {
        throw AdminException.badRequest(
            "unknown field '"
                + name
                + "'; this endpoint accepts "
                + String.join(", ", allowed.stream().sorted().toList()));
      }
    }
    return tree;
  }

  /**
   * Reads {@code {"target": "pg2", "force": false}}; both optional, an empty body is allowed.
   *
   * @param allowed the fields this endpoint accepts
   */
  ActionBody readActionBody(String body, Set<String> allowed) {
    if (body == null || body.isBlank()) {
      return new ActionBody(null, false);
    }
    JsonNode tree;
    try {
      tree = mapper.readTree(body);
    } catch (JsonProcessingException e) {
      throw AdminException.badRequest("request body is not valid JSON: " + e.getOriginalMessage());
    }
    if (tree == null || !tree.isObject()) {
      throw AdminException.badRequest(
          "request body must be a JSON object, like {\"target\": \"pg2\"}");
    }
    for (Iterator<String> names = tree.fieldNames(); names.hasNext(); ) {
      String name = names.next();
      if (!allowed.contains(name)) {
        throw AdminException.badRequest(
            "unknown field '"
                + name
                + "'; this endpoint accepts "
                + String.join(", ", allowed.stream().sorted().toList()));
      }
    }
    JsonNode target = tree.path("target");
    if (!target.isMissingNode() && !target.isNull() && !target.isTextual()) {
      throw AdminException.badRequest("'target' must be a backend name (a string) or null");
    }
    JsonNode force = tree.path("force");
    if (!force.isMissingNode() && !force.isNull() && !force.isBoolean()) {
      throw AdminException.badRequest("'force' must be true or false");
    }
    String targetName = target.isTextual() ? target.textValue() : null;
    return new ActionBody(targetName, force.isBoolean() && force.booleanValue());
  }
}

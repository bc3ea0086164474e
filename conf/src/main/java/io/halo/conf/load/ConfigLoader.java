package io.halo.conf.load;

import io.halo.conf.load.ConfigException.Violation;
import io.halo.conf.model.HaloConfig;
import java.io.IOException;
import java.nio.charset.CharacterCodingException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Reads a Halo YAML file into a validated {@link HaloConfig}, or fails with every violation.
 *
 * <h2>Design memo</h2>
 *
 * <p><b>Why an own tree instead of {@code JsonNode} or data binding.</b> The promise to the
 * operator is "errors name the file, line and key", and all of them at once. Jackson's data binding
 * stops at the first problem, and {@code JsonNode} drops positions. So Jackson's YAML
 * <em>streaming</em> parser feeds a tiny tree ({@link Node}) that keeps the line and column of
 * every key and value, and the binder ({@link ConfigBinder}, {@link ClusterBinder}) builds the
 * records by hand through {@link Section}, which reports instead of throwing and lets binding run
 * to the end of the file. Hand binding is a few lines per key, and it is where defaults, units and
 * unknown keys are decided, visibly.
 *
 * <p><b>Stages.</b> Parse to tree (a syntax error ends here, as the only violation) → substitute
 * {@code ${VAR}} in string values → bind and check. Substituting on the tree, not the text, keeps
 * line numbers exact and never touches keys or comments.
 *
 * <p><b>Validation lives in the records.</b> Their constructors check their own invariants; the
 * loader adds what a single record cannot see (unique names, one primary per cluster, listen
 * addresses not shared, what a cold failover needs) and maps a constructor's {@link
 * IllegalArgumentException} back to the key its message names. Nothing is "fixed" quietly: a bad
 * value is a violation, never a fallback to the default.
 *
 * <p>Stateless: every call builds its own collector, so loads may run concurrently (a reload next
 * to a running config).
 */
public final class ConfigLoader {

  private static final Logger log = LoggerFactory.getLogger(ConfigLoader.class);

  private ConfigLoader() {}

  /** Loads {@code file}, substituting variables from the process environment. */
  public static HaloConfig load(Path file) throws ConfigException {
    return load(file, System.getenv());
  }

  /** Loads {@code file}, substituting variables from {@code env}. */
  public static HaloConfig load(Path file, Map<String, String> env) throws ConfigException {
    String text;
    try {
      text = Files.readString(file);
    } catch (NoSuchFileException e) {
      throw single(file.toString(), "cannot read: no such file");
    } catch (CharacterCodingException e) {
      throw single(file.toString(), "cannot read: the file is not UTF-8 text");
    } catch (IOException e) {
      throw single(file.toString(), "cannot read: " + e);
    }
    HaloConfig config = parse(text, file.toString(), env, file);
    // Debug: check-config prints its own one-line verdict; halo start logs the load itself.
    log.debug(
        "Loaded {}: {} cluster(s), {} user(s)",
        file,
        config.clusters().size(),
        config.users().size());
    return config;
  }

  /**
   * Parses YAML text; {@code sourceName} is the file name used in violations. The result's {@link
   * HaloConfig#source()} is null.
   */
  public static HaloConfig parse(String yaml, String sourceName, Map<String, String> env)
      throws ConfigException {
    return parse(yaml, sourceName, env, null);
  }

  private static HaloConfig parse(
      String yaml, String sourceName, Map<String, String> env, Path source) throws ConfigException {
    Problems problems = new Problems(sourceName);
    Node root = new YamlTreeReader(problems).read(yaml);
    if (root == null) {
      problems.throwIfAny();
    }
    Node substituted = new EnvSubstitution(env, problems).apply(root, "");
    HaloConfig config = new ConfigBinder(problems).bind(substituted, source);
    problems.throwIfAny();
    if (config == null) {
      throw new IllegalStateException("binding " + sourceName + " failed without a violation");
    }
    return config;
  }

  private static ConfigException single(String file, String message) {
    return new ConfigException(List.of(new Violation(file, 0, 0, "", message)));
  }
}

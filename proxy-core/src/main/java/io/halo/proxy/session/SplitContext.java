package io.halo.proxy.session;

import io.halo.conf.model.RuleTarget;
import io.halo.routing.rules.SessionRules;
import io.halo.routing.split.StatementClassifier;
import io.halo.routing.split.StatementKind;
import java.util.concurrent.atomic.LongAdder;

/**
 * What the sessions of one {@code route: split} listener share: the statement classifier (with its
 * cache) and the counters the metrics show.
 */
public final class SplitContext {

  /** Statement texts whose classification is cached per listener. */
  private static final int CACHED_STATEMENTS = 10_000;

  private final StatementClassifier classifier;
  private final FunctionCatalogue functions = new FunctionCatalogue();
  private final LongAdder readsOnReplica = new LongAdder();
  private final LongAdder readsOnPrimary = new LongAdder();
  private final LongAdder readYourWritesOnPrimary = new LongAdder();
  private final LongAdder pinnedTotal = new LongAdder();
  private final LongAdder pinnedNow = new LongAdder();
  private final LongAdder idleTransactionEnded = new LongAdder();
  private final LongAdder sessions = new LongAdder();

  public SplitContext(StatementClassifier classifier) {
    this.classifier = StatementClassifier.cached(classifier, CACHED_STATEMENTS);
  }

  public StatementClassifier classifier() {
    return classifier;
  }

  /** What the primary's catalogue said about the functions reads call. */
  public FunctionCatalogue functions() {
    return functions;
  }

  /**
   * The kind of one statement: the classifier's, except that a routing rule or hint for the primary
   * sends a read there. Rules only move reads to the primary: a rule or hint for the replicas never
   * turns a write, a setting or a pinning statement into a read (a replica must never see a write,
   * and a MySQL replica without read_only would run it).
   */
  public StatementKind classify(String sql, SessionRules rules) {
    return classify(sql, rules, false);
  }

  /**
   * {@link #classify(String, SessionRules)} for a session whose server reads backslashes in strings
   * the other way from the default ({@link StatementClassifier#classify(String, boolean)}).
   */
  public StatementKind classify(String sql, SessionRules rules, boolean otherEscapes) {
    return classify(sql, rules, otherEscapes, false);
  }

  /**
   * {@link #classify(String, SessionRules, boolean)} for a session that may have MySQL's {@code
   * ANSI_QUOTES} ({@link StatementClassifier#classify(String, boolean, boolean)}).
   */
  public StatementKind classify(
      String sql, SessionRules rules, boolean otherEscapes, boolean ansiQuotes) {
    StatementKind kind = classifier.classify(sql, otherEscapes, ansiQuotes);
    if (kind != StatementKind.READ) {
      return kind; // a rule never sends a write, a setting or a pinning statement to a replica
    }
    java.util.Optional<RuleTarget> target = rules.matchStatement(sql);
    return target.isPresent() && target.get().kind() == RuleTarget.Kind.PRIMARY
        ? StatementKind.WRITE
        : kind;
  }

  public void sessionStarted() {
    sessions.increment();
  }

  public void sessionEnded(boolean wasPinned) {
    sessions.decrement();
    if (wasPinned) {
      pinnedNow.decrement();
    }
  }

  /** A session idle in a transaction beyond {@code pool.idle_transaction_timeout} was ended. */
  public void idleTransactionEnded() {
    idleTransactionEnded.increment();
  }

  public long idleTransactionEndedTotal() {
    return idleTransactionEnded.sum();
  }

  /** A session was pinned to the primary for the rest of its life. */
  public void pinned() {
    pinnedTotal.increment();
    pinnedNow.increment();
  }

  public void readOnReplica() {
    readsOnReplica.increment();
  }

  /** A read went to the primary (no replica in rotation, or pinned). */
  public void readOnPrimary() {
    readsOnPrimary.increment();
  }

  /** A read went to the primary because no replica had replayed the session's writes in time. */
  public void readYourWritesOnPrimary() {
    readYourWritesOnPrimary.increment();
    readsOnPrimary.increment();
  }

  public long readsOnReplica() {
    return readsOnReplica.sum();
  }

  public long readsOnPrimary() {
    return readsOnPrimary.sum();
  }

  public long readYourWritesOnPrimaryCount() {
    return readYourWritesOnPrimary.sum();
  }

  public long pinnedTotal() {
    return pinnedTotal.sum();
  }

  public long pinnedNow() {
    return pinnedNow.sum();
  }

  public long sessions() {
    return sessions.sum();
  }
}

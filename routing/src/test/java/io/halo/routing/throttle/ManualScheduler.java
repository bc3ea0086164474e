package io.halo.routing.throttle;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.AbstractExecutorService;
import java.util.concurrent.Callable;
import java.util.concurrent.Delayed;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/** A fake clock with a scheduler on it: {@link #advance} runs what falls due. Single-threaded. */
final class ManualScheduler extends AbstractExecutorService implements ScheduledExecutorService {

  private final AtomicLong now = new AtomicLong(1_000_000_000L);
  private final List<Task> tasks = new ArrayList<>();

  long nanoTime() {
    return now.get();
  }

  void advanceMillis(long millis) {
    long target = now.get() + TimeUnit.MILLISECONDS.toNanos(millis);
    while (true) {
      Task next =
          tasks.stream()
              .filter(t -> !t.cancelled && t.due <= target)
              .min(Comparator.comparingLong(t -> t.due))
              .orElse(null);
      if (next == null) {
        break;
      }
      tasks.remove(next);
      now.set(Math.max(now.get(), next.due));
      next.run.run();
    }
    now.set(target);
  }

  int pending() {
    return (int) tasks.stream().filter(t -> !t.cancelled).count();
  }

  @Override
  public ScheduledFuture<?> schedule(Runnable command, long delay, TimeUnit unit) {
    Task t = new Task(command, now.get() + unit.toNanos(delay));
    tasks.add(t);
    return t;
  }

  private final class Task implements ScheduledFuture<Object> {
    final Runnable run;
    final long due;
    volatile boolean cancelled;

    Task(Runnable run, long due) {
      this.run = run;
      this.due = due;
    }

    @Override
    public long getDelay(TimeUnit unit) {
      return unit.convert(due - now.get(), TimeUnit.NANOSECONDS);
    }

    @Override
    public int compareTo(Delayed o) {
      return Long.compare(getDelay(TimeUnit.NANOSECONDS), o.getDelay(TimeUnit.NANOSECONDS));
    }

    @Override
    public boolean cancel(boolean mayInterruptIfRunning) {
      cancelled = true;
      return true;
    }

    @Override
    public boolean isCancelled() {
      return cancelled;
    }

    @Override
    public boolean isDone() {
      return cancelled || !tasks.contains(this);
    }

    @Override
    public Object get() {
      throw new UnsupportedOperationException("not needed by the tests");
    }

    @Override
    public Object get(long timeout, TimeUnit unit) {
      throw new UnsupportedOperationException("not needed by the tests");
    }
  }

  @Override
  public <V> ScheduledFuture<V> schedule(Callable<V> callable, long delay, TimeUnit unit) {
    throw new UnsupportedOperationException("not needed by the tests");
  }

  @Override
  public ScheduledFuture<?> scheduleAtFixedRate(
      Runnable command, long initialDelay, long period, TimeUnit unit) {
    throw new UnsupportedOperationException("not needed by the tests");
  }

  @Override
  public ScheduledFuture<?> scheduleWithFixedDelay(
      Runnable command, long initialDelay, long delay, TimeUnit unit) {
    throw new UnsupportedOperationException("not needed by the tests");
  }

  @Override
  public void execute(Runnable command) {
    command.run();
  }

  @Override
  public void shutdown() {}

  @Override
  public List<Runnable> shutdownNow() {
    return List.of();
  }

  @Override
  public boolean isShutdown() {
    return false;
  }

  @Override
  public boolean isTerminated() {
    return false;
  }

  @Override
  public boolean awaitTermination(long timeout, TimeUnit unit) {
    return true;
  }
}

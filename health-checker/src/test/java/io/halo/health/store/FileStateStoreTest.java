package io.halo.health.store;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.halo.health.failover.FailoverReport;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class FileStateStoreTest {

  @TempDir Path dir;

  private static SavedState state(long epoch, String primary) {
    FailoverReport r =
        new FailoverReport(
            3,
            FailoverReport.Kind.AUTOMATIC,
            "main",
            "pg1",
            primary,
            Instant.parse("2026-12-04T03:00:00Z"),
            Instant.parse("2026-12-04T03:00:01.5Z"),
            FailoverReport.Outcome.SUCCEEDED,
            "primary pg1 is down",
            List.of(
                new FailoverReport.Step(
                    "promote",
                    Instant.parse("2026-12-04T03:00:01Z"),
                    Duration.ofMillis(420),
                    true,
                    primary + " accepts writes")),
            epoch - 1,
            epoch,
            null,
            null);
    return new SavedState(
        SavedState.FORMAT,
        "main",
        epoch,
        primary,
        List.of("pg1"),
        Map.of("pg3", "DRAINING"),
        List.of(r),
        new SavedState.Unresolved(
            "pg1", "failover pg1 -> pg2 stopped after the promotion was sent"),
        Instant.parse("2026-12-04T03:00:02Z"));
  }

  @Test
  void a_saved_state_reads_back_whole_after_the_store_is_reopened() throws Exception {
    try (FileStateStore store = FileStateStore.open(dir.resolve("state"))) {
      assertThat(store.load("main")).isEmpty();
      store.save(state(2, "pg2"));
      store.save(state(3, "pg3"));
    }
    try (FileStateStore store = FileStateStore.open(dir.resolve("state"))) {
      assertThat(store.load("main")).contains(state(3, "pg3"));
      assertThat(store.load("other")).isEmpty();
    }
    try (var files = Files.list(dir.resolve("state"))) {
      assertThat(files.map(f -> f.getFileName().toString()))
          .as("no temporary file left behind")
          .containsExactlyInAnyOrder("main.json", ".lock");
    }
  }

  @Test
  void a_second_halo_on_the_same_state_dir_is_refused() throws Exception {
    try (FileStateStore first = FileStateStore.open(dir)) {
      assertThat(first.location()).isEqualTo(dir.toAbsolutePath().normalize().toString());
      assertThatThrownBy(() -> FileStateStore.open(dir))
          .isInstanceOf(IOException.class)
          .hasMessageContaining("in use by another Halo process");
    }
    FileStateStore.open(dir).close(); // free again once the first one closed
  }

  @Test
  void a_damaged_state_file_stops_the_start_instead_of_being_ignored() throws Exception {
    try (FileStateStore store = FileStateStore.open(dir)) {
      store.save(state(2, "pg2"));
      Files.writeString(store.file("main"), "{\"format\":1,\"cluster\":\"main\",\"epoch\":");
      assertThatThrownBy(() -> store.load("main"))
          .isInstanceOf(IOException.class)
          .hasMessageContaining("main.json is not a Halo state file")
          .hasMessageContaining("move it away");
    }
  }
}

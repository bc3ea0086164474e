package io.halo.health.store;

import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.databind.DeserializationContext;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonDeserializer;
import com.fasterxml.jackson.databind.JsonSerializer;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.SerializerProvider;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.module.SimpleModule;
import java.io.IOException;
import java.net.URLEncoder;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.time.Instant;
import java.util.Optional;

/**
 * One small JSON file per cluster in {@code state_dir}, replaced atomically: written to a temporary
 * file, fsynced, renamed over the old one, and the directory fsynced, so a crash leaves either the
 * old decision or the new one, never half of each. The directory is locked for the life of the
 * process: two Halo processes sharing one state directory would overwrite each other's decisions,
 * so the second refuses to start.
 */
public final class FileStateStore implements StateStore, AutoCloseable {

  private static final String LOCK = ".lock";

  private final Path dir;
  private final FileChannel lockChannel;
  private final FileLock lock;
  private final ObjectMapper json = mapper();

  private FileStateStore(Path dir, FileChannel lockChannel, FileLock lock) {
    this.dir = dir;
    this.lockChannel = lockChannel;
    this.lock = lock;
  }

  /**
   * Opens (creating it if needed) and locks {@code dir}.
   *
   * @throws IOException the directory cannot be created or written, or another Halo holds it
   */
  public static FileStateStore open(Path dir) throws IOException {
    Path d = dir.toAbsolutePath().normalize();
    Files.createDirectories(d);
    if (!Files.isWritable(d)) {
      throw new IOException("state_dir " + d + " is not writable by this user");
    }
    FileChannel ch =
        FileChannel.open(d.resolve(LOCK), StandardOpenOption.CREATE, StandardOpenOption.WRITE);
    FileLock l;
    try {
      l = ch.tryLock();
    } catch (OverlappingFileLockException e) {
      l = null;
    }
    if (l == null) {
      ch.close();
      throw new IOException(
          "state_dir " + d + " is in use by another Halo process; each Halo needs its own");
    }
    ch.truncate(0);
    ch.write(
        ByteBuffer.wrap(
            (ProcessHandle.current().pid() + "\n").getBytes(StandardCharsets.US_ASCII)));
    return new FileStateStore(d, ch, l);
  }

  public Path dir() {
    return dir;
  }

  @Override
  public String location() {
    return dir.toString();
  }

  Path file(String cluster) {
    return dir.resolve(URLEncoder.encode(cluster, StandardCharsets.UTF_8) + ".json");
  }

  @Override
  public Optional<SavedState> load(String cluster) throws IOException {
    Path f = file(cluster);
    byte[] bytes;
    try {
      bytes = Files.readAllBytes(f);
    } catch (NoSuchFileException e) {
      return Optional.empty();
    }
    SavedState s;
    try {
      s = json.readValue(bytes, SavedState.class);
    } catch (IOException | RuntimeException e) {
      throw new IOException(
          f
              + " is not a Halo state file ("
              + e.getMessage().lines().findFirst().orElse("")
              + "); move it away to start from the config alone",
          e);
    }
    if (s.format() != SavedState.FORMAT) {
      throw new IOException(
          f + " has format " + s.format() + ", this Halo reads format " + SavedState.FORMAT);
    }
    if (!cluster.equals(s.cluster())) {
      throw new IOException(
          f + " holds the state of cluster '" + s.cluster() + "', not '" + cluster + "'");
    }
    return Optional.of(s);
  }

  @Override
  public void save(SavedState state) throws IOException {
    Path f = file(state.cluster());
    Path tmp = dir.resolve(f.getFileName() + ".tmp");
    byte[] bytes = json.writeValueAsBytes(state);
    try (FileChannel ch =
        FileChannel.open(
            tmp,
            StandardOpenOption.CREATE,
            StandardOpenOption.WRITE,
            StandardOpenOption.TRUNCATE_EXISTING)) {
      ByteBuffer b = ByteBuffer.wrap(bytes);
      while (b.hasRemaining()) {
        ch.write(b);
      }
      ch.force(true);
    }
    try {
      Files.move(tmp, f, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    } catch (AtomicMoveNotSupportedException e) {
      throw new IOException(
          "state_dir " + dir + " does not support atomic renames; use a local file system", e);
    }
    try (FileChannel d = FileChannel.open(dir, StandardOpenOption.READ)) {
      d.force(true); // the rename itself must survive a power loss
    } catch (IOException e) {
      // Some file systems cannot open a directory for fsync; the file itself is synced.
    }
  }

  @Override
  public void close() throws IOException {
    try {
      lock.release();
    } finally {
      lockChannel.close();
    }
  }

  static ObjectMapper mapper() {
    SimpleModule time = new SimpleModule("halo-time");
    time.addSerializer(Instant.class, new ToStringSerializer<>(Instant.class));
    time.addDeserializer(Instant.class, new ParseDeserializer<>(Instant::parse));
    time.addSerializer(Duration.class, new ToStringSerializer<>(Duration.class));
    time.addDeserializer(Duration.class, new ParseDeserializer<>(Duration::parse));
    return JsonMapper.builder()
        .addModule(time)
        .enable(SerializationFeature.INDENT_OUTPUT)
        .disable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
        .build();
  }

  /** Instants and durations in ISO-8601, as people read them. */
  private static final class ToStringSerializer<T> extends JsonSerializer<T> {
    private final Class<T> type;

    ToStringSerializer(Class<T> type) {
      this.type = type;
    }

    @Override
    public Class<T> handledType() {
      return type;
    }

    @Override
    public void serialize(T value, JsonGenerator gen, SerializerProvider p) throws IOException {
      gen.writeString(value.toString());
    }
  }

  private static final class ParseDeserializer<T> extends JsonDeserializer<T> {
    private final java.util.function.Function<String, T> parse;

    ParseDeserializer(java.util.function.Function<String, T> parse) {
      this.parse = parse;
    }

    @Override
    public T deserialize(JsonParser p, DeserializationContext ctx) throws IOException {
      try {
        return parse.apply(p.getValueAsString());
      } catch (RuntimeException e) {
        throw ctx.weirdStringException(p.getValueAsString(), Object.class, e.getMessage());
      }
    }
  }
}

package io.halo.proxy.log;

import static org.assertj.core.api.Assertions.assertThat;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.PatternLayout;
import ch.qos.logback.classic.spi.LoggingEvent;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/** The shipped logback.xml: one line per message, whatever a client put into it. */
class LogLineTest {

  private static String shippedPattern() throws Exception {
    try (InputStream in = LogLineTest.class.getResourceAsStream("/logback.xml")) {
      String xml = new String(in.readAllBytes(), StandardCharsets.UTF_8);
      Matcher m = Pattern.compile("<pattern>(.*?)</pattern>").matcher(xml);
      assertThat(m.find()).as("logback.xml has an encoder pattern").isTrue();
      return m.group(1);
    }
  }

  @Test
  void a_user_name_with_a_newline_or_an_escape_sequence_stays_on_its_own_log_line()
      throws Exception {
    LoggerContext context = new LoggerContext();
    PatternLayout layout = new PatternLayout();
    layout.setContext(context);
    layout.setPattern(shippedPattern());
    layout.start();
    Logger logger = context.getLogger("io.halo.proxy.pg.PgFrontendHandler");
    String user = "x\n12:00:00.000 INFO  PgFrontendHandler - [main] admin logged in\r\u001b[2J";
    LoggingEvent event =
        new LoggingEvent(
            Logger.class.getName(),
            logger,
            Level.INFO,
            "[{}] password authentication failed for user \"{}\"",
            null,
            new Object[] {"main", user});

    String line = layout.doLayout(event);

    assertThat(line.lines()).hasSize(1);
    assertThat(line)
        .contains(
            "failed for user \"x\\n12:00:00.000 INFO  PgFrontendHandler - [main] admin logged in\\r?[2J\"");
  }

  @Test
  void the_shipped_config_logs_through_the_dropping_async_appender() throws Exception {
    try (InputStream in = LogLineTest.class.getResourceAsStream("/logback.xml")) {
      String xml = new String(in.readAllBytes(), StandardCharsets.UTF_8);
      assertThat(xml)
          .contains("class=\"" + DroppingAsyncAppender.class.getName() + "\"")
          .contains("<appender-ref ref=\"ASYNC\"/>");
    }
    assertThat(new DroppingAsyncAppender().isNeverBlock()).isTrue();
  }
}

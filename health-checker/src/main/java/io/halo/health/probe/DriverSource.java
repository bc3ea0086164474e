package io.halo.health.probe;

import java.io.PrintWriter;
import java.sql.Connection;
import java.sql.Driver;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.SQLFeatureNotSupportedException;
import java.util.Properties;
import java.util.logging.Logger;
import javax.sql.DataSource;

/**
 * The JDBC driver of one URL as a {@link DataSource}, for HikariCP. Given a JDBC URL instead,
 * HikariCP wraps the driver in its own data source, whose {@code setLoginTimeout} sets {@link
 * DriverManager#setLoginTimeout}: a JVM-wide setting, so every monitor pool would impose its
 * one-second timeout on every other driver connection in the process (Connector/J then gave up on
 * handshakes under load). Here the login timeout stays with this source; the drivers' own timeouts
 * come from the connection properties ({@link EngineProbe#driverProperties}).
 */
public final class DriverSource implements DataSource {

  private final String url;
  private final Properties properties;
  private int loginTimeoutSeconds;
  private PrintWriter logWriter;

  /**
   * @param properties driver properties (copied); the user and password come per connection
   */
  public DriverSource(String url, Properties properties) {
    this.url = url;
    this.properties = new Properties();
    this.properties.putAll(properties);
  }

  @Override
  public Connection getConnection() throws SQLException {
    return connect(new Properties());
  }

  @Override
  public Connection getConnection(String user, String password) throws SQLException {
    Properties p = new Properties();
    if (user != null) {
      p.setProperty("user", user);
    }
    if (password != null) {
      p.setProperty("password", password);
    }
    return connect(p);
  }

  private Connection connect(Properties credentials) throws SQLException {
    Properties p = new Properties();
    p.putAll(properties);
    p.putAll(credentials);
    Driver driver = DriverManager.getDriver(url);
    Connection c = driver.connect(url, p);
    if (c == null) {
      throw new SQLException("no JDBC driver accepts " + url);
    }
    return c;
  }

  @Override
  public PrintWriter getLogWriter() {
    return logWriter;
  }

  @Override
  public void setLogWriter(PrintWriter out) {
    this.logWriter = out;
  }

  /** Kept here, not passed to {@link DriverManager} (see the class comment). */
  @Override
  public void setLoginTimeout(int seconds) {
    this.loginTimeoutSeconds = seconds;
  }

  @Override
  public int getLoginTimeout() {
    return loginTimeoutSeconds;
  }

  @Override
  public Logger getParentLogger() throws SQLFeatureNotSupportedException {
    throw new SQLFeatureNotSupportedException("no parent logger");
  }

  @Override
  public <T> T unwrap(Class<T> type) throws SQLException {
    if (type.isInstance(this)) {
      return type.cast(this);
    }
    throw new SQLException("not a wrapper of " + type.getName());
  }

  @Override
  public boolean isWrapperFor(Class<?> type) {
    return type.isInstance(this);
  }
}

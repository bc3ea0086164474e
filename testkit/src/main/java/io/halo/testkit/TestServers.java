package io.halo.testkit;

/** Process-wide settings of the servers the test kit starts. */
public final class TestServers {

  private TestServers() {}

  /**
   * Says that the application stops its servers in its own shutdown hook (halo demo on Ctrl-C). The
   * test kit still stops whatever is left at exit, but quietly: the warning about servers left
   * running is for tests that forgot to close a cluster.
   */
  public static void ownerStopsAtExit() {
    ServerProcess.ownerStopsAtExit = true;
  }
}

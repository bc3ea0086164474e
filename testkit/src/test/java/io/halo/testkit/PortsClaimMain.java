package io.halo.testkit;

/** Another JVM for {@link PortsTest}: prints whether it can claim the port given. */
public final class PortsClaimMain {
  private PortsClaimMain() {}

  public static void main(String[] args) {
    System.out.println(Ports.claim(Integer.parseInt(args[0])));
  }
}

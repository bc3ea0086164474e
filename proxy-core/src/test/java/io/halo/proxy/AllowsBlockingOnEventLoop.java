package io.halo.proxy;

import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;

/**
 * A test class that blocks an event loop on purpose (a test seam that stalls a relay); {@link
 * EventLoopChecks} does not fail it for that. Say why in {@link #value}.
 */
@Retention(RetentionPolicy.RUNTIME)
@Target(ElementType.TYPE)
public @interface AllowsBlockingOnEventLoop {
  String value();
}

package io.halo.conf.model;

import java.util.Objects;

/**
 * A client account that Halo authenticates, and the credentials Halo uses for that user's
 * backend connections. {@code backendUser} and {@code backendPassword} default to the client
 * credentials (the loader fills them in).
 *
 * @param password the clear-text password; may be null only for {@link AuthMethod#TRUST}
 * @param backendPassword may be null when the backend trusts the user
 */
public record UserConfig(
    String name, String password, AuthMethod auth, String backendUser, String backendPassword) {

  public UserConfig {
    Objects.requireNonNull(name, "name");
    Objects.requireNonNull(auth, "auth");
    Objects.requireNonNull(backendUser, "backendUser");
    if (name.isEmpty()) {
      throw new IllegalArgumentException("user name is empty");
    }
    if (auth != AuthMethod.TRUST && (password == null || password.isEmpty())) {
      throw new IllegalArgumentException("user '" + name + "' needs a password for auth " + auth);
    }
  }

  @Override
  public String toString() {
    return "UserConfig[name=" + name + ", auth=" + auth + ", backendUser=" + backendUser + "]";
  }
}

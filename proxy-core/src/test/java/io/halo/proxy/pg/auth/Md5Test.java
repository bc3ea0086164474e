package io.halo.proxy.pg.auth;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class Md5Test {

  @Test
  void stores_the_hash_postgresql_stores() {
    // SELECT 'md5' || md5('postgres' || 'postgres') in PostgreSQL
    assertThat(Md5.stored("postgres", "postgres")).isEqualTo("md53175bce1d3201d16594cebf9d7eb3f9d");
  }

  @Test
  void matches_only_the_response_for_the_same_salt() {
    String stored = Md5.stored("app", "pw");
    byte[] salt = {1, 2, 3, 4};
    String response = Md5.response(stored, salt);
    assertThat(Md5.matches(stored, salt, response)).isTrue();
    assertThat(Md5.matches(stored, new byte[] {1, 2, 3, 5}, response)).isFalse();
    assertThat(Md5.matches(Md5.stored("app", "other"), salt, response)).isFalse();
  }
}

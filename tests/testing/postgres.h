// The PostgreSQL server of the test run: scripts/test.sh starts one on loopback and exports
// PDM_TEST_POSTGRES_URL (and PDM_REQUIRE_POSTGRES=1, which turns a missing server into a
// failure instead of a skip). Each test gets its own schema, so tests run in parallel.
#ifndef PDM_TESTS_TESTING_POSTGRES_H_
#define PDM_TESTS_TESTING_POSTGRES_H_

#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <optional>
#include <pqxx/pqxx>
#include <string>

namespace pdm::testing {

inline std::optional<std::string> PostgresServerUrl() {
  const char* url = std::getenv("PDM_TEST_POSTGRES_URL");
  if (url == nullptr || *url == '\0') return std::nullopt;
  return std::string(url);
}

inline bool PostgresRequired() {
  const char* required = std::getenv("PDM_REQUIRE_POSTGRES");
  return required != nullptr && std::string(required) == "1";
}

// A URL whose connections see only a fresh, empty schema named after `name`.
inline std::string FreshPostgresSchema(const std::string& server_url, const std::string& name) {
  static std::atomic<int> counter{0};
  const std::string schema =
      "t_" + name + "_" + std::to_string(::getpid()) + "_" + std::to_string(counter++);
  pqxx::connection admin(server_url);
  pqxx::nontransaction work(admin);
  work.exec("DROP SCHEMA IF EXISTS " + schema + " CASCADE");
  work.exec("CREATE SCHEMA " + schema);
  const char separator = server_url.find('?') == std::string::npos ? '?' : '&';
  return server_url + separator + "options=-csearch_path%3D" + schema;
}

}  // namespace pdm::testing

#endif  // PDM_TESTS_TESTING_POSTGRES_H_

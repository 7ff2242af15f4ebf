// The ingestion sources' statuses of a running `pdm serve` (GET /api/v1/sources).
#ifndef PDM_TESTS_TESTING_SOURCES_H_
#define PDM_TESTS_TESTING_SOURCES_H_

#include <cstdint>

#include "nlohmann/json.hpp"
#include "tests/testing/http_client.h"

namespace pdm::testing {

// The first source's status, or an empty object when the answer has none (or is not 200).
inline nlohmann::json FirstSource(uint16_t port) {
  const Reply r = Send(port, Request("GET", "/api/v1/sources", "", ""));
  if (r.status != 200) return nlohmann::json::object();
  const nlohmann::json body = nlohmann::json::parse(r.body, nullptr, false);
  return body.is_object() && body["sources"].is_array() && !body["sources"].empty()
             ? body["sources"][0]
             : nlohmann::json::object();
}

}  // namespace pdm::testing

#endif  // PDM_TESTS_TESTING_SOURCES_H_

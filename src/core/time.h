// Time points, durations and the text forms users write for them.
#ifndef PDM_CORE_TIME_H_
#define PDM_CORE_TIME_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace pdm::core {

// Seconds since the Unix epoch, UTC. Sub-second precision is kept as a fraction.
using EpochSeconds = double;

// A length of time ("30d", "1h", "10m", "45s", "2w") or a number of records/cycles ("20r").
struct Span {
  enum class Kind { kTime, kRecords };
  Kind kind = Kind::kTime;
  // Seconds when kind == kTime, records when kind == kRecords. Always > 0.
  int64_t amount = 0;

  bool is_time() const { return kind == Kind::kTime; }
  friend bool operator==(const Span&, const Span&) = default;
};

// Parses "<positive integer><unit>", unit one of s, m, h, d, w (time) or r (records).
absl::StatusOr<Span> ParseSpan(std::string_view text);

// Like ParseSpan but refuses record counts; returns seconds.
absl::StatusOr<int64_t> ParseDurationSeconds(std::string_view text);

// Canonical text of a span ("24h", "7d", "20r"): the largest unit that divides it exactly.
std::string FormatSpan(const Span& span);

// Remembers the date part of the last timestamp parsed, so rows of one day skip re-deriving it.
// Not thread-safe: one per thread.
struct DateCache {
  char date[10] = {};
  int64_t days = 0;
  bool valid = false;
};

// Parses an ISO 8601 / RFC 3339 timestamp: "YYYY-MM-DD", "YYYY-MM-DD[T| ]HH:MM[:SS[.fraction]]"
// followed by nothing (UTC), "Z", or an offset "+HH:MM" / "-HH:MM". Returns false on any other
// input. Written by hand for these fixed forms because it sits on the ingestion hot path (about
// 15 ns a timestamp: build/release/bench/ingest_benchmark --benchmark_filter=BM_ParseTimestamp).
bool ParseTimestamp(std::string_view text, EpochSeconds* out, DateCache* cache = nullptr);

// Writes "YYYY-MM-DDTHH:MM:SSZ" (whole seconds) into `out`, which must hold 20 bytes.
// Returns the number of bytes written (20).
int FormatTimestamp(int64_t epoch_seconds, char* out);
std::string FormatTimestamp(int64_t epoch_seconds);

// Days since 1970-01-01 of a proleptic Gregorian civil date.
int64_t DaysFromCivil(int64_t year, unsigned month, unsigned day);

}  // namespace pdm::core

#endif  // PDM_CORE_TIME_H_

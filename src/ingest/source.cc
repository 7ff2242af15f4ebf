#include "ingest/source.h"

#include <algorithm>

#include "core/strings.h"

namespace pdm::ingest {

nlohmann::json SourceCounters::ToJson() const {
  return {{"messages", messages.load()},
          {"messages_malformed", messages_malformed.load()},
          {"readings_accepted", readings_accepted.load()},
          {"readings_refused", readings_refused.load()},
          {"readings_duplicate", readings_duplicate.load()},
          {"events_applied", events_applied.load()},
          {"events_refused", events_refused.load()},
          {"dead_lettered", dead_lettered.load()},
          {"retries", retries.load()},
          {"connects", connects.load()},
          {"connection_losses", connection_losses.load()}};
}

MessageResult ApplyMessage(std::string_view payload, const std::optional<std::string>& machine,
                           const MessageOptions& options, const TelemetryHandler& handler,
                           const std::function<bool(std::chrono::milliseconds)>& wait,
                           SourceCounters* counters) {
  MessageResult result;
  if (payload.size() > options.max_payload) {
    ++counters->messages_malformed;
    result.kind = MessageResult::Kind::kMalformed;
    result.reasons.push_back(
        core::StrCat("payload of ", payload.size(), " bytes; at most ", options.max_payload));
    return result;
  }
  for (int64_t attempt = 0;; ++attempt) {
    auto decoded = DecodePayload(payload, options.decode, machine);
    if (!decoded.ok()) {
      ++counters->messages_malformed;
      result.kind = MessageResult::Kind::kMalformed;
      result.reasons.emplace_back(decoded.status().message());
      return result;
    }
    result.readings = decoded->readings;
    IngestOutcome outcome;
    const bool empty = decoded->readings == 0 && !decoded->body.contains("events");
    if (!empty) outcome = handler(std::move(decoded->body));
    if (outcome.status >= 500) {
      // The path could not take it now (no model loaded): the same message again, later. The
      // body moved into the path, so it is decoded again.
      const auto backoff = std::min(
          options.retry_max, options.retry_min * (int64_t{1} << std::min<int64_t>(attempt, 10)));
      if (wait(backoff)) {
        ++counters->retries;
        continue;
      }
      result.kind = MessageResult::Kind::kNotApplied;
      result.reasons.push_back(core::StrCat(outcome.status, " ", outcome.error));
      return result;
    }
    counters->Count(outcome);
    counters->readings_refused += static_cast<int64_t>(decoded->errors.size());
    result.reasons = std::move(decoded->errors);
    if (outcome.refused > outcome.duplicates || outcome.events_refused > 0) {
      result.reasons.push_back(core::StrCat(outcome.refused - outcome.duplicates, " readings and ",
                                            outcome.events_refused,
                                            " events refused: ", outcome.error));
    }
    return result;
  }
}

std::string DeadLetterBody(std::string_view source, std::string_view topic,
                           std::string_view payload, const std::vector<std::string>& reasons) {
  constexpr size_t kShown = 64 << 10;
  const nlohmann::json letter = {{"source", source},
                                 {"topic", topic},
                                 {"reasons", reasons},
                                 {"payload", payload.substr(0, kShown)},
                                 {"payload_bytes", payload.size()}};
  return letter.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace pdm::ingest

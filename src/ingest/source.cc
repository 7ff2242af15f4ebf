#include "ingest/source.h"

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

}  // namespace pdm::ingest

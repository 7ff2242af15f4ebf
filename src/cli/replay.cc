#include "cli/replay.h"

#include <cmath>
#include <fstream>
#include <map>
#include <set>

#include "absl/strings/str_split.h"
#include "core/status.h"
#include "core/strings.h"
#include "core/time.h"
#include "nlohmann/json.hpp"

namespace pdm::cli {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

// The simulator's CSV files: a header, then rows of plain fields (no quoting).
struct Table {
  std::vector<std::string> header;
  std::vector<std::vector<std::string>> rows;
  size_t Column(std::string_view name) const {
    for (size_t i = 0; i < header.size(); ++i) {
      if (header[i] == name) return i;
    }
    return header.size();
  }
};

absl::StatusOr<Table> ReadTable(const fs::path& path, bool required) {
  Table table;
  std::ifstream in(path);
  if (!in) {
    if (!required) return table;
    return absl::NotFoundError(core::StrCat(path.string(), ": cannot open"));
  }
  std::string line;
  if (!std::getline(in, line)) return table;
  table.header = absl::StrSplit(line, ',');
  size_t number = 1;
  while (std::getline(in, line)) {
    ++number;
    if (line.empty()) continue;
    std::vector<std::string> fields = absl::StrSplit(line, ',');
    if (fields.size() != table.header.size()) {
      return absl::InvalidArgumentError(core::StrCat(path.string(), ":", number, ": ",
                                                     fields.size(), " fields, the header has ",
                                                     table.header.size()));
    }
    table.rows.push_back(std::move(fields));
  }
  return table;
}

double TimeOf(const std::string& text) {
  double t = std::nan("");
  core::ParseTimestamp(text, &t);
  return t;
}

// The event tables of the simulator: file, event type, the column of its kind.
struct EventFile {
  const char* file;
  const char* type;
  const char* kind;
};
constexpr EventFile kEventFiles[] = {{"maintenance.csv", "maintenance", "component"},
                                     {"failures.csv", "failure", "mode"},
                                     {"errors.csv", "error", "code"}};

}  // namespace

absl::StatusOr<std::vector<ReplayStep>> LoadReplay(const fs::path& dir, double from) {
  PDM_ASSIGN_OR_RETURN(const Table telemetry, ReadTable(dir / "telemetry.csv", true));
  PDM_ASSIGN_OR_RETURN(const Table machines, ReadTable(dir / "machines.csv", false));
  const size_t time_column = telemetry.Column("timestamp");
  const size_t machine_column = telemetry.Column("machine_id");
  if (time_column == telemetry.header.size() || machine_column == telemetry.header.size()) {
    return absl::InvalidArgumentError(
        core::StrCat((dir / "telemetry.csv").string(), ": needs timestamp and machine_id columns"));
  }
  std::map<std::string, json> attributes;
  for (const auto& row : machines.rows) {
    json a = json::object();
    std::string id;
    for (size_t c = 0; c < machines.header.size(); ++c) {
      const std::string& name = machines.header[c];
      if (name == "machine_id") {
        id = row[c];
      } else if (name == "model") {
        a[name] = row[c];
      } else if (!row[c].empty()) {
        a[name] = std::strtod(row[c].c_str(), nullptr);
      }
    }
    attributes[id] = std::move(a);
  }
  struct Event {
    double time;
    json body;
  };
  std::vector<Event> events;
  for (const EventFile& f : kEventFiles) {
    PDM_ASSIGN_OR_RETURN(const Table table, ReadTable(dir / f.file, false));
    const size_t t = table.Column("timestamp"), m = table.Column("machine_id"),
                 k = table.Column(f.kind);
    if (table.rows.empty()) continue;
    if (t == table.header.size() || m == table.header.size()) {
      return absl::InvalidArgumentError(
          core::StrCat((dir / f.file).string(), ": needs timestamp and machine_id columns"));
    }
    for (const auto& row : table.rows) {
      const double time = TimeOf(row[t]);
      if (!(time >= from)) continue;
      json e = {{"machine", row[m]}, {"time", row[t]}, {"type", f.type}};
      if (k < row.size() && !row[k].empty()) e["kind"] = row[k];
      events.push_back({time, std::move(e)});
    }
  }
  std::stable_sort(events.begin(), events.end(),
                   [](const Event& a, const Event& b) { return a.time < b.time; });
  std::map<double, json> readings;  // time -> readings at that time
  for (const auto& row : telemetry.rows) {
    const double time = TimeOf(row[time_column]);
    if (!(time >= from)) continue;
    json values = json::object();
    for (size_t c = 0; c < telemetry.header.size(); ++c) {
      if (c == time_column || c == machine_column) continue;
      values[telemetry.header[c]] =
          row[c].empty() ? json(nullptr) : json(std::strtod(row[c].c_str(), nullptr));
    }
    readings[time].push_back(
        {{"machine", row[machine_column]}, {"time", row[time_column]}, {"values", values}});
  }
  std::set<std::string> introduced;
  std::vector<ReplayStep> steps;
  size_t next_event = 0;
  for (auto& [time, list] : readings) {
    for (json& r : list) {
      const std::string id = r["machine"];
      if (introduced.insert(id).second && attributes.contains(id)) r["attributes"] = attributes[id];
    }
    json body = {{"readings", std::move(list)}};
    json sent = json::array();
    while (next_event < events.size() && events[next_event].time <= time) {
      sent.push_back(std::move(events[next_event++].body));
    }
    if (!sent.empty()) body["events"] = std::move(sent);
    steps.push_back({time, body.dump()});
  }
  return steps;
}

absl::Status SplitFleet(const fs::path& dir, double before, const fs::path& out) {
  std::error_code error;
  fs::create_directories(out, error);
  if (error) return absl::PermissionDeniedError(core::StrCat(out.string(), ": ", error.message()));
  for (const auto& entry : fs::directory_iterator(dir)) {
    const fs::path& path = entry.path();
    if (!entry.is_regular_file()) continue;
    std::ifstream in(path);
    std::ofstream copy(out / path.filename());
    std::string line;
    bool header = true;
    size_t time_column = std::string::npos;
    while (std::getline(in, line)) {
      if (path.extension() == ".csv") {
        if (header) {
          const std::vector<std::string> names = absl::StrSplit(line, ',');
          for (size_t c = 0; c < names.size(); ++c) {
            if (names[c] == "timestamp") time_column = c;
          }
        } else if (time_column != std::string::npos) {
          const std::vector<std::string> fields = absl::StrSplit(line, ',');
          if (time_column < fields.size() && !(TimeOf(fields[time_column]) < before)) {
            continue;
          }
        }
        header = false;
      }
      copy << line << '\n';
    }
    if (!copy)
      return absl::DataLossError(core::StrCat((out / path.filename()).string(), ": write failed"));
  }
  return absl::OkStatus();
}

}  // namespace pdm::cli

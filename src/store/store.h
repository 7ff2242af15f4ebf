// The Store: registry metadata, telemetry, predictions and alerts behind one interface, with an
// embedded SQLite backend (the default) and a PostgreSQL backend, chosen by URL:
//
//   sqlite:///abs/path/pdm.db   sqlite://relative/path.db   (a bare path is SQLite too)
//   postgresql://user@127.0.0.1:5432/pdm   postgres://...   (libpq connection URIs)
//
// Both backends run the same SQL over one small connection interface (store/sql.h), so they
// pass the same test suite. Opening a store applies the versioned schema migrations it lacks
// and refuses a database whose schema is newer than this binary knows.
//
// Thread safety: a Store serialises its calls on one connection; open one per process or thread
// pool. Several processes may share one database: registration allocates version numbers inside
// a write transaction (SQLite BEGIN IMMEDIATE, PostgreSQL an advisory transaction lock).
#ifndef PDM_STORE_STORE_H_
#define PDM_STORE_STORE_H_

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace pdm::store {

// The schema version this binary creates and understands.
inline constexpr int kSchemaVersion = 1;

// One immutable registered model version. Times are microseconds since the Unix epoch (UTC).
struct ModelVersion {
  std::string name;
  int64_t version = 0;  // assigned by RegisterModelVersion: 1, 2, ... per name
  int64_t created_us = 0;
  std::string artifact_hash;        // SHA-256 of the artifact tree (registry/artifact_tree.h)
  std::string artifact_path;        // relative to the registry directory
  std::string feature_spec_hash;    // the feature pipeline's hash
  std::string dataset_fingerprint;  // SHA-256 over the input files' hashes
  std::string spec_yaml;            // the dataset spec the model was trained from
  std::string params_json;          // training options and member parameters
  int64_t seed = 0;
  std::string metrics_json;  // the training metrics (metrics.json's "ensemble" and "members")
  std::string pdm_version;
  std::string git_commit;
  std::string actor;
  std::string description;
};

// One entry of the append-only audit log.
struct AuditEvent {
  int64_t id = 0;  // increasing in commit order
  int64_t time_us = 0;
  std::string name;
  std::string action;  // "register", "promote", "rollback", "delete"
  std::string alias;   // promote/rollback only
  std::optional<int64_t> from_version;
  std::optional<int64_t> to_version;
  std::string reason;
  std::string actor;
};

// An alias move: `alias` of `name` goes to `to_version`. When `expected_from` is set, the move
// happens only if the alias is held by exactly that version (nullopt inside: unheld), else
// FailedPrecondition: a concurrent move is never overwritten blindly.
struct AliasMove {
  std::string name;
  std::string alias;
  int64_t to_version = 0;
  std::string action = "promote";
  std::optional<std::optional<int64_t>> expected_from;
  std::string reason;
  std::string actor;
};

struct TelemetryRow {
  std::string machine;
  int64_t time_us = 0;
  std::string sensor;
  double value = 0;
};

struct PredictionRow {
  std::string machine;
  int64_t time_us = 0;
  std::string model;
  int64_t version = 0;
  double score = 0;  // failure probability, or predicted remaining useful life
  bool alarm = false;
};

struct AlertRow {
  int64_t id = 0;  // assigned by AppendAlert
  std::string machine;
  int64_t time_us = 0;
  std::string severity;  // "info", "warning", "critical"
  std::string kind;
  std::string message;
};

class Store {
 public:
  virtual ~Store() = default;

  virtual std::string_view backend() const = 0;  // "sqlite" or "postgresql"
  virtual absl::StatusOr<int> SchemaVersion() = 0;

  // Registry metadata. RegisterModelVersion assigns the next version number of `v.name` (the
  // given one is ignored; `created_us` 0 means now) and appends a "register" audit event in the
  // same transaction.
  virtual absl::StatusOr<int64_t> RegisterModelVersion(const ModelVersion& v,
                                                       std::string_view reason) = 0;
  virtual absl::StatusOr<std::optional<ModelVersion>> GetModelVersion(std::string_view name,
                                                                      int64_t version) = 0;
  // Every version of `name` (every name when empty), by name then version.
  virtual absl::StatusOr<std::vector<ModelVersion>> ListModelVersions(std::string_view name) = 0;
  // alias -> version for `name`.
  virtual absl::StatusOr<std::map<std::string, int64_t>> Aliases(std::string_view name) = 0;
  // Moves an alias and appends the audit event in one transaction. NotFound when the target
  // version does not exist.
  virtual absl::Status MoveAlias(const AliasMove& move) = 0;
  // Deletes a version's metadata with a "delete" audit event; FailedPrecondition while an alias
  // holds it. The caller removes the artifacts (shared by content hash) when no version uses them.
  virtual absl::Status DeleteModelVersion(std::string_view name, int64_t version,
                                          std::string_view actor, std::string_view reason) = 0;
  // The audit log of `name` (every name when empty), oldest first.
  virtual absl::StatusOr<std::vector<AuditEvent>> AuditLog(std::string_view name) = 0;

  // Telemetry, predictions and alerts: batched appends in one transaction each (PostgreSQL:
  // COPY), time-ordered queries of one machine's most recent rows.
  virtual absl::Status AppendTelemetry(std::span<const TelemetryRow> rows) = 0;
  virtual absl::StatusOr<std::vector<TelemetryRow>> RecentTelemetry(std::string_view machine,
                                                                    int limit) = 0;
  virtual absl::StatusOr<int64_t> CountTelemetry() = 0;
  virtual absl::Status AppendPredictions(std::span<const PredictionRow> rows) = 0;
  virtual absl::StatusOr<std::vector<PredictionRow>> RecentPredictions(std::string_view machine,
                                                                       int limit) = 0;
  virtual absl::StatusOr<int64_t> AppendAlert(const AlertRow& alert) = 0;
  // Most recent first; every machine's when `machine` is empty.
  virtual absl::StatusOr<std::vector<AlertRow>> RecentAlerts(std::string_view machine,
                                                             int limit) = 0;
};

// Opens (creating when needed) the store at `url` and brings its schema up to date.
absl::StatusOr<std::unique_ptr<Store>> OpenStore(std::string_view url);

// The SQLite URL of a file path.
std::string SqliteUrl(const std::string& path);

}  // namespace pdm::store

#endif  // PDM_STORE_STORE_H_

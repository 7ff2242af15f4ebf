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
inline constexpr int kSchemaVersion = 5;

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

// A maintenance, failure or error event received with telemetry: the labels of the next
// training run that reads the store (`pdm telemetry export`).
struct EventRow {
  std::string machine;
  int64_t time_us = 0;
  std::string type;  // failure, maintenance, error
  std::string kind;  // the failure mode / component / error code; empty when none
};

// A machine's online feature state, saved when another replica takes the machine over (the
// Kafka source's rebalance, docs/ingest.md).
struct MachineStateRow {
  std::string machine;
  std::string pipeline_hash;  // the feature pipeline the state was built with
  double last_time = 0;       // of the machine's last reading in the state
  std::string state;          // OnlineFeatureState::Serialize (binary)
  std::string owner;          // the replica that saved it
  int64_t updated_us = 0;     // assigned by PutMachineStates
};

// A run of `pdm pipeline run` (docs/pipeline.md): its identity comes from its inputs, so the
// same inputs give the same run. `record` is the run's JSON (inputs, params, steps with their
// metrics and artifacts), written whole after every step.
struct PipelineRunRow {
  std::string id;
  std::string pipeline;  // the pipeline's name
  std::string state;     // running, failed, succeeded
  std::string record;
  int64_t created_us = 0;  // assigned by the first PutPipelineRun
  int64_t updated_us = 0;  // assigned by every PutPipelineRun
};

struct PredictionRow {
  std::string machine;
  int64_t time_us = 0;
  std::string model;
  int64_t version = 0;
  double score = 0;  // failure probability, or predicted remaining useful life
  bool alarm = false;
};

// A maintenance or drift alert and its lifecycle: open -> acknowledged -> resolved (or open ->
// resolved). At most one alert per (machine, kind, failure_mode) is active (not resolved) at a
// time: the store refuses a second one.
struct AlertRow {
  int64_t id = 0;        // assigned by OpenAlert
  std::string machine;   // empty for a fleet-wide alert (drift)
  int64_t time_us = 0;   // data time of the reading that opened it
  std::string severity;  // "warning", "critical"
  std::string kind;      // "failure_risk", "drift"
  std::string failure_mode;
  std::string message;
  std::optional<double> score;  // the opening reading's probability or RUL
  std::string model;
  int64_t version = 0;
  std::string state = "open";  // "open", "acknowledged", "resolved"
  int64_t opened_us = 0;       // wall clock; 0 in OpenAlert means now
  int64_t updated_us = 0;
  std::string acknowledged_by;
  std::optional<int64_t> acknowledged_us;
  std::string resolution;  // one of kResolutions, or kDriftEnded (drift alerts)
  std::string resolved_by;
  std::optional<int64_t> resolved_us;
  std::string note;  // the latest action's note
};

// One entry of an alert's append-only history.
struct AlertHistoryRow {
  int64_t id = 0;
  int64_t alert_id = 0;
  int64_t time_us = 0;  // wall clock
  std::string event;    // "opened", "escalated", "acknowledged", "resolved"
  std::string state;    // the alert's state after the event
  std::string severity;
  std::string actor;
  std::string resolution;
  std::string note;
};

// An action on an active alert. "acknowledged": open alerts only. "resolved": needs one of
// kResolutions. "escalated": raises the severity to `severity`.
struct AlertTransition {
  std::string event;
  std::string actor;
  std::string resolution;
  std::string note;
  std::string severity;
};

inline constexpr std::string_view kResolutions[] = {"failure_confirmed", "no_fault_found",
                                                    "maintenance_done"};
// The resolution the server gives a drift alert when no feature is in drift any more (drift
// alerts only; people resolve with one of kResolutions).
inline constexpr std::string_view kDriftEnded = "drift_ended";

struct AlertFilter {
  std::string state;  // "open", "acknowledged", "resolved", "active" (not resolved); "": all
  std::string machine;
  std::string kind;
  int64_t before_id = 0;  // paging: only alerts with a smaller id (0: from the newest)
  int limit = 100;
};

// What OpenAlert did: the new alert, or the active one that held its key.
struct OpenedAlert {
  AlertRow alert;
  bool opened = false;
};

// One delivery of one alert event to one webhook target (the outbox). Delivered at least once:
// a claimed row that is not finished within its lease is claimed again.
struct NotificationRow {
  int64_t id = 0;
  int64_t alert_id = 0;
  int64_t history_id = 0;
  std::string target;  // the webhook URL
  std::string event;
  std::string idempotency_key;  // the same for every attempt of this delivery
  std::string state;            // "pending", "delivered", "dead"
  int64_t attempts = 0;
  int64_t next_attempt_us = 0;
  std::string last_error;
  int64_t created_us = 0;
  int64_t updated_us = 0;
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
  // For exports: the machines with telemetry in [from_us, to_us), in byte order, and one
  // machine's rows in that range, by time then sensor.
  virtual absl::StatusOr<std::vector<std::string>> TelemetryMachines(int64_t from_us,
                                                                     int64_t to_us) = 0;
  virtual absl::StatusOr<std::vector<TelemetryRow>> MachineTelemetry(std::string_view machine,
                                                                     int64_t from_us,
                                                                     int64_t to_us) = 0;
  virtual absl::Status AppendEvents(std::span<const EventRow> rows) = 0;
  // Events in [from_us, to_us), by machine, time, type and kind.
  virtual absl::StatusOr<std::vector<EventRow>> ListEvents(int64_t from_us, int64_t to_us) = 0;
  virtual absl::Status AppendPredictions(std::span<const PredictionRow> rows) = 0;
  virtual absl::StatusOr<std::vector<PredictionRow>> RecentPredictions(std::string_view machine,
                                                                       int limit) = 0;

  // Machines' online states, one row each. Put keeps a stored row whose last_time is later than
  // the one given (a slower replica cannot overwrite a newer state).
  virtual absl::Status PutMachineStates(std::span<const MachineStateRow> rows) = 0;
  virtual absl::StatusOr<std::optional<MachineStateRow>> GetMachineState(
      std::string_view machine) = 0;

  // Pipeline runs: Put inserts or replaces a run (keeping its creation time); List is newest
  // first, of one pipeline or (empty name) of all.
  virtual absl::Status PutPipelineRun(const PipelineRunRow& row) = 0;
  virtual absl::StatusOr<std::optional<PipelineRunRow>> GetPipelineRun(std::string_view id) = 0;
  virtual absl::StatusOr<std::vector<PipelineRunRow>> ListPipelineRuns(std::string_view pipeline,
                                                                       int limit) = 0;

  // Alerts. OpenAlert inserts `alert` (its id, state and times are assigned) with an "opened"
  // history entry and one pending notification per `notify` target, in one transaction; when
  // an alert of the same (machine, kind, failure_mode) is active it changes nothing and returns
  // that one.
  virtual absl::StatusOr<OpenedAlert> OpenAlert(const AlertRow& alert,
                                                std::span<const std::string> notify) = 0;
  virtual absl::StatusOr<std::optional<AlertRow>> GetAlert(int64_t id) = 0;
  // Newest first.
  virtual absl::StatusOr<std::vector<AlertRow>> ListAlerts(const AlertFilter& filter) = 0;
  // Oldest first.
  virtual absl::StatusOr<std::vector<AlertHistoryRow>> AlertHistory(int64_t id) = 0;
  // Applies `t` with its history entry and notifications in one transaction; the alert after
  // it. NotFound: no such alert; FailedPrecondition: not allowed in the alert's state (the
  // message says why); InvalidArgument: an unknown event or resolution.
  virtual absl::StatusOr<AlertRow> TransitionAlert(int64_t id, const AlertTransition& t,
                                                   std::span<const std::string> notify) = 0;
  // Active alerts by severity.
  virtual absl::StatusOr<std::map<std::string, int64_t>> CountActiveAlerts() = 0;

  // The notification outbox. ClaimNotifications takes up to `limit` pending rows due at
  // `now_us` and hides them from other claimers for `lease_us`. FinishNotification records an
  // attempt: delivered; or failed with `error`, pending again at `retry_at_us`, or dead (the
  // dead-letter list) without it.
  virtual absl::StatusOr<std::vector<NotificationRow>> ClaimNotifications(int64_t now_us,
                                                                          int64_t lease_us,
                                                                          int limit) = 0;
  virtual absl::Status FinishNotification(int64_t id, bool delivered, std::string_view error,
                                          std::optional<int64_t> retry_at_us) = 0;
  // Newest first; every state when `state` is empty.
  virtual absl::StatusOr<std::vector<NotificationRow>> ListNotifications(std::string_view state,
                                                                         int limit) = 0;
  // A dead notification goes back to pending with its attempts reset; NotFound otherwise.
  virtual absl::Status RetryNotification(int64_t id) = 0;
  virtual absl::StatusOr<std::map<std::string, int64_t>> CountNotifications() = 0;  // by state
};

// Opens (creating when needed) the store at `url` and brings its schema up to date.
absl::StatusOr<std::unique_ptr<Store>> OpenStore(std::string_view url);

// The SQLite URL of a file path.
std::string SqliteUrl(const std::string& path);

}  // namespace pdm::store

#endif  // PDM_STORE_STORE_H_

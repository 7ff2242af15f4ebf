// The Store over a SqlConnection: schema migrations and every query, written once for both
// dialects. Dialect differences are confined to the DDL (identity columns, append-only triggers).
#include <algorithm>
#include <chrono>
#include <mutex>

#include "absl/strings/escaping.h"
#include "core/status.h"
#include "core/strings.h"
#include "store/sql.h"
#include "store/store.h"

namespace pdm::store {

absl::Status InTransaction(SqlConnection& connection, const std::function<absl::Status()>& begin,
                           const std::function<absl::Status()>& body) {
  PDM_RETURN_IF_ERROR(begin());
  absl::Status status = body();
  if (status.ok()) status = connection.Commit();
  if (!status.ok()) connection.Rollback();
  return status;
}

namespace {

// Every registry write and every migration takes this lock (PostgreSQL advisory lock key; SQLite
// has one write lock per database anyway). Registry writes are rare: one lock is enough.
constexpr int64_t kRegistryLock = 0x70646d0001;  // "pdm" 1
// Alert lifecycle writes and outbox claims: serialised so that the one-active-alert rule and the
// lease of a claimed notification hold across processes.
constexpr int64_t kAlertLock = 0x70646d0002;

int64_t NowMicros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

struct Migration {
  int version;
  const char* description;
  // Both dialects. {ID}: the dialect's identity primary key. {KEY}: text compared byte by byte
  // (SQLite's default BINARY; PostgreSQL COLLATE "C"), so that both backends order names alike
  // whatever the server's locale, and index comparisons stay cheap.
  const char* common;
  const char* sqlite;    // SQLite only
  const char* postgres;  // PostgreSQL only
};

// Append migrations; never edit a released one.
constexpr Migration kMigrations[] = {
    {1, "registry, telemetry, predictions, alerts",
     R"sql(
CREATE TABLE model_versions (
  name {KEY} NOT NULL,
  version BIGINT NOT NULL,
  created_us BIGINT NOT NULL,
  artifact_hash TEXT NOT NULL,
  artifact_path TEXT NOT NULL,
  feature_spec_hash TEXT NOT NULL,
  dataset_fingerprint TEXT NOT NULL,
  spec_yaml TEXT NOT NULL,
  params_json TEXT NOT NULL,
  seed BIGINT NOT NULL,
  metrics_json TEXT NOT NULL,
  pdm_version TEXT NOT NULL,
  git_commit TEXT NOT NULL,
  actor TEXT NOT NULL,
  description TEXT NOT NULL,
  PRIMARY KEY (name, version));
CREATE TABLE model_aliases (
  name {KEY} NOT NULL,
  alias {KEY} NOT NULL,
  version BIGINT NOT NULL,
  updated_us BIGINT NOT NULL,
  PRIMARY KEY (name, alias),
  FOREIGN KEY (name, version) REFERENCES model_versions (name, version));
CREATE TABLE audit_log (
  id {ID},
  time_us BIGINT NOT NULL,
  name {KEY} NOT NULL,
  action TEXT NOT NULL,
  alias {KEY} NOT NULL,
  from_version BIGINT,
  to_version BIGINT,
  reason TEXT NOT NULL,
  actor TEXT NOT NULL);
CREATE INDEX audit_log_by_name ON audit_log (name, id);
CREATE TABLE telemetry (
  machine {KEY} NOT NULL,
  time_us BIGINT NOT NULL,
  sensor {KEY} NOT NULL,
  value DOUBLE PRECISION NOT NULL);
CREATE INDEX telemetry_by_machine_time ON telemetry (machine, time_us);
CREATE TABLE predictions (
  machine {KEY} NOT NULL,
  time_us BIGINT NOT NULL,
  model {KEY} NOT NULL,
  version BIGINT NOT NULL,
  score DOUBLE PRECISION NOT NULL,
  alarm BIGINT NOT NULL);
CREATE INDEX predictions_by_machine_time ON predictions (machine, time_us);
CREATE TABLE alerts (
  id {ID},
  machine {KEY} NOT NULL,
  time_us BIGINT NOT NULL,
  severity TEXT NOT NULL,
  kind TEXT NOT NULL,
  message TEXT NOT NULL);
CREATE INDEX alerts_by_machine_time ON alerts (machine, time_us);
)sql",
     R"sql(
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
  BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
  BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
CREATE TRIGGER model_versions_immutable BEFORE UPDATE ON model_versions
  BEGIN SELECT RAISE(ABORT, 'model versions are immutable'); END;
)sql",
     R"sql(
CREATE FUNCTION pdm_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
  BEGIN RAISE EXCEPTION '% is append-only or immutable', TG_TABLE_NAME; END $$;
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
  FOR EACH ROW EXECUTE FUNCTION pdm_refuse_change();
CREATE TRIGGER model_versions_immutable BEFORE UPDATE ON model_versions
  FOR EACH ROW EXECUTE FUNCTION pdm_refuse_change();
)sql"},
    {2, "alert lifecycle, history and notification outbox",
     R"sql(
ALTER TABLE alerts ADD COLUMN failure_mode {KEY} NOT NULL DEFAULT '';
ALTER TABLE alerts ADD COLUMN state TEXT NOT NULL DEFAULT 'open';
ALTER TABLE alerts ADD COLUMN score DOUBLE PRECISION;
ALTER TABLE alerts ADD COLUMN model TEXT NOT NULL DEFAULT '';
ALTER TABLE alerts ADD COLUMN version BIGINT NOT NULL DEFAULT 0;
ALTER TABLE alerts ADD COLUMN opened_us BIGINT NOT NULL DEFAULT 0;
ALTER TABLE alerts ADD COLUMN updated_us BIGINT NOT NULL DEFAULT 0;
ALTER TABLE alerts ADD COLUMN acknowledged_by TEXT NOT NULL DEFAULT '';
ALTER TABLE alerts ADD COLUMN acknowledged_us BIGINT;
ALTER TABLE alerts ADD COLUMN resolution TEXT NOT NULL DEFAULT '';
ALTER TABLE alerts ADD COLUMN resolved_by TEXT NOT NULL DEFAULT '';
ALTER TABLE alerts ADD COLUMN resolved_us BIGINT;
ALTER TABLE alerts ADD COLUMN note TEXT NOT NULL DEFAULT '';
UPDATE alerts SET state = 'resolved', opened_us = time_us, updated_us = time_us;
CREATE UNIQUE INDEX alerts_one_active ON alerts (machine, kind, failure_mode)
  WHERE state <> 'resolved';
CREATE INDEX alerts_by_state ON alerts (state, id);
CREATE TABLE alert_history (
  id {ID},
  alert_id BIGINT NOT NULL,
  time_us BIGINT NOT NULL,
  event TEXT NOT NULL,
  state TEXT NOT NULL,
  severity TEXT NOT NULL,
  actor TEXT NOT NULL,
  resolution TEXT NOT NULL,
  note TEXT NOT NULL);
CREATE INDEX alert_history_by_alert ON alert_history (alert_id, id);
CREATE TABLE alert_notifications (
  id {ID},
  alert_id BIGINT NOT NULL,
  history_id BIGINT NOT NULL,
  target TEXT NOT NULL,
  event TEXT NOT NULL,
  idempotency_key TEXT NOT NULL,
  state TEXT NOT NULL,
  attempts BIGINT NOT NULL,
  next_attempt_us BIGINT NOT NULL,
  last_error TEXT NOT NULL,
  created_us BIGINT NOT NULL,
  updated_us BIGINT NOT NULL,
  UNIQUE (target, idempotency_key));
CREATE INDEX alert_notifications_due ON alert_notifications (state, next_attempt_us);
)sql",
     R"sql(
CREATE TRIGGER alert_history_no_update BEFORE UPDATE ON alert_history
  BEGIN SELECT RAISE(ABORT, 'alert_history is append-only'); END;
CREATE TRIGGER alert_history_no_delete BEFORE DELETE ON alert_history
  BEGIN SELECT RAISE(ABORT, 'alert_history is append-only'); END;
)sql",
     R"sql(
CREATE TRIGGER alert_history_append_only BEFORE UPDATE OR DELETE ON alert_history
  FOR EACH ROW EXECUTE FUNCTION pdm_refuse_change();
)sql"},
    {3, "machine states handed over between replicas",
     R"sql(
CREATE TABLE machine_states (
  machine {KEY} PRIMARY KEY,
  pipeline_hash TEXT NOT NULL,
  last_time DOUBLE PRECISION NOT NULL,
  state TEXT NOT NULL,
  owner TEXT NOT NULL,
  updated_us BIGINT NOT NULL);
)sql",
     "", ""},
    {4, "pipeline runs",
     R"sql(
CREATE TABLE pipeline_runs (
  id {KEY} PRIMARY KEY,
  pipeline {KEY} NOT NULL,
  state TEXT NOT NULL,
  record TEXT NOT NULL,
  created_us BIGINT NOT NULL,
  updated_us BIGINT NOT NULL);
CREATE INDEX pipeline_runs_by_pipeline ON pipeline_runs (pipeline, created_us);
)sql",
     "", ""},
    {5, "events received with telemetry",
     R"sql(
CREATE TABLE events (
  machine {KEY} NOT NULL,
  time_us BIGINT NOT NULL,
  type {KEY} NOT NULL,
  kind {KEY} NOT NULL);
CREATE INDEX events_by_time ON events (time_us);
)sql",
     "", ""},
};
static_assert(std::size(kMigrations) == kSchemaVersion, "one migration per schema version");

std::string MigrationSql(const Migration& m, std::string_view dialect) {
  std::string sql = m.common;
  const std::string_view id = dialect == "sqlite"
                                  ? "INTEGER PRIMARY KEY AUTOINCREMENT"
                                  : "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY";
  const std::string_view key = dialect == "sqlite" ? "TEXT" : "TEXT COLLATE \"C\"";
  for (const auto& [placeholder, text] :
       {std::pair{std::string_view("{ID}"), id}, std::pair{std::string_view("{KEY}"), key}}) {
    for (size_t at = sql.find(placeholder); at != std::string::npos;
         at = sql.find(placeholder, at)) {
      sql.replace(at, placeholder.size(), text);
    }
  }
  sql += dialect == "sqlite" ? m.sqlite : m.postgres;
  return sql;
}

int64_t Int(const SqlValue& v) {
  if (const auto* i = std::get_if<int64_t>(&v)) return *i;
  if (const auto* d = std::get_if<double>(&v)) return static_cast<int64_t>(*d);
  return 0;
}
std::optional<int64_t> OptionalInt(const SqlValue& v) {
  if (std::holds_alternative<std::monostate>(v)) return std::nullopt;
  return Int(v);
}
std::optional<double> OptionalReal(const SqlValue& v) {
  if (std::holds_alternative<std::monostate>(v)) return std::nullopt;
  if (const auto* d = std::get_if<double>(&v)) return *d;
  return static_cast<double>(Int(v));
}
double Real(const SqlValue& v) {
  if (const auto* d = std::get_if<double>(&v)) return *d;
  return static_cast<double>(Int(v));
}
std::string Text(const SqlValue& v) {
  if (const auto* s = std::get_if<std::string>(&v)) return *s;
  return {};
}
SqlValue Nullable(const std::optional<int64_t>& v) {
  return v ? SqlValue(*v) : SqlValue(std::monostate{});
}
SqlValue Nullable(const std::optional<double>& v) {
  return v ? SqlValue(*v) : SqlValue(std::monostate{});
}

constexpr const char* kAlertColumns =
    "id, machine, time_us, severity, kind, failure_mode, message, score, model, version, state, "
    "opened_us, updated_us, acknowledged_by, acknowledged_us, resolution, resolved_by, "
    "resolved_us, note";

AlertRow AlertFromRow(const SqlRow& r) {
  AlertRow a;
  a.id = Int(r[0]);
  a.machine = Text(r[1]);
  a.time_us = Int(r[2]);
  a.severity = Text(r[3]);
  a.kind = Text(r[4]);
  a.failure_mode = Text(r[5]);
  a.message = Text(r[6]);
  a.score = OptionalReal(r[7]);
  a.model = Text(r[8]);
  a.version = Int(r[9]);
  a.state = Text(r[10]);
  a.opened_us = Int(r[11]);
  a.updated_us = Int(r[12]);
  a.acknowledged_by = Text(r[13]);
  a.acknowledged_us = OptionalInt(r[14]);
  a.resolution = Text(r[15]);
  a.resolved_by = Text(r[16]);
  a.resolved_us = OptionalInt(r[17]);
  a.note = Text(r[18]);
  return a;
}

constexpr const char* kNotificationColumns =
    "id, alert_id, history_id, target, event, idempotency_key, state, attempts, "
    "next_attempt_us, last_error, created_us, updated_us";

NotificationRow NotificationFromRow(const SqlRow& r) {
  NotificationRow n;
  n.id = Int(r[0]);
  n.alert_id = Int(r[1]);
  n.history_id = Int(r[2]);
  n.target = Text(r[3]);
  n.event = Text(r[4]);
  n.idempotency_key = Text(r[5]);
  n.state = Text(r[6]);
  n.attempts = Int(r[7]);
  n.next_attempt_us = Int(r[8]);
  n.last_error = Text(r[9]);
  n.created_us = Int(r[10]);
  n.updated_us = Int(r[11]);
  return n;
}

int SeverityRank(std::string_view severity) {
  if (severity == "critical") return 2;
  if (severity == "warning") return 1;
  return 0;
}

constexpr const char* kVersionColumns =
    "name, version, created_us, artifact_hash, artifact_path, feature_spec_hash, "
    "dataset_fingerprint, spec_yaml, params_json, seed, metrics_json, pdm_version, git_commit, "
    "actor, description";

ModelVersion VersionFromRow(const SqlRow& r) {
  ModelVersion v;
  v.name = Text(r[0]);
  v.version = Int(r[1]);
  v.created_us = Int(r[2]);
  v.artifact_hash = Text(r[3]);
  v.artifact_path = Text(r[4]);
  v.feature_spec_hash = Text(r[5]);
  v.dataset_fingerprint = Text(r[6]);
  v.spec_yaml = Text(r[7]);
  v.params_json = Text(r[8]);
  v.seed = Int(r[9]);
  v.metrics_json = Text(r[10]);
  v.pdm_version = Text(r[11]);
  v.git_commit = Text(r[12]);
  v.actor = Text(r[13]);
  v.description = Text(r[14]);
  return v;
}

class SqlStore final : public Store {
 public:
  explicit SqlStore(std::unique_ptr<SqlConnection> connection)
      : sql_(std::move(connection)), dialect_(sql_->dialect()) {}

  std::string_view backend() const override { return dialect_; }

  absl::Status Migrate() {
    std::lock_guard lock(mu_);
    return InTransaction(
        *sql_, [&] { return sql_->BeginExclusive(kRegistryLock); },
        [&]() -> absl::Status {
          PDM_RETURN_IF_ERROR(sql_->ExecuteScript(
              "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, "
              "applied_us BIGINT NOT NULL, description TEXT NOT NULL)"));
          PDM_ASSIGN_OR_RETURN(const int current, CurrentSchema());
          if (current > kSchemaVersion) {
            return absl::FailedPreconditionError(core::StrCat(
                "the database's schema is version ", current, ", newer than this pdm knows (",
                kSchemaVersion, "): upgrade pdm, or use a store this version created"));
          }
          for (const Migration& m : kMigrations) {
            if (m.version <= current) continue;
            PDM_RETURN_IF_ERROR(sql_->ExecuteScript(MigrationSql(m, dialect_)));
            const SqlValue params[] = {int64_t{m.version}, NowMicros(), std::string(m.description)};
            PDM_RETURN_IF_ERROR(
                sql_->Query("INSERT INTO schema_migrations (version, applied_us, description) "
                            "VALUES ($1, $2, $3)",
                            params)
                    .status());
          }
          return absl::OkStatus();
        });
  }

  absl::StatusOr<int> SchemaVersion() override {
    std::lock_guard lock(mu_);
    return CurrentSchema();
  }

  absl::StatusOr<int64_t> RegisterModelVersion(const ModelVersion& v,
                                               std::string_view reason) override {
    std::lock_guard lock(mu_);
    int64_t assigned = 0;
    PDM_RETURN_IF_ERROR(InTransaction(
        *sql_, [&] { return sql_->BeginExclusive(kRegistryLock); },
        [&]() -> absl::Status {
          // Numbers are never reused, even after a delete: the audit log remembers them all.
          const SqlValue name = v.name;
          PDM_ASSIGN_OR_RETURN(auto rows,
                               sql_->Query("SELECT COALESCE(MAX(to_version), 0) FROM audit_log "
                                           "WHERE name = $1 AND action = 'register'",
                                           {&name, 1}));
          assigned = Int(rows[0][0]) + 1;
          const int64_t now = v.created_us != 0 ? v.created_us : NowMicros();
          const SqlValue params[] = {v.name,
                                     assigned,
                                     now,
                                     v.artifact_hash,
                                     v.artifact_path,
                                     v.feature_spec_hash,
                                     v.dataset_fingerprint,
                                     v.spec_yaml,
                                     v.params_json,
                                     v.seed,
                                     v.metrics_json,
                                     v.pdm_version,
                                     v.git_commit,
                                     v.actor,
                                     v.description};
          PDM_RETURN_IF_ERROR(
              sql_->Query(core::StrCat("INSERT INTO model_versions (", kVersionColumns,
                                       ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, "
                                       "$12, $13, $14, $15)"),
                          params)
                  .status());
          return AppendAudit(now, v.name, "register", "", std::nullopt, assigned, reason, v.actor);
        }));
    return assigned;
  }

  absl::StatusOr<std::optional<ModelVersion>> GetModelVersion(std::string_view name,
                                                              int64_t version) override {
    std::lock_guard lock(mu_);
    const SqlValue params[] = {std::string(name), version};
    PDM_ASSIGN_OR_RETURN(auto rows, sql_->Query(core::StrCat("SELECT ", kVersionColumns,
                                                             " FROM model_versions WHERE name = "
                                                             "$1 AND version = $2"),
                                                params));
    if (rows.empty()) return std::optional<ModelVersion>();
    return std::optional<ModelVersion>(VersionFromRow(rows[0]));
  }

  absl::StatusOr<std::vector<ModelVersion>> ListModelVersions(std::string_view name) override {
    std::lock_guard lock(mu_);
    const SqlValue param = std::string(name);
    PDM_ASSIGN_OR_RETURN(auto rows,
                         sql_->Query(core::StrCat("SELECT ", kVersionColumns,
                                                  " FROM model_versions WHERE $1 = '' OR name = $1 "
                                                  "ORDER BY name, version"),
                                     {&param, 1}));
    std::vector<ModelVersion> versions;
    versions.reserve(rows.size());
    for (const SqlRow& r : rows) versions.push_back(VersionFromRow(r));
    return versions;
  }

  absl::StatusOr<std::map<std::string, int64_t>> Aliases(std::string_view name) override {
    std::lock_guard lock(mu_);
    const SqlValue param = std::string(name);
    PDM_ASSIGN_OR_RETURN(
        auto rows,
        sql_->Query("SELECT alias, version FROM model_aliases WHERE name = $1", {&param, 1}));
    std::map<std::string, int64_t> aliases;
    for (const SqlRow& r : rows) aliases[Text(r[0])] = Int(r[1]);
    return aliases;
  }

  absl::Status MoveAlias(const AliasMove& move) override {
    std::lock_guard lock(mu_);
    return InTransaction(
        *sql_, [&] { return sql_->BeginExclusive(kRegistryLock); },
        [&]() -> absl::Status {
          const SqlValue version_key[] = {move.name, move.to_version};
          PDM_ASSIGN_OR_RETURN(auto exists,
                               sql_->Query("SELECT 1 FROM model_versions WHERE name = $1 AND "
                                           "version = $2",
                                           version_key));
          if (exists.empty()) {
            return absl::NotFoundError(
                core::StrCat("model '", move.name, "' has no version ", move.to_version));
          }
          const SqlValue alias_key[] = {move.name, move.alias};
          PDM_ASSIGN_OR_RETURN(auto held,
                               sql_->Query("SELECT version FROM model_aliases WHERE name = $1 "
                                           "AND alias = $2",
                                           alias_key));
          std::optional<int64_t> current;
          if (!held.empty()) current = Int(held[0][0]);
          if (move.expected_from && *move.expected_from != current) {
            return absl::FailedPreconditionError(
                core::StrCat("alias '", move.alias, "' of '", move.name, "' moved meanwhile (now ",
                             current ? core::StrCat("version ", *current) : std::string("unset"),
                             "): nothing changed, try again"));
          }
          if (current == move.to_version) return absl::OkStatus();
          const int64_t now = NowMicros();
          const SqlValue upsert[] = {move.name, move.alias, move.to_version, now};
          PDM_RETURN_IF_ERROR(
              sql_->Query("INSERT INTO model_aliases (name, alias, version, updated_us) VALUES "
                          "($1, $2, $3, $4) ON CONFLICT (name, alias) DO UPDATE SET version = "
                          "excluded.version, updated_us = excluded.updated_us",
                          upsert)
                  .status());
          return AppendAudit(now, move.name, move.action, move.alias, current, move.to_version,
                             move.reason, move.actor);
        });
  }

  absl::Status DeleteModelVersion(std::string_view name, int64_t version, std::string_view actor,
                                  std::string_view reason) override {
    std::lock_guard lock(mu_);
    return InTransaction(
        *sql_, [&] { return sql_->BeginExclusive(kRegistryLock); },
        [&]() -> absl::Status {
          const SqlValue key[] = {std::string(name), version};
          PDM_ASSIGN_OR_RETURN(
              auto exists,
              sql_->Query("SELECT 1 FROM model_versions WHERE name = $1 AND version = $2", key));
          if (exists.empty()) {
            return absl::NotFoundError(core::StrCat("model '", name, "' has no version ", version));
          }
          PDM_ASSIGN_OR_RETURN(
              auto holders,
              sql_->Query("SELECT alias FROM model_aliases WHERE name = $1 AND version = $2 "
                          "ORDER BY alias",
                          key));
          if (!holders.empty()) {
            std::string aliases;
            for (const SqlRow& r : holders) {
              aliases += core::StrCat(aliases.empty() ? "" : ", ", Text(r[0]));
            }
            return absl::FailedPreconditionError(
                core::StrCat("version ", version, " of '", name, "' holds alias ", aliases,
                             ": move the alias first (pdm models promote or rollback)"));
          }
          PDM_RETURN_IF_ERROR(
              sql_->Query("DELETE FROM model_versions WHERE name = $1 AND version = $2", key)
                  .status());
          return AppendAudit(NowMicros(), std::string(name), "delete", "", version, std::nullopt,
                             reason, actor);
        });
  }

  absl::StatusOr<std::vector<AuditEvent>> AuditLog(std::string_view name) override {
    std::lock_guard lock(mu_);
    const SqlValue param = std::string(name);
    PDM_ASSIGN_OR_RETURN(
        auto rows,
        sql_->Query("SELECT id, time_us, name, action, alias, from_version, to_version, reason, "
                    "actor FROM audit_log WHERE $1 = '' OR name = $1 ORDER BY id",
                    {&param, 1}));
    std::vector<AuditEvent> events;
    events.reserve(rows.size());
    for (const SqlRow& r : rows) {
      events.push_back(AuditEvent{Int(r[0]), Int(r[1]), Text(r[2]), Text(r[3]), Text(r[4]),
                                  OptionalInt(r[5]), OptionalInt(r[6]), Text(r[7]), Text(r[8])});
    }
    return events;
  }

  absl::Status AppendTelemetry(std::span<const TelemetryRow> rows) override {
    static constexpr SqlColumn kColumns[] = {{"machine", "TEXT"},
                                             {"time_us", "BIGINT"},
                                             {"sensor", "TEXT"},
                                             {"value", "DOUBLE PRECISION"}};
    return Bulk("telemetry", kColumns, rows.size(), [&](size_t i, SqlRow* row) {
      const TelemetryRow& t = rows[i];
      (*row)[0] = t.machine;
      (*row)[1] = t.time_us;
      (*row)[2] = t.sensor;
      (*row)[3] = t.value;
    });
  }

  absl::StatusOr<std::vector<TelemetryRow>> RecentTelemetry(std::string_view machine,
                                                            int limit) override {
    std::lock_guard lock(mu_);
    const SqlValue params[] = {std::string(machine), int64_t{limit}};
    PDM_ASSIGN_OR_RETURN(auto rows, sql_->Query("SELECT machine, time_us, sensor, value FROM "
                                                "telemetry WHERE machine = $1 ORDER BY time_us "
                                                "DESC, sensor LIMIT $2",
                                                params));
    std::vector<TelemetryRow> out;
    out.reserve(rows.size());
    for (const SqlRow& r : rows) out.push_back({Text(r[0]), Int(r[1]), Text(r[2]), Real(r[3])});
    return out;
  }

  absl::StatusOr<std::vector<std::string>> TelemetryMachines(int64_t from_us,
                                                             int64_t to_us) override {
    std::lock_guard lock(mu_);
    const SqlValue params[] = {from_us, to_us};
    PDM_ASSIGN_OR_RETURN(auto rows, sql_->Query("SELECT DISTINCT machine FROM telemetry WHERE "
                                                "time_us >= $1 AND time_us < $2 ORDER BY machine",
                                                params));
    std::vector<std::string> out;
    out.reserve(rows.size());
    for (const SqlRow& r : rows) out.push_back(Text(r[0]));
    return out;
  }

  absl::StatusOr<std::vector<TelemetryRow>> MachineTelemetry(std::string_view machine,
                                                             int64_t from_us,
                                                             int64_t to_us) override {
    std::lock_guard lock(mu_);
    const SqlValue params[] = {std::string(machine), from_us, to_us};
    PDM_ASSIGN_OR_RETURN(auto rows, sql_->Query("SELECT machine, time_us, sensor, value FROM "
                                                "telemetry WHERE machine = $1 AND time_us >= $2 "
                                                "AND time_us < $3 ORDER BY time_us, sensor",
                                                params));
    std::vector<TelemetryRow> out;
    out.reserve(rows.size());
    for (const SqlRow& r : rows) out.push_back({Text(r[0]), Int(r[1]), Text(r[2]), Real(r[3])});
    return out;
  }

  absl::Status AppendEvents(std::span<const EventRow> rows) override {
    static constexpr SqlColumn kColumns[] = {
        {"machine", "TEXT"}, {"time_us", "BIGINT"}, {"type", "TEXT"}, {"kind", "TEXT"}};
    return Bulk("events", kColumns, rows.size(), [&](size_t i, SqlRow* row) {
      const EventRow& e = rows[i];
      (*row)[0] = e.machine;
      (*row)[1] = e.time_us;
      (*row)[2] = e.type;
      (*row)[3] = e.kind;
    });
  }

  absl::StatusOr<std::vector<EventRow>> ListEvents(int64_t from_us, int64_t to_us) override {
    std::lock_guard lock(mu_);
    const SqlValue params[] = {from_us, to_us};
    PDM_ASSIGN_OR_RETURN(auto rows,
                         sql_->Query("SELECT machine, time_us, type, kind FROM events WHERE "
                                     "time_us >= $1 AND time_us < $2 ORDER BY machine, time_us, "
                                     "type, kind",
                                     params));
    std::vector<EventRow> out;
    out.reserve(rows.size());
    for (const SqlRow& r : rows) out.push_back({Text(r[0]), Int(r[1]), Text(r[2]), Text(r[3])});
    return out;
  }

  absl::Status PutMachineStates(std::span<const MachineStateRow> rows) override {
    std::lock_guard lock(mu_);
    const int64_t now = NowMicros();
    return InTransaction(
        *sql_, [&] { return sql_->Begin(); },
        [&]() -> absl::Status {
          for (const MachineStateRow& r : rows) {
            // The state is binary; TEXT holds it as base64 on both backends.
            const SqlValue params[] = {
                r.machine, r.pipeline_hash, r.last_time, absl::Base64Escape(r.state), r.owner, now};
            PDM_RETURN_IF_ERROR(
                sql_->Query("INSERT INTO machine_states (machine, pipeline_hash, last_time, state, "
                            "owner, updated_us) VALUES ($1, $2, $3, $4, $5, $6) "
                            "ON CONFLICT (machine) DO UPDATE SET pipeline_hash = "
                            "excluded.pipeline_hash, last_time = excluded.last_time, state = "
                            "excluded.state, owner = excluded.owner, updated_us = "
                            "excluded.updated_us WHERE excluded.last_time >= "
                            "machine_states.last_time",
                            params)
                    .status());
          }
          return absl::OkStatus();
        });
  }

  absl::StatusOr<std::optional<MachineStateRow>> GetMachineState(
      std::string_view machine) override {
    std::lock_guard lock(mu_);
    const SqlValue params[] = {std::string(machine)};
    PDM_ASSIGN_OR_RETURN(auto rows,
                         sql_->Query("SELECT machine, pipeline_hash, last_time, state, owner, "
                                     "updated_us FROM machine_states WHERE machine = $1",
                                     params));
    if (rows.empty()) return std::nullopt;
    const SqlRow& r = rows[0];
    MachineStateRow out{Text(r[0]), Text(r[1]), Real(r[2]), "", Text(r[4]), Int(r[5])};
    if (!absl::Base64Unescape(Text(r[3]), &out.state)) {
      return absl::DataLossError(
          core::StrCat("machine_states: the state of '", machine, "' is not base64"));
    }
    return out;
  }

  absl::Status PutPipelineRun(const PipelineRunRow& row) override {
    std::lock_guard lock(mu_);
    const int64_t now = NowMicros();
    const SqlValue params[] = {row.id, row.pipeline, row.state, row.record, now};
    return sql_
        ->Query(
            "INSERT INTO pipeline_runs (id, pipeline, state, record, created_us, updated_us) "
            "VALUES ($1, $2, $3, $4, $5, $5) ON CONFLICT (id) DO UPDATE SET pipeline = "
            "excluded.pipeline, state = excluded.state, record = excluded.record, "
            "updated_us = excluded.updated_us",
            params)
        .status();
  }

  absl::StatusOr<std::optional<PipelineRunRow>> GetPipelineRun(std::string_view id) override {
    std::lock_guard lock(mu_);
    const SqlValue params[] = {std::string(id)};
    PDM_ASSIGN_OR_RETURN(auto rows,
                         sql_->Query("SELECT id, pipeline, state, record, created_us, updated_us "
                                     "FROM pipeline_runs WHERE id = $1",
                                     params));
    if (rows.empty()) return std::nullopt;
    return PipelineRunOf(rows[0]);
  }

  absl::StatusOr<std::vector<PipelineRunRow>> ListPipelineRuns(std::string_view pipeline,
                                                               int limit) override {
    std::lock_guard lock(mu_);
    const SqlValue params[] = {std::string(pipeline), int64_t{limit}};
    PDM_ASSIGN_OR_RETURN(auto rows,
                         sql_->Query("SELECT id, pipeline, state, record, created_us, updated_us "
                                     "FROM pipeline_runs WHERE ($1 = '' OR pipeline = $1) ORDER "
                                     "BY created_us DESC, id LIMIT $2",
                                     params));
    std::vector<PipelineRunRow> out;
    out.reserve(rows.size());
    for (const SqlRow& r : rows) out.push_back(PipelineRunOf(r));
    return out;
  }

  // A row of "SELECT id, pipeline, state, record, created_us, updated_us FROM pipeline_runs".
  static PipelineRunRow PipelineRunOf(const SqlRow& r) {
    return {Text(r[0]), Text(r[1]), Text(r[2]), Text(r[3]), Int(r[4]), Int(r[5])};
  }

  absl::StatusOr<int64_t> CountTelemetry() override {
    std::lock_guard lock(mu_);
    PDM_ASSIGN_OR_RETURN(auto rows, sql_->Query("SELECT COUNT(*) FROM telemetry", {}));
    return Int(rows[0][0]);
  }

  absl::Status AppendPredictions(std::span<const PredictionRow> rows) override {
    static constexpr SqlColumn kColumns[] = {
        {"machine", "TEXT"},   {"time_us", "BIGINT"},         {"model", "TEXT"},
        {"version", "BIGINT"}, {"score", "DOUBLE PRECISION"}, {"alarm", "BIGINT"}};
    return Bulk("predictions", kColumns, rows.size(), [&](size_t i, SqlRow* row) {
      const PredictionRow& p = rows[i];
      (*row)[0] = p.machine;
      (*row)[1] = p.time_us;
      (*row)[2] = p.model;
      (*row)[3] = p.version;
      (*row)[4] = p.score;
      (*row)[5] = int64_t{p.alarm ? 1 : 0};
    });
  }

  absl::StatusOr<std::vector<PredictionRow>> RecentPredictions(std::string_view machine,
                                                               int limit) override {
    std::lock_guard lock(mu_);
    const SqlValue params[] = {std::string(machine), int64_t{limit}};
    PDM_ASSIGN_OR_RETURN(auto rows,
                         sql_->Query("SELECT machine, time_us, model, version, score, alarm FROM "
                                     "predictions WHERE machine = $1 ORDER BY time_us DESC "
                                     "LIMIT $2",
                                     params));
    std::vector<PredictionRow> out;
    out.reserve(rows.size());
    for (const SqlRow& r : rows) {
      out.push_back({Text(r[0]), Int(r[1]), Text(r[2]), Int(r[3]), Real(r[4]), Int(r[5]) != 0});
    }
    return out;
  }

  absl::StatusOr<OpenedAlert> OpenAlert(const AlertRow& alert,
                                        std::span<const std::string> notify) override {
    std::lock_guard lock(mu_);
    OpenedAlert result;
    PDM_RETURN_IF_ERROR(InTransaction(
        *sql_, [&] { return sql_->BeginExclusive(kAlertLock); },
        [&]() -> absl::Status {
          const SqlValue key[] = {alert.machine, alert.kind, alert.failure_mode};
          PDM_ASSIGN_OR_RETURN(
              auto active,
              sql_->Query(core::StrCat("SELECT ", kAlertColumns,
                                       " FROM alerts WHERE machine = $1 AND kind = $2 AND "
                                       "failure_mode = $3 AND state <> 'resolved'"),
                          key));
          if (!active.empty()) {
            result.alert = AlertFromRow(active[0]);
            return absl::OkStatus();
          }
          AlertRow a = alert;
          a.state = "open";
          a.opened_us = alert.opened_us != 0 ? alert.opened_us : NowMicros();
          a.updated_us = a.opened_us;
          a.acknowledged_by.clear();
          a.acknowledged_us.reset();
          a.resolution.clear();
          a.resolved_by.clear();
          a.resolved_us.reset();
          const SqlValue params[] = {a.machine,      a.time_us, a.severity,        a.kind,
                                     a.failure_mode, a.message, Nullable(a.score), a.model,
                                     a.version,      a.state,   a.opened_us,       a.updated_us,
                                     a.note};
          PDM_ASSIGN_OR_RETURN(
              auto inserted,
              sql_->Query("INSERT INTO alerts (machine, time_us, severity, kind, failure_mode, "
                          "message, score, model, version, state, opened_us, updated_us, note) "
                          "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) "
                          "RETURNING id",
                          params));
          a.id = Int(inserted[0][0]);
          PDM_RETURN_IF_ERROR(AppendAlertEvent(a, "opened", "pdm", "", a.note, notify));
          result.alert = std::move(a);
          result.opened = true;
          return absl::OkStatus();
        }));
    return result;
  }

  absl::StatusOr<std::optional<AlertRow>> GetAlert(int64_t id) override {
    std::lock_guard lock(mu_);
    return FindAlert(id);
  }

  absl::StatusOr<std::vector<AlertRow>> ListAlerts(const AlertFilter& filter) override {
    std::lock_guard lock(mu_);
    const SqlValue params[] = {filter.state, filter.machine, filter.kind, filter.before_id,
                               int64_t{filter.limit}};
    PDM_ASSIGN_OR_RETURN(
        auto rows,
        sql_->Query(core::StrCat("SELECT ", kAlertColumns,
                                 " FROM alerts WHERE ($1 = '' OR state = $1 OR ($1 = 'active' "
                                 "AND state <> 'resolved')) AND ($2 = '' OR machine = $2) AND "
                                 "($3 = '' OR kind = $3) AND ($4 = 0 OR id < $4) ORDER BY id "
                                 "DESC LIMIT $5"),
                    params));
    std::vector<AlertRow> out;
    out.reserve(rows.size());
    for (const SqlRow& r : rows) out.push_back(AlertFromRow(r));
    return out;
  }

  absl::StatusOr<std::vector<AlertHistoryRow>> AlertHistory(int64_t id) override {
    std::lock_guard lock(mu_);
    const SqlValue param = id;
    PDM_ASSIGN_OR_RETURN(auto rows,
                         sql_->Query("SELECT id, alert_id, time_us, event, state, severity, "
                                     "actor, resolution, note FROM alert_history WHERE "
                                     "alert_id = $1 ORDER BY id",
                                     {&param, 1}));
    std::vector<AlertHistoryRow> out;
    out.reserve(rows.size());
    for (const SqlRow& r : rows) {
      out.push_back({Int(r[0]), Int(r[1]), Int(r[2]), Text(r[3]), Text(r[4]), Text(r[5]),
                     Text(r[6]), Text(r[7]), Text(r[8])});
    }
    return out;
  }

  absl::StatusOr<AlertRow> TransitionAlert(int64_t id, const AlertTransition& t,
                                           std::span<const std::string> notify) override {
    if (t.event != "acknowledged" && t.event != "resolved" && t.event != "escalated") {
      return absl::InvalidArgumentError(
          core::StrCat("unknown alert event '", t.event, "' (acknowledged, resolved, escalated)"));
    }
    if (t.event == "resolved" && t.resolution != kDriftEnded &&
        std::find(std::begin(kResolutions), std::end(kResolutions), t.resolution) ==
            std::end(kResolutions)) {
      return absl::InvalidArgumentError(
          core::StrCat("resolution '", t.resolution,
                       "': expected failure_confirmed, no_fault_found or maintenance_done"));
    }
    if (t.event == "escalated" && SeverityRank(t.severity) == 0) {
      return absl::InvalidArgumentError(
          core::StrCat("severity '", t.severity, "': expected warning or critical"));
    }
    std::lock_guard lock(mu_);
    AlertRow a;
    PDM_RETURN_IF_ERROR(InTransaction(
        *sql_, [&] { return sql_->BeginExclusive(kAlertLock); },
        [&]() -> absl::Status {
          PDM_ASSIGN_OR_RETURN(std::optional<AlertRow> found, FindAlert(id));
          if (!found) return absl::NotFoundError(core::StrCat("no alert ", id));
          a = std::move(*found);
          if (t.event == "resolved" && t.resolution == kDriftEnded && a.kind != "drift") {
            return absl::InvalidArgumentError(core::StrCat("resolution '", kDriftEnded,
                                                           "' is for drift alerts; alert ", id,
                                                           " is a ", a.kind, " alert"));
          }
          if (a.state == "resolved") {
            return absl::FailedPreconditionError(core::StrCat("alert ", id, " is resolved (",
                                                              a.resolution, " by ", a.resolved_by,
                                                              "): it takes no more actions"));
          }
          const int64_t now = NowMicros();
          if (t.event == "acknowledged") {
            if (a.state == "acknowledged") {
              return absl::FailedPreconditionError(
                  core::StrCat("alert ", id, " is already acknowledged by ", a.acknowledged_by));
            }
            a.state = "acknowledged";
            a.acknowledged_by = t.actor;
            a.acknowledged_us = now;
          } else if (t.event == "resolved") {
            a.state = "resolved";
            a.resolution = t.resolution;
            a.resolved_by = t.actor;
            a.resolved_us = now;
          } else {
            if (SeverityRank(t.severity) <= SeverityRank(a.severity)) {
              return absl::FailedPreconditionError(core::StrCat(
                  "alert ", id, " is already ", a.severity, ": escalation only raises severity"));
            }
            a.severity = t.severity;
          }
          if (!t.note.empty()) a.note = t.note;
          a.updated_us = now;
          const SqlValue params[] = {a.state,
                                     a.severity,
                                     a.updated_us,
                                     a.acknowledged_by,
                                     Nullable(a.acknowledged_us),
                                     a.resolution,
                                     a.resolved_by,
                                     Nullable(a.resolved_us),
                                     a.note,
                                     a.id};
          PDM_RETURN_IF_ERROR(
              sql_->Query("UPDATE alerts SET state = $1, severity = $2, updated_us = $3, "
                          "acknowledged_by = $4, acknowledged_us = $5, resolution = $6, "
                          "resolved_by = $7, resolved_us = $8, note = $9 WHERE id = $10",
                          params)
                  .status());
          return AppendAlertEvent(a, t.event, t.actor, t.resolution, t.note, notify);
        }));
    return a;
  }

  absl::StatusOr<std::map<std::string, int64_t>> CountActiveAlerts() override {
    std::lock_guard lock(mu_);
    PDM_ASSIGN_OR_RETURN(auto rows, sql_->Query("SELECT severity, COUNT(*) FROM alerts WHERE "
                                                "state <> 'resolved' GROUP BY severity",
                                                {}));
    std::map<std::string, int64_t> counts;
    for (const SqlRow& r : rows) counts[Text(r[0])] = Int(r[1]);
    return counts;
  }

  absl::StatusOr<std::vector<NotificationRow>> ClaimNotifications(int64_t now_us, int64_t lease_us,
                                                                  int limit) override {
    std::lock_guard lock(mu_);
    std::vector<NotificationRow> out;
    PDM_RETURN_IF_ERROR(InTransaction(
        *sql_, [&] { return sql_->BeginExclusive(kAlertLock); },
        [&]() -> absl::Status {
          const SqlValue due[] = {now_us, int64_t{limit}};
          PDM_ASSIGN_OR_RETURN(
              auto rows,
              sql_->Query(core::StrCat("SELECT ", kNotificationColumns,
                                       " FROM alert_notifications WHERE state = 'pending' AND "
                                       "next_attempt_us <= $1 ORDER BY next_attempt_us, id "
                                       "LIMIT $2"),
                          due));
          for (const SqlRow& r : rows) {
            out.push_back(NotificationFromRow(r));
            const SqlValue lease[] = {now_us + lease_us, out.back().id};
            PDM_RETURN_IF_ERROR(
                sql_->Query("UPDATE alert_notifications SET next_attempt_us = $1 WHERE id = $2",
                            lease)
                    .status());
          }
          return absl::OkStatus();
        }));
    return out;
  }

  absl::Status FinishNotification(int64_t id, bool delivered, std::string_view error,
                                  std::optional<int64_t> retry_at_us) override {
    std::lock_guard lock(mu_);
    const std::string state = delivered ? "delivered" : retry_at_us ? "pending" : "dead";
    const SqlValue params[] = {state, std::string(error.substr(0, 1000)), retry_at_us.value_or(0),
                               NowMicros(), id};
    PDM_ASSIGN_OR_RETURN(
        auto rows,
        sql_->Query("UPDATE alert_notifications SET state = $1, attempts = attempts + 1, "
                    "last_error = $2, next_attempt_us = $3, updated_us = $4 WHERE id = $5 AND "
                    "state = 'pending' RETURNING id",
                    params));
    if (rows.empty()) {
      return absl::NotFoundError(core::StrCat("no pending notification ", id));
    }
    return absl::OkStatus();
  }

  absl::StatusOr<std::vector<NotificationRow>> ListNotifications(std::string_view state,
                                                                 int limit) override {
    std::lock_guard lock(mu_);
    const SqlValue params[] = {std::string(state), int64_t{limit}};
    PDM_ASSIGN_OR_RETURN(auto rows, sql_->Query(core::StrCat("SELECT ", kNotificationColumns,
                                                             " FROM alert_notifications WHERE "
                                                             "$1 = '' OR state = $1 ORDER BY "
                                                             "id DESC LIMIT $2"),
                                                params));
    std::vector<NotificationRow> out;
    out.reserve(rows.size());
    for (const SqlRow& r : rows) out.push_back(NotificationFromRow(r));
    return out;
  }

  absl::Status RetryNotification(int64_t id) override {
    std::lock_guard lock(mu_);
    const SqlValue params[] = {NowMicros(), id};
    PDM_ASSIGN_OR_RETURN(
        auto rows,
        sql_->Query("UPDATE alert_notifications SET state = 'pending', attempts = 0, "
                    "next_attempt_us = $1, updated_us = $1 WHERE id = $2 AND state = 'dead' "
                    "RETURNING id",
                    params));
    if (rows.empty()) return absl::NotFoundError(core::StrCat("no dead notification ", id));
    return absl::OkStatus();
  }

  absl::StatusOr<std::map<std::string, int64_t>> CountNotifications() override {
    std::lock_guard lock(mu_);
    PDM_ASSIGN_OR_RETURN(
        auto rows,
        sql_->Query("SELECT state, COUNT(*) FROM alert_notifications GROUP BY state", {}));
    std::map<std::string, int64_t> counts;
    for (const SqlRow& r : rows) counts[Text(r[0])] = Int(r[1]);
    return counts;
  }

 private:
  absl::StatusOr<std::optional<AlertRow>> FindAlert(int64_t id) {
    const SqlValue param = id;
    PDM_ASSIGN_OR_RETURN(
        auto rows, sql_->Query(core::StrCat("SELECT ", kAlertColumns, " FROM alerts WHERE id = $1"),
                               {&param, 1}));
    if (rows.empty()) return std::optional<AlertRow>();
    return std::optional<AlertRow>(AlertFromRow(rows[0]));
  }

  // The history entry of an event of `a` (already in its new state) and its notifications.
  absl::Status AppendAlertEvent(const AlertRow& a, std::string_view event, std::string_view actor,
                                std::string_view resolution, std::string_view note,
                                std::span<const std::string> notify) {
    const SqlValue entry[] = {
        a.id,       a.updated_us,       std::string(event),      a.state,
        a.severity, std::string(actor), std::string(resolution), std::string(note)};
    PDM_ASSIGN_OR_RETURN(
        auto rows,
        sql_->Query("INSERT INTO alert_history (alert_id, time_us, event, state, severity, actor, "
                    "resolution, note) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
                    entry));
    const int64_t history_id = Int(rows[0][0]);
    for (const std::string& target : notify) {
      const SqlValue outbox[] = {a.id,
                                 history_id,
                                 target,
                                 std::string(event),
                                 core::StrCat("pdm-alert-", a.id, "-", history_id),
                                 a.updated_us};
      PDM_RETURN_IF_ERROR(
          sql_->Query("INSERT INTO alert_notifications (alert_id, history_id, target, event, "
                      "idempotency_key, state, attempts, next_attempt_us, last_error, "
                      "created_us, updated_us) VALUES ($1, $2, $3, $4, $5, 'pending', 0, $6, '', "
                      "$6, $6)",
                      outbox)
              .status());
    }
    return absl::OkStatus();
  }

  absl::StatusOr<int> CurrentSchema() {
    PDM_ASSIGN_OR_RETURN(
        auto rows, sql_->Query("SELECT COALESCE(MAX(version), 0) FROM schema_migrations", {}));
    return static_cast<int>(Int(rows[0][0]));
  }

  absl::Status AppendAudit(int64_t time_us, const std::string& name, std::string_view action,
                           std::string_view alias, std::optional<int64_t> from,
                           std::optional<int64_t> to, std::string_view reason,
                           std::string_view actor) {
    const SqlValue params[] = {
        time_us,        name,         std::string(action), std::string(alias),
        Nullable(from), Nullable(to), std::string(reason), std::string(actor)};
    return sql_
        ->Query(
            "INSERT INTO audit_log (time_us, name, action, alias, from_version, to_version, "
            "reason, actor) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            params)
        .status();
  }

  absl::Status Bulk(std::string_view table, std::span<const SqlColumn> columns, size_t count,
                    const std::function<void(size_t, SqlRow*)>& fill) {
    if (count == 0) return absl::OkStatus();
    std::lock_guard lock(mu_);
    return InTransaction(
        *sql_, [&] { return sql_->Begin(); },
        [&] { return sql_->BulkInsert(table, columns, count, fill); });
  }

  std::mutex mu_;
  std::unique_ptr<SqlConnection> sql_;
  std::string dialect_;
};

}  // namespace

std::string SqliteUrl(const std::string& path) { return "sqlite://" + path; }

absl::StatusOr<std::unique_ptr<Store>> OpenStore(std::string_view url) {
  std::unique_ptr<SqlConnection> connection;
  if (url.starts_with("postgresql://") || url.starts_with("postgres://")) {
    PDM_ASSIGN_OR_RETURN(connection, OpenPostgres(std::string(url)));
  } else if (url.starts_with("sqlite://")) {
    const std::string path(url.substr(std::string_view("sqlite://").size()));
    if (path.empty()) return absl::InvalidArgumentError("store URL 'sqlite://' names no file");
    PDM_ASSIGN_OR_RETURN(connection, OpenSqlite(path));
  } else if (url.find("://") != std::string_view::npos) {
    return absl::InvalidArgumentError(
        core::StrCat("store URL '", url.substr(0, url.find("://") + 3),
                     "...': unknown scheme (expected sqlite:// or postgresql://)"));
  } else {
    PDM_ASSIGN_OR_RETURN(connection, OpenSqlite(std::string(url)));
  }
  auto store = std::make_unique<SqlStore>(std::move(connection));
  PDM_RETURN_IF_ERROR(store->Migrate());
  return store;
}

}  // namespace pdm::store

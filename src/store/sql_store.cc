// The Store over a SqlConnection: schema migrations and every query, written once for both
// dialects. Dialect differences are confined to the DDL (identity columns, append-only triggers).
#include <chrono>
#include <mutex>

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

  absl::StatusOr<int64_t> AppendAlert(const AlertRow& alert) override {
    std::lock_guard lock(mu_);
    const SqlValue params[] = {alert.machine, alert.time_us, alert.severity, alert.kind,
                               alert.message};
    PDM_ASSIGN_OR_RETURN(auto rows,
                         sql_->Query("INSERT INTO alerts (machine, time_us, severity, kind, "
                                     "message) VALUES ($1, $2, $3, $4, $5) RETURNING id",
                                     params));
    return Int(rows[0][0]);
  }

  absl::StatusOr<std::vector<AlertRow>> RecentAlerts(std::string_view machine, int limit) override {
    std::lock_guard lock(mu_);
    const SqlValue params[] = {std::string(machine), int64_t{limit}};
    PDM_ASSIGN_OR_RETURN(auto rows,
                         sql_->Query("SELECT id, machine, time_us, severity, kind, message FROM "
                                     "alerts WHERE $1 = '' OR machine = $1 ORDER BY time_us "
                                     "DESC, id DESC LIMIT $2",
                                     params));
    std::vector<AlertRow> out;
    out.reserve(rows.size());
    for (const SqlRow& r : rows) {
      out.push_back({Int(r[0]), Text(r[1]), Int(r[2]), Text(r[3]), Text(r[4]), Text(r[5])});
    }
    return out;
  }

 private:
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

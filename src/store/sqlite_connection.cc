// SqlConnection over SQLite 3: WAL journal, synchronous=FULL, a 30 s busy timeout, prepared
// statements cached by SQL text.
#include <sqlite3.h>

#include <cctype>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <unordered_map>

#include "core/strings.h"
#include "store/sql.h"

namespace pdm::store {
namespace {

constexpr int kBusyTimeoutMs = 30'000;
constexpr size_t kRowsPerStatement = 64;

// "$12" -> "?12": SQLite binds ?NNN by index.
std::string SqliteParameters(std::string_view sql) {
  std::string out(sql);
  for (size_t i = 0; i + 1 < out.size(); ++i) {
    if (out[i] == '$' && std::isdigit(static_cast<unsigned char>(out[i + 1])) != 0) out[i] = '?';
  }
  return out;
}

class SqliteConnection final : public SqlConnection {
 public:
  explicit SqliteConnection(sqlite3* db) : db_(db) {}
  ~SqliteConnection() override {
    for (auto& [sql, statement] : statements_) sqlite3_finalize(statement);
    sqlite3_close_v2(db_);
  }

  std::string_view dialect() const override { return "sqlite"; }

  absl::StatusOr<std::vector<SqlRow>> Query(std::string_view sql,
                                            std::span<const SqlValue> params) override {
    auto statement = Prepare(sql);
    if (!statement.ok()) return statement.status();
    sqlite3_stmt* s = *statement;
    if (auto status = Bind(s, params); !status.ok()) return status;
    std::vector<SqlRow> rows;
    for (;;) {
      const int rc = sqlite3_step(s);
      if (rc == SQLITE_DONE) break;
      if (rc != SQLITE_ROW) {
        absl::Status error = Error(rc, sql);
        sqlite3_reset(s);
        return error;
      }
      const int columns = sqlite3_column_count(s);
      SqlRow row(static_cast<size_t>(columns));
      for (int c = 0; c < columns; ++c) {
        switch (sqlite3_column_type(s, c)) {
          case SQLITE_INTEGER:
            row[static_cast<size_t>(c)] = static_cast<int64_t>(sqlite3_column_int64(s, c));
            break;
          case SQLITE_FLOAT:
            row[static_cast<size_t>(c)] = sqlite3_column_double(s, c);
            break;
          case SQLITE_NULL:
            break;
          default: {
            const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(s, c));
            row[static_cast<size_t>(c)] =
                std::string(text, static_cast<size_t>(sqlite3_column_bytes(s, c)));
          }
        }
      }
      rows.push_back(std::move(row));
    }
    sqlite3_reset(s);
    return rows;
  }

  absl::Status ExecuteScript(std::string_view sql) override {
    char* message = nullptr;
    const int rc = sqlite3_exec(db_, std::string(sql).c_str(), nullptr, nullptr, &message);
    if (rc != SQLITE_OK) {
      std::string text =
          core::StrCat("sqlite: ", message != nullptr ? message : sqlite3_errstr(rc));
      sqlite3_free(message);
      if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED) return absl::UnavailableError(text);
      return absl::InternalError(text);
    }
    return absl::OkStatus();
  }

  // Every SQLite write transaction takes the write lock up front, so that two writers wait on
  // the busy timeout instead of failing to upgrade a read snapshot.
  absl::Status Begin() override { return ExecuteScript("BEGIN IMMEDIATE"); }
  absl::Status BeginExclusive(int64_t /*lock_key*/) override { return Begin(); }
  absl::Status Commit() override { return ExecuteScript("COMMIT"); }
  void Rollback() override {
    if (sqlite3_get_autocommit(db_) == 0) (void)ExecuteScript("ROLLBACK");
  }

  // Rows go kRowsPerStatement at a time through one multi-row INSERT (one VDBE run per chunk
  // instead of per row: about 1.3x the single-row rate), the remainder one by one.
  absl::Status BulkInsert(std::string_view table, std::span<const SqlColumn> columns, size_t count,
                          const std::function<void(size_t, SqlRow*)>& fill) override {
    auto insert_sql = [&](size_t rows) {
      std::string sql = core::StrCat("INSERT INTO ", table, " (");
      for (size_t c = 0; c < columns.size(); ++c) {
        sql += core::StrCat(c > 0 ? ", " : "", columns[c].name);
      }
      sql += ") VALUES ";
      for (size_t r = 0; r < rows; ++r) {
        sql += r > 0 ? ", (" : "(";
        for (size_t c = 0; c < columns.size(); ++c) {
          sql += core::StrCat(c > 0 ? ", " : "", "?", r * columns.size() + c + 1);
        }
        sql += ")";
      }
      return sql;
    };
    const size_t chunks = count / kRowsPerStatement;
    SqlRow values;
    values.reserve(kRowsPerStatement * columns.size());
    SqlRow row(columns.size());
    size_t next = 0;
    if (chunks > 0) {
      const std::string sql = insert_sql(kRowsPerStatement);
      auto statement = Prepare(sql);
      if (!statement.ok()) return statement.status();
      for (size_t chunk = 0; chunk < chunks; ++chunk) {
        values.clear();
        for (size_t r = 0; r < kRowsPerStatement; ++r, ++next) {
          fill(next, &row);
          for (SqlValue& v : row) values.push_back(std::move(v));
        }
        if (auto s = Bind(*statement, values, /*copy_text=*/false); !s.ok()) return s;
        const int rc = sqlite3_step(*statement);
        sqlite3_reset(*statement);
        if (rc != SQLITE_DONE) return Error(rc, core::StrCat("INSERT INTO ", table));
      }
    }
    if (next < count) {
      auto statement = Prepare(insert_sql(1));
      if (!statement.ok()) return statement.status();
      for (; next < count; ++next) {
        fill(next, &row);
        if (auto s = Bind(*statement, row, /*copy_text=*/false); !s.ok()) return s;
        const int rc = sqlite3_step(*statement);
        sqlite3_reset(*statement);
        if (rc != SQLITE_DONE) return Error(rc, core::StrCat("INSERT INTO ", table));
      }
    }
    return absl::OkStatus();
  }

 private:
  absl::StatusOr<sqlite3_stmt*> Prepare(std::string_view sql) {
    auto it = statements_.find(std::string(sql));
    if (it != statements_.end()) return it->second;
    const std::string text = SqliteParameters(sql);
    sqlite3_stmt* statement = nullptr;
    const int rc = sqlite3_prepare_v3(db_, text.c_str(), static_cast<int>(text.size()),
                                      SQLITE_PREPARE_PERSISTENT, &statement, nullptr);
    if (rc != SQLITE_OK) return Error(rc, sql);
    statements_.emplace(std::string(sql), statement);
    return statement;
  }

  // `copy_text` false: the caller keeps `params` alive until the statement is stepped and reset.
  absl::Status Bind(sqlite3_stmt* s, std::span<const SqlValue> params, bool copy_text = true) {
    if (static_cast<int>(params.size()) < sqlite3_bind_parameter_count(s))
      sqlite3_clear_bindings(s);
    if (static_cast<int>(params.size()) > sqlite3_bind_parameter_count(s)) {
      return absl::InternalError("sqlite: more parameters than placeholders");
    }
    for (size_t i = 0; i < params.size(); ++i) {
      const int index = static_cast<int>(i) + 1;
      int rc = SQLITE_OK;
      if (const auto* v = std::get_if<int64_t>(&params[i])) {
        rc = sqlite3_bind_int64(s, index, *v);
      } else if (const auto* d = std::get_if<double>(&params[i])) {
        rc = sqlite3_bind_double(s, index, *d);
      } else if (const auto* t = std::get_if<std::string>(&params[i])) {
        rc = sqlite3_bind_text(s, index, t->data(), static_cast<int>(t->size()),
                               copy_text ? SQLITE_TRANSIENT : SQLITE_STATIC);
      } else {
        rc = sqlite3_bind_null(s, index);
      }
      if (rc != SQLITE_OK) return Error(rc, "bind");
    }
    return absl::OkStatus();
  }

  absl::Status Error(int rc, std::string_view context) const {
    std::string message = core::StrCat("sqlite: ", sqlite3_errmsg(db_), " (", context, ")");
    if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED) return absl::UnavailableError(message);
    if ((rc & 0xff) == SQLITE_CONSTRAINT) return absl::AlreadyExistsError(message);
    return absl::InternalError(message);
  }

  sqlite3* db_;
  std::unordered_map<std::string, sqlite3_stmt*> statements_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<SqlConnection>> OpenSqlite(const std::string& path) {
  sqlite3* db = nullptr;
  const int rc = sqlite3_open_v2(
      path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    std::string message = db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    sqlite3_close_v2(db);
    return absl::UnavailableError(core::StrCat(path, ": cannot open SQLite database: ", message));
  }
  sqlite3_busy_timeout(db, kBusyTimeoutMs);
  auto connection = std::make_unique<SqliteConnection>(db);
  // Switching a new database to WAL needs an exclusive lock, and SQLite answers SQLITE_BUSY
  // without consulting the busy handler when another process holds one (two processes opening
  // a fresh registry at once): retry for as long as the busy timeout.
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(kBusyTimeoutMs);
  for (;;) {
    absl::Status status = connection->ExecuteScript(
        "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON; "
        "PRAGMA cache_size=-65536;");
    if (status.ok()) return connection;
    if (!absl::IsUnavailable(status) || std::chrono::steady_clock::now() > deadline) {
      return absl::UnavailableError(core::StrCat(path, ": ", status.message()));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

}  // namespace pdm::store

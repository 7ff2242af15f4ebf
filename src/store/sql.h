// The small SQL connection interface both Store backends implement; the Store's logic is
// written once over it (store/sql_store.cc). Internal to the store module.
//
// Parameters are written $1, $2, ... in both dialects (SQLite accepts $NNN as a named
// parameter). Result values come back typed: integers as int64_t, reals as double, text as
// std::string, NULL as std::monostate.
#ifndef PDM_STORE_SQL_H_
#define PDM_STORE_SQL_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "absl/status/statusor.h"

namespace pdm::store {

using SqlValue = std::variant<std::monostate, int64_t, double, std::string>;
using SqlRow = std::vector<SqlValue>;

// A column of a bulk insert: its name and SQL type ("TEXT", "BIGINT", "DOUBLE PRECISION").
struct SqlColumn {
  std::string_view name;
  std::string_view type;
};

class SqlConnection {
 public:
  virtual ~SqlConnection() = default;
  virtual std::string_view dialect() const = 0;  // "sqlite" or "postgresql"

  // One statement with parameters; its result rows (none for statements without a result).
  virtual absl::StatusOr<std::vector<SqlRow>> Query(std::string_view sql,
                                                    std::span<const SqlValue> params) = 0;
  // Several statements without parameters (DDL, pragmas).
  virtual absl::Status ExecuteScript(std::string_view sql) = 0;

  // Transactions. BeginExclusive serialises writers across processes: SQLite BEGIN IMMEDIATE,
  // PostgreSQL BEGIN plus pg_advisory_xact_lock(lock_key).
  virtual absl::Status Begin() = 0;
  virtual absl::Status BeginExclusive(int64_t lock_key) = 0;
  virtual absl::Status Commit() = 0;
  virtual void Rollback() = 0;

  // Appends `count` rows to `table`; `fill(i, row)` writes row i's values (one per column) into
  // `row`. SQLite: one prepared statement re-bound per row; PostgreSQL: COPY FROM STDIN. Runs
  // inside the caller's transaction when one is open.
  virtual absl::Status BulkInsert(std::string_view table, std::span<const SqlColumn> columns,
                                  size_t count,
                                  const std::function<void(size_t, SqlRow*)>& fill) = 0;
};

absl::StatusOr<std::unique_ptr<SqlConnection>> OpenSqlite(const std::string& path);
absl::StatusOr<std::unique_ptr<SqlConnection>> OpenPostgres(const std::string& url);

// Runs `body` inside a transaction begun with `begin`; commits when it returns OK, else rolls
// back and returns its error.
absl::Status InTransaction(SqlConnection& connection, const std::function<absl::Status()>& begin,
                           const std::function<absl::Status()>& body);

}  // namespace pdm::store

#endif  // PDM_STORE_SQL_H_

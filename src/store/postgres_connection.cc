// SqlConnection over PostgreSQL through libpqxx 6: one connection, one long-lived
// nontransaction through which the Store issues BEGIN/COMMIT itself; every libpqxx exception
// becomes a Status.
#include <fmt/format.h>

#include <cmath>
#include <optional>
#include <pqxx/pqxx>
#include <pqxx/tablewriter>
#include <string>

#include "core/strings.h"
#include "store/sql.h"

namespace pdm::store {
namespace {

// PostgreSQL type OIDs (pg_type.dat) of the columns the Store reads back.
constexpr unsigned kInt8Oid = 20, kInt2Oid = 21, kInt4Oid = 23, kFloat4Oid = 700, kFloat8Oid = 701,
                   kNumericOid = 1700;

std::string DoubleText(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "Infinity" : "-Infinity";
  return fmt::format("{}", v);
}

// A value as PostgreSQL's text input form; nullopt for NULL.
std::optional<std::string> ValueText(const SqlValue& value) {
  if (const auto* v = std::get_if<int64_t>(&value)) return std::to_string(*v);
  if (const auto* d = std::get_if<double>(&value)) return DoubleText(*d);
  if (const auto* t = std::get_if<std::string>(&value)) return *t;
  return std::nullopt;
}

// Appends `value` as one field of COPY's text format: \\N for NULL, backslash escapes for the
// delimiter, line breaks and backslash.
void AppendCopyField(const SqlValue& value, std::string* out) {
  if (const auto* t = std::get_if<std::string>(&value)) {
    for (char c : *t) {
      switch (c) {
        case '\\':
          *out += "\\\\";
          break;
        case '\t':
          *out += "\\t";
          break;
        case '\n':
          *out += "\\n";
          break;
        case '\r':
          *out += "\\r";
          break;
        default:
          out->push_back(c);
      }
    }
    return;
  }
  if (const auto* v = std::get_if<int64_t>(&value)) {
    *out += std::to_string(*v);
  } else if (const auto* d = std::get_if<double>(&value)) {
    *out += DoubleText(*d);
  } else {
    *out += "\\N";
  }
}

absl::Status FromException(const std::exception& e, std::string_view context) {
  std::string message = core::StrCat("postgresql: ", e.what());
  while (!message.empty() && (message.back() == '\n' || message.back() == ' ')) message.pop_back();
  message += core::StrCat(" (", context.substr(0, 120), ")");
  if (dynamic_cast<const pqxx::broken_connection*>(&e) != nullptr) {
    return absl::UnavailableError(message);
  }
  if (const auto* sql = dynamic_cast<const pqxx::sql_error*>(&e)) {
    if (sql->sqlstate() == "23505") return absl::AlreadyExistsError(message);
    if (sql->sqlstate().rfind("40", 0) == 0) return absl::AbortedError(message);
  }
  return absl::InternalError(message);
}

class PostgresConnection final : public SqlConnection {
 public:
  explicit PostgresConnection(std::unique_ptr<pqxx::connection> connection)
      : connection_(std::move(connection)), work_(*connection_) {}

  std::string_view dialect() const override { return "postgresql"; }

  absl::StatusOr<std::vector<SqlRow>> Query(std::string_view sql,
                                            std::span<const SqlValue> params) override {
    try {
      std::vector<std::optional<std::string>> texts;
      texts.reserve(params.size());
      for (const SqlValue& p : params) texts.push_back(ValueText(p));
      std::vector<const char*> pointers;
      pointers.reserve(texts.size());
      for (const auto& t : texts) pointers.push_back(t ? t->c_str() : nullptr);
      const pqxx::result result = work_.exec_params(
          std::string(sql), pqxx::prepare::make_dynamic_params(pointers.begin(), pointers.end()));
      std::vector<SqlRow> rows;
      rows.reserve(result.size());
      for (const auto& r : result) {
        SqlRow row(r.size());
        for (pqxx::row::size_type c = 0; c < r.size(); ++c) {
          const pqxx::field f = r[c];
          if (f.is_null()) continue;
          const unsigned type = f.type();
          if (type == kInt8Oid || type == kInt4Oid || type == kInt2Oid) {
            row[c] = f.as<int64_t>();
          } else if (type == kFloat8Oid || type == kFloat4Oid || type == kNumericOid) {
            row[c] = f.as<double>();
          } else {
            row[c] = std::string(f.c_str(), f.size());
          }
        }
        rows.push_back(std::move(row));
      }
      return rows;
    } catch (const std::exception& e) {
      return FromException(e, sql);
    }
  }

  absl::Status ExecuteScript(std::string_view sql) override {
    try {
      work_.exec(std::string(sql));
      return absl::OkStatus();
    } catch (const std::exception& e) {
      return FromException(e, sql);
    }
  }

  absl::Status Begin() override { return ExecuteScript("BEGIN"); }
  absl::Status BeginExclusive(int64_t lock_key) override {
    if (auto status = Begin(); !status.ok()) return status;
    const SqlValue key = lock_key;
    auto locked = Query("SELECT pg_advisory_xact_lock($1::BIGINT)", {&key, 1});
    if (!locked.ok()) {
      Rollback();
      return locked.status();
    }
    return absl::OkStatus();
  }
  absl::Status Commit() override { return ExecuteScript("COMMIT"); }
  void Rollback() override { (void)ExecuteScript("ROLLBACK"); }

  // COPY ... FROM STDIN in text format, one line per row. libpqxx 6's stream_to takes only
  // typed tuples; its (deprecated) tablewriter is the public way to send a preformatted line.
  absl::Status BulkInsert(std::string_view table, std::span<const SqlColumn> columns, size_t count,
                          const std::function<void(size_t, SqlRow*)>& fill) override {
    std::vector<std::string> names;
    names.reserve(columns.size());
    for (const SqlColumn& c : columns) names.emplace_back(c.name);
    try {
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
      pqxx::tablewriter writer(work_, std::string(table), names.begin(), names.end());
#pragma GCC diagnostic pop
      SqlRow row(columns.size());
      std::string line;
      for (size_t i = 0; i < count; ++i) {
        fill(i, &row);
        line.clear();
        for (size_t c = 0; c < row.size(); ++c) {
          if (c > 0) line.push_back('\t');
          AppendCopyField(row[c], &line);
        }
        writer.write_raw_line(line);
      }
      writer.complete();
      return absl::OkStatus();
    } catch (const std::exception& e) {
      return FromException(e, core::StrCat("COPY ", table));
    }
  }

 private:
  std::unique_ptr<pqxx::connection> connection_;
  pqxx::nontransaction work_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<SqlConnection>> OpenPostgres(const std::string& url) {
  try {
    auto connection = std::make_unique<pqxx::connection>(url);
    auto sql = std::make_unique<PostgresConnection>(std::move(connection));
    // Warnings of the migrations ("relation already exists, skipping") are not news.
    (void)sql->ExecuteScript("SET client_min_messages = warning");
    return sql;
  } catch (const std::exception& e) {
    std::string message = e.what();
    while (!message.empty() && message.back() == '\n') message.pop_back();
    return absl::UnavailableError(core::StrCat("cannot connect to PostgreSQL: ", message));
  }
}

}  // namespace pdm::store

// A fast streaming reader for delimited text (RFC 4180 CSV, any one-character delimiter, or
// whitespace-separated columns). Memory is bounded by the buffer and the longest record allowed.
// Not thread-safe; one reader per file.
#ifndef PDM_IO_CSV_READER_H_
#define PDM_IO_CSV_READER_H_

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "spec/dataset_spec.h"

namespace pdm::io {

struct CsvReaderOptions {
  spec::CsvFormat format;
  // Bytes read from the file at a time. Default 4 MiB.
  size_t buffer_bytes = size_t{4} << 20;
  // A record longer than this (bytes, quotes included) is reported as malformed and skipped.
  // Default 1 MiB.
  size_t max_record_bytes = size_t{1} << 20;
};

// One record (row) of the file.
struct CsvRecord {
  // 1-based number of the file line on which the record starts.
  int64_t line = 0;
  // The fields, unquoted. Valid until the next call to Next().
  std::vector<std::string_view> fields;
  // The record as written in the file, without its line terminator. Valid until the next Next().
  std::string_view raw;
  // Non-empty when the record is malformed (unterminated quote, text after a closing quote, too
  // long); `fields` is then empty and `raw` holds at most the first 4 KiB.
  std::string error;
};

class CsvReader {
 public:
  static absl::StatusOr<std::unique_ptr<CsvReader>> Open(const std::filesystem::path& path,
                                                         const CsvReaderOptions& options);
  ~CsvReader();
  CsvReader(const CsvReader&) = delete;
  CsvReader& operator=(const CsvReader&) = delete;

  // Reads the next non-blank record into `record`. Returns false at the end of the file, or on a
  // read error (then status() is not OK).
  bool Next(CsvRecord* record);

  absl::Status status() const { return status_; }
  // Bytes consumed from the file so far.
  int64_t bytes_read() const { return bytes_read_; }
  // Blank lines skipped so far.
  int64_t blank_lines() const { return blank_lines_; }
  const std::filesystem::path& path() const { return path_; }

 private:
  CsvReader(int fd, std::filesystem::path path, const CsvReaderOptions& options);

  // Moves unread bytes to the front and reads more. Returns false at EOF or error.
  bool Refill();
  // Splits the single line [begin, end) that contains no quote character.
  void SplitSimple(const char* begin, const char* end, CsvRecord* record);
  // Parses a record with quotes starting at pos_. Returns 1 when done, 0 when it needs more data,
  // -1 when malformed (record->error set and the record skipped).
  int ParseQuoted(CsvRecord* record, bool at_eof);
  void SkipToLineEnd(CsvRecord* record, std::string error);
  // Reports the record starting at pos_ as malformed and resumes after the line holding
  // `error_pos`; `newlines` counts the line breaks between pos_ and error_pos.
  void Malformed(CsvRecord* record, std::string error, size_t error_pos, int64_t newlines);

  int fd_;
  std::filesystem::path path_;
  CsvReaderOptions options_;
  std::vector<char> buffer_;
  size_t pos_ = 0;  // next unread byte in buffer_
  size_t end_ = 0;  // one past the last valid byte in buffer_
  bool eof_ = false;
  bool at_start_ = true;
  int64_t line_ = 1;  // line number of the byte at pos_
  int64_t bytes_read_ = 0;
  int64_t blank_lines_ = 0;
  std::string scratch_;   // unquoted field text
  std::string raw_copy_;  // text of a malformed record
  std::vector<std::pair<size_t, size_t>> spans_;
  absl::Status status_;
};

// Appends `field` to `out`, quoted when it contains the delimiter, a quote or a line break.
void AppendCsvField(std::string_view field, char delimiter, std::string* out);

}  // namespace pdm::io

#endif  // PDM_IO_CSV_READER_H_

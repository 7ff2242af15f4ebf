// Fast streaming readers for delimited text (RFC 4180 CSV, any one-character delimiter, or
// whitespace-separated columns). Memory is bounded by the block size and the longest record
// allowed.
//
// Two layers: CsvBlockReader cuts a file into blocks that hold whole records only (quote-aware,
// so a quoted field with a line break never straddles two blocks); CsvRecordParser iterates the
// records of one block. Blocks are independent, so they can be parsed on several threads.
// CsvReader chains the two for sequential use. None of the classes is thread-safe; use one
// instance per thread.
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
  // Bytes read from the file per block. Default 4 MiB.
  size_t buffer_bytes = size_t{4} << 20;
  // A record longer than this (bytes, quotes included) is reported as malformed and skipped.
  // Default 1 MiB.
  size_t max_record_bytes = size_t{1} << 20;
};

// One record (row) of the file.
struct CsvRecord {
  // 1-based number of the file line on which the record starts.
  int64_t line = 0;
  // The fields, unquoted. Valid until the next call to Next() and while the block lives.
  std::vector<std::string_view> fields;
  // True when `fields` point into the parser's scratch space (the record had quotes), so they
  // must be copied to outlive the next call to Next().
  bool fields_in_scratch = false;
  // The record as written in the file, without its line terminator (at most 4 KiB of it when
  // malformed). Valid while the block lives.
  std::string_view raw;
  // Non-empty when the record is malformed (unterminated quote, text after a closing quote, too
  // long); `fields` is then empty.
  std::string error;
};

// A piece of a file that holds whole records only.
struct CsvBlock {
  std::string data;
  // Line number of data[0], as the parser will report it. CsvBlockReader does not count lines
  // (that would be a serial pass over every byte): it leaves 1, and whoever parses blocks in
  // order sets it, or adds the block's base line to the relative numbers afterwards.
  int64_t first_line = 1;
  // Set when one line was longer than max_record_bytes: `data` holds its first 4 KiB and the
  // rest of the line was skipped.
  bool oversized_line = false;
};

class CsvBlockReader {
 public:
  static absl::StatusOr<std::unique_ptr<CsvBlockReader>> Open(const std::filesystem::path& path,
                                                              const CsvReaderOptions& options);
  ~CsvBlockReader();
  CsvBlockReader(const CsvBlockReader&) = delete;
  CsvBlockReader& operator=(const CsvBlockReader&) = delete;

  // Fills `block` with the next records. Returns false at the end of the file, or on a read
  // error (then status() is not OK).
  bool Next(CsvBlock* block);

  absl::Status status() const { return status_; }
  int64_t bytes_read() const { return bytes_read_; }
  const std::filesystem::path& path() const { return path_; }

 private:
  CsvBlockReader(int fd, std::filesystem::path path, const CsvReaderOptions& options);
  // Appends up to `bytes` from the file to pending_. Returns false at EOF or on error.
  bool ReadMore(size_t bytes);
  // Where the last complete record of pending_ ends (one past its '\n'), or 0 if none does.
  size_t FindCut() const;

  int fd_;
  std::filesystem::path path_;
  CsvReaderOptions options_;
  std::string pending_;  // bytes read but not yet handed out
  bool eof_ = false;
  bool at_start_ = true;
  int64_t bytes_read_ = 0;
  absl::Status status_;
};

class CsvRecordParser {
 public:
  // `block` must outlive the parser and the records it yields.
  CsvRecordParser(const CsvReaderOptions& options, const CsvBlock& block, size_t offset = 0);

  // Reads the next non-blank record. Returns false at the end of the block.
  bool Next(CsvRecord* record);

  int64_t blank_lines() const { return blank_lines_; }
  // Byte offset in the block of the next unread record.
  size_t offset() const { return pos_; }
  // Line number of the next unread byte; after the whole block: first_line + its line breaks.
  int64_t next_line() const { return line_; }

 private:
  void SplitSimple(const char* begin, const char* end, CsvRecord* record);
  // Parses a record with quotes starting at pos_.
  void ParseQuoted(CsvRecord* record);
  void Malformed(CsvRecord* record, std::string error, size_t raw_end, size_t resume);

  const CsvReaderOptions& options_;
  const CsvBlock& block_;
  size_t pos_;
  int64_t line_;
  int64_t blank_lines_ = 0;
  std::string scratch_;  // unquoted field text
  std::vector<std::pair<size_t, size_t>> spans_;
};

// Sequential reading: blocks, then records.
class CsvReader {
 public:
  static absl::StatusOr<std::unique_ptr<CsvReader>> Open(const std::filesystem::path& path,
                                                         const CsvReaderOptions& options);

  // Reads the next non-blank record into `record`. Returns false at the end of the file, or on a
  // read error (then status() is not OK).
  bool Next(CsvRecord* record);

  absl::Status status() const { return blocks_->status(); }
  int64_t bytes_read() const { return blocks_->bytes_read(); }
  int64_t blank_lines() const;
  const std::filesystem::path& path() const { return blocks_->path(); }

 private:
  CsvReader(std::unique_ptr<CsvBlockReader> blocks, const CsvReaderOptions& options)
      : options_(options), blocks_(std::move(blocks)) {}
  CsvReaderOptions options_;
  std::unique_ptr<CsvBlockReader> blocks_;
  CsvBlock block_;
  std::unique_ptr<CsvRecordParser> parser_;
  int64_t blank_lines_done_ = 0;
  int64_t next_line_ = 1;
};

// Appends `field` to `out`, quoted when it contains the delimiter, a quote or a line break.
void AppendCsvField(std::string_view field, char delimiter, std::string* out);

}  // namespace pdm::io

#endif  // PDM_IO_CSV_READER_H_

#include "io/csv_reader.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "core/strings.h"

namespace pdm::io {
namespace {

constexpr size_t kMaxRawErrorBytes = 4096;

bool IsBlank(char c) { return c == ' ' || c == '\t'; }

}  // namespace

absl::StatusOr<std::unique_ptr<CsvReader>> CsvReader::Open(const std::filesystem::path& path,
                                                           const CsvReaderOptions& options) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    return absl::InvalidArgumentError(core::StrCat(path.string(), ": is a directory, not a file"));
  }
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    const int err = errno;
    return absl::NotFoundError(core::StrCat(path.string(), ": cannot open: ", std::strerror(err)));
  }
  ::posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
  return std::unique_ptr<CsvReader>(new CsvReader(fd, path, options));
}

CsvReader::CsvReader(int fd, std::filesystem::path path, const CsvReaderOptions& options)
    : fd_(fd), path_(std::move(path)), options_(options) {
  if (options_.buffer_bytes < 64) options_.buffer_bytes = 64;
  buffer_.resize(options_.buffer_bytes);
}

CsvReader::~CsvReader() { ::close(fd_); }

bool CsvReader::Refill() {
  if (eof_) return false;
  if (pos_ > 0) {
    std::memmove(buffer_.data(), buffer_.data() + pos_, end_ - pos_);
    end_ -= pos_;
    pos_ = 0;
  }
  if (end_ == buffer_.size()) {
    // A record longer than the buffer: grow, up to the record limit (plus slack for its line end).
    const size_t limit = options_.max_record_bytes + 2;
    if (buffer_.size() >= limit) return false;
    buffer_.resize(std::min(limit, buffer_.size() * 2));
  }
  while (true) {
    const ssize_t n = ::read(fd_, buffer_.data() + end_, buffer_.size() - end_);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int err = errno;
      status_ =
          absl::DataLossError(core::StrCat(path_.string(), ": read failed: ", std::strerror(err)));
      eof_ = true;
      return false;
    }
    if (n == 0) {
      eof_ = true;
      return false;
    }
    end_ += static_cast<size_t>(n);
    bytes_read_ += n;
    return true;
  }
}

void CsvReader::SplitSimple(const char* begin, const char* end, CsvRecord* record) {
  record->fields.clear();
  if (options_.format.whitespace) {
    const char* p = begin;
    while (true) {
      while (p < end && IsBlank(*p)) ++p;
      if (p >= end) break;
      const char* start = p;
      while (p < end && !IsBlank(*p)) ++p;
      record->fields.emplace_back(start, static_cast<size_t>(p - start));
    }
    return;
  }
  // A plain loop: telemetry fields are a few bytes long, too short for memchr to pay off.
  const char delimiter = options_.format.delimiter;
  const char* start = begin;
  for (const char* p = begin; p < end; ++p) {
    if (*p == delimiter) {
      record->fields.emplace_back(start, static_cast<size_t>(p - start));
      start = p + 1;
    }
  }
  record->fields.emplace_back(start, static_cast<size_t>(end - start));
}

void CsvReader::Malformed(CsvRecord* record, std::string error, size_t error_pos,
                          int64_t newlines) {
  // Keep a bounded copy of the record's text: skipping may refill and move the buffer.
  const size_t raw_end = std::min({error_pos + 1, end_, pos_ + kMaxRawErrorBytes});
  raw_copy_.assign(buffer_.data() + pos_, raw_end - pos_);
  pos_ = error_pos;
  line_ += newlines;
  SkipToLineEnd(record, std::move(error));
  record->raw = raw_copy_;
}

void CsvReader::SkipToLineEnd(CsvRecord* record, std::string error) {
  // Skip the rest of the current physical line; the next record starts after it.
  record->fields.clear();
  record->error = std::move(error);
  while (true) {
    const char* base = buffer_.data();
    const void* nl = std::memchr(base + pos_, '\n', end_ - pos_);
    if (nl != nullptr) {
      pos_ = static_cast<size_t>(static_cast<const char*>(nl) - base) + 1;
      ++line_;
      return;
    }
    pos_ = end_;
    if (!Refill()) return;
  }
}

int CsvReader::ParseQuoted(CsvRecord* record, bool at_eof) {
  const char delimiter = options_.format.delimiter;
  const char* base = buffer_.data();
  size_t i = pos_;
  int64_t newlines = 0;
  scratch_.clear();
  spans_.clear();
  size_t field_start = 0;
  enum class State { kFieldStart, kUnquoted, kQuoted, kQuoteInQuoted };
  State state = State::kFieldStart;
  for (; i < end_; ++i) {
    const char c = base[i];
    switch (state) {
      case State::kFieldStart:
        if (c == '"') {
          state = State::kQuoted;
          continue;
        }
        state = State::kUnquoted;
        [[fallthrough]];
      case State::kUnquoted:
        if (c == delimiter) {
          spans_.emplace_back(field_start, scratch_.size() - field_start);
          field_start = scratch_.size();
          state = State::kFieldStart;
        } else if (c == '\n') {
          goto record_end;
        } else {
          scratch_.push_back(c);
        }
        break;
      case State::kQuoted:
        if (c == '"') {
          state = State::kQuoteInQuoted;
        } else {
          if (c == '\n') ++newlines;
          scratch_.push_back(c);
        }
        break;
      case State::kQuoteInQuoted:
        if (c == '"') {
          scratch_.push_back('"');
          state = State::kQuoted;
        } else if (c == delimiter) {
          spans_.emplace_back(field_start, scratch_.size() - field_start);
          field_start = scratch_.size();
          state = State::kFieldStart;
        } else if (c == '\n') {
          goto record_end;
        } else if (c == '\r' && i + 1 < end_ && base[i + 1] == '\n') {
          // CRLF after a closing quote.
        } else if (c == '\r' && i + 1 == end_ && !at_eof) {
          return 0;
        } else {
          Malformed(record, core::StrCat("text after a closing quote in field ", spans_.size() + 1),
                    i, newlines);
          return -1;
        }
        break;
    }
    if (i - pos_ > options_.max_record_bytes) {
      Malformed(record, core::StrCat("record longer than ", options_.max_record_bytes, " bytes"), i,
                newlines);
      return -1;
    }
  }
  // Reached the end of the buffer inside the record.
  if (!at_eof) return 0;
  if (state == State::kQuoted) {
    record->fields.clear();
    raw_copy_.assign(base + pos_, std::min(end_ - pos_, kMaxRawErrorBytes));
    record->raw = raw_copy_;
    record->error = "unterminated quoted field at end of file";
    line_ += newlines;
    pos_ = end_;
    return -1;
  }
record_end:
  if (state == State::kUnquoted && !scratch_.empty() && scratch_.back() == '\r')
    scratch_.pop_back();
  spans_.emplace_back(field_start, scratch_.size() - field_start);
  {
    size_t raw_end = i;
    if (raw_end > pos_ && base[raw_end - 1] == '\r') --raw_end;
    record->raw = std::string_view(base + pos_, raw_end - pos_);
  }
  record->fields.clear();
  for (const auto& [offset, length] : spans_)
    record->fields.emplace_back(scratch_.data() + offset, length);
  record->line = line_;
  line_ += newlines + (i < end_ ? 1 : 0);
  pos_ = i < end_ ? i + 1 : end_;
  return 1;
}

bool CsvReader::Next(CsvRecord* record) {
  record->error.clear();
  if (at_start_) {
    at_start_ = false;
    Refill();
    if (end_ - pos_ >= 3 && std::memcmp(buffer_.data() + pos_, "\xEF\xBB\xBF", 3) == 0) pos_ += 3;
  }
  while (true) {
    if (pos_ >= end_ && !Refill()) return false;
    const char* base = buffer_.data();
    const char* begin = base + pos_;
    const char* nl = static_cast<const char*>(std::memchr(begin, '\n', end_ - pos_));
    if (nl == nullptr && !eof_) {
      if (end_ - pos_ > options_.max_record_bytes) {
        record->line = line_;
        Malformed(record, core::StrCat("record longer than ", options_.max_record_bytes, " bytes"),
                  end_ - 1, 0);
        return true;
      }
      Refill();
      continue;
    }
    const char* line_end = nl != nullptr ? nl : base + end_;
    const char* content_end = line_end;
    if (content_end > begin && content_end[-1] == '\r') --content_end;
    // Blank line: skip it.
    bool blank = content_end == begin;
    if (!blank && options_.format.whitespace) {
      blank = true;
      for (const char* p = begin; p < content_end && blank; ++p) blank = IsBlank(*p);
    }
    if (blank) {
      ++blank_lines_;
      ++line_;
      pos_ = nl != nullptr ? static_cast<size_t>(nl - base) + 1 : end_;
      continue;
    }
    if (options_.format.whitespace ||
        std::memchr(begin, '"', static_cast<size_t>(content_end - begin)) == nullptr) {
      record->line = line_;
      record->raw = std::string_view(begin, static_cast<size_t>(content_end - begin));
      SplitSimple(begin, content_end, record);
      ++line_;
      pos_ = nl != nullptr ? static_cast<size_t>(nl - base) + 1 : end_;
      return true;
    }
    record->line = line_;
    const int result = ParseQuoted(record, eof_);
    if (result != 0) return true;
    // Needs more data: a quoted field spans past the buffer.
    if (end_ - pos_ > options_.max_record_bytes) {
      Malformed(record, core::StrCat("record longer than ", options_.max_record_bytes, " bytes"),
                end_ - 1, 0);
      return true;
    }
    Refill();
  }
}

void AppendCsvField(std::string_view field, char delimiter, std::string* out) {
  bool needs_quotes = false;
  for (char c : field) {
    if (c == delimiter || c == '"' || c == '\n' || c == '\r') {
      needs_quotes = true;
      break;
    }
  }
  if (!needs_quotes) {
    out->append(field);
    return;
  }
  out->push_back('"');
  for (char c : field) {
    if (c == '"') out->push_back('"');
    out->push_back(c);
  }
  out->push_back('"');
}

}  // namespace pdm::io

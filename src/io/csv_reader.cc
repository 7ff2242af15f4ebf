#include "io/csv_reader.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstring>

#include "core/strings.h"

namespace pdm::io {
namespace {

constexpr size_t kMaxRawErrorBytes = 4096;

bool IsBlank(char c) { return c == ' ' || c == '\t'; }

}  // namespace

// ---------------------------------------------------------------------------- CsvBlockReader

absl::StatusOr<std::unique_ptr<CsvBlockReader>> CsvBlockReader::Open(
    const std::filesystem::path& path, const CsvReaderOptions& options) {
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
  return std::unique_ptr<CsvBlockReader>(new CsvBlockReader(fd, path, options));
}

CsvBlockReader::CsvBlockReader(int fd, std::filesystem::path path, const CsvReaderOptions& options)
    : fd_(fd), path_(std::move(path)), options_(options) {
  options_.buffer_bytes = std::max<size_t>(options_.buffer_bytes, 64);
  options_.max_record_bytes = std::max<size_t>(options_.max_record_bytes, 16);
}

CsvBlockReader::~CsvBlockReader() { ::close(fd_); }

bool CsvBlockReader::ReadMore(size_t bytes) {
  if (eof_) return false;
  const size_t old_size = pending_.size();
  pending_.resize(old_size + bytes);
  size_t filled = 0;
  while (filled < bytes) {
    const ssize_t n = ::read(fd_, pending_.data() + old_size + filled, bytes - filled);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int err = errno;
      status_ =
          absl::DataLossError(core::StrCat(path_.string(), ": read failed: ", std::strerror(err)));
      eof_ = true;
      break;
    }
    if (n == 0) {
      eof_ = true;
      break;
    }
    filled += static_cast<size_t>(n);
  }
  pending_.resize(old_size + filled);
  bytes_read_ += static_cast<int64_t>(filled);
  if (at_start_ && pending_.size() >= 3) {
    at_start_ = false;
    if (pending_.compare(0, 3, "\xEF\xBB\xBF") == 0) pending_.erase(0, 3);
  }
  return filled > 0;
}

size_t CsvBlockReader::FindCut() const {
  const char* data = pending_.data();
  const size_t size = pending_.size();
  const bool quotes_matter = !options_.format.whitespace;
  if (!quotes_matter || std::memchr(data, '"', size) == nullptr) {
    const void* nl = ::memrchr(data, '\n', size);
    return nl == nullptr ? 0 : static_cast<size_t>(static_cast<const char*>(nl) - data) + 1;
  }
  // A line break ends a record when an even number of quotes precede it (RFC 4180: quotes open
  // and close fields, and escaped quotes come in pairs).
  size_t cut = 0;
  bool in_quotes = false;
  for (size_t i = 0; i < size; ++i) {
    if (data[i] == '"') {
      in_quotes = !in_quotes;
    } else if (data[i] == '\n' && !in_quotes) {
      cut = i + 1;
    }
  }
  return cut;
}

bool CsvBlockReader::Next(CsvBlock* block) {
  block->data.clear();
  block->oversized_line = false;
  while (true) {
    if (pending_.size() < options_.buffer_bytes && !eof_) {
      ReadMore(options_.buffer_bytes - pending_.size() + (pending_.empty() ? 0 : 4096));
    }
    if (pending_.empty()) return false;
    size_t cut = eof_ ? pending_.size() : FindCut();
    if (cut == 0) {
      // No complete record yet: read on, up to the record limit.
      if (pending_.size() <= options_.buffer_bytes + options_.max_record_bytes && !eof_) {
        ReadMore(options_.buffer_bytes);
        continue;
      }
      const void* nl = std::memchr(pending_.data(), '\n', pending_.size());
      if (nl != nullptr) {
        // An unbalanced quote: cut at the first line break and let the parser report it.
        cut = static_cast<size_t>(static_cast<const char*>(nl) - pending_.data()) + 1;
      } else {
        // One line longer than the limit: keep its start, skip the rest of it.
        block->oversized_line = true;
        block->data.assign(pending_, 0, kMaxRawErrorBytes);
        while (true) {
          const void* end = std::memchr(pending_.data(), '\n', pending_.size());
          if (end != nullptr) {
            pending_.erase(
                0, static_cast<size_t>(static_cast<const char*>(end) - pending_.data()) + 1);
            break;
          }
          pending_.clear();
          if (!ReadMore(options_.buffer_bytes)) break;
        }
        return true;
      }
    }
    // Hand the buffer over instead of copying it; only the (short) tail after the cut moves.
    block->data.swap(pending_);
    pending_.assign(block->data, cut, std::string::npos);
    block->data.resize(cut);
    return true;
  }
}

// --------------------------------------------------------------------------- CsvRecordParser

CsvRecordParser::CsvRecordParser(const CsvReaderOptions& options, const CsvBlock& block,
                                 size_t offset)
    : options_(options), block_(block), pos_(offset), line_(block.first_line) {
  line_ +=
      std::count(block.data.begin(), block.data.begin() + static_cast<ptrdiff_t>(offset), '\n');
}

void CsvRecordParser::SplitSimple(const char* begin, const char* end, CsvRecord* record) {
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
  // Telemetry fields are a few bytes long, too short for memchr to pay off: look at eight bytes
  // at a time instead (SWAR). For x = word ^ (delimiter in every byte), a byte of x is zero
  // exactly where the delimiter is; ~(((x & 0x7F..) + 0x7F..) | x | 0x7F..) sets the high bit of
  // exactly those bytes, with no carries between bytes.
  static_assert(std::endian::native == std::endian::little, "byte index from trailing zeros");
  const char delimiter = options_.format.delimiter;
  constexpr uint64_t kLow7 = 0x7F7F7F7F7F7F7F7FULL;
  const uint64_t pattern = 0x0101010101010101ULL * static_cast<uint8_t>(delimiter);
  const char* start = begin;
  const char* p = begin;
  for (; p + 8 <= end; p += 8) {
    uint64_t word;
    std::memcpy(&word, p, 8);
    const uint64_t x = word ^ pattern;
    uint64_t found = ~(((x & kLow7) + kLow7) | x | kLow7);
    while (found != 0) {
      const char* hit = p + (__builtin_ctzll(found) >> 3);
      record->fields.emplace_back(start, static_cast<size_t>(hit - start));
      start = hit + 1;
      found &= found - 1;
    }
  }
  for (; p < end; ++p) {
    if (*p == delimiter) {
      record->fields.emplace_back(start, static_cast<size_t>(p - start));
      start = p + 1;
    }
  }
  record->fields.emplace_back(start, static_cast<size_t>(end - start));
}

void CsvRecordParser::Malformed(CsvRecord* record, std::string error, size_t raw_end,
                                size_t resume) {
  const char* base = block_.data.data();
  record->fields.clear();
  record->error = std::move(error);
  record->line = line_;
  record->raw = std::string_view(base + pos_, std::min(raw_end - pos_, kMaxRawErrorBytes));
  line_ += std::count(base + pos_, base + resume, '\n');
  pos_ = resume;
}

void CsvRecordParser::ParseQuoted(CsvRecord* record) {
  const char delimiter = options_.format.delimiter;
  const char* base = block_.data.data();
  const size_t end = block_.data.size();
  scratch_.clear();
  spans_.clear();
  size_t field_start = 0;
  enum class State { kFieldStart, kUnquoted, kQuoted, kQuoteInQuoted };
  State state = State::kFieldStart;
  size_t i = pos_;
  for (; i < end; ++i) {
    const char c = base[i];
    if (c == '\n' && state != State::kQuoted) break;
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
        } else {
          scratch_.push_back(c);
        }
        break;
      case State::kQuoted:
        if (c == '"') {
          state = State::kQuoteInQuoted;
        } else {
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
        } else if (!(c == '\r' && i + 1 < end && base[i + 1] == '\n') &&
                   !(c == '\r' && i + 1 == end)) {
          const void* nl = std::memchr(base + i, '\n', end - i);
          const size_t line_end =
              nl == nullptr ? end : static_cast<size_t>(static_cast<const char*>(nl) - base);
          Malformed(record, core::StrCat("text after a closing quote in field ", spans_.size() + 1),
                    line_end, nl == nullptr ? end : line_end + 1);
          return;
        }
        break;
    }
    if (i - pos_ > options_.max_record_bytes) {
      const void* nl = std::memchr(base + i, '\n', end - i);
      const size_t line_end =
          nl == nullptr ? end : static_cast<size_t>(static_cast<const char*>(nl) - base);
      Malformed(record, core::StrCat("record longer than ", options_.max_record_bytes, " bytes"),
                line_end, nl == nullptr ? end : line_end + 1);
      return;
    }
  }
  if (state == State::kQuoted) {
    Malformed(record, "unterminated quoted field", end, end);
    return;
  }
  if (state == State::kUnquoted && !scratch_.empty() && scratch_.back() == '\r')
    scratch_.pop_back();
  spans_.emplace_back(field_start, scratch_.size() - field_start);
  size_t raw_end = i;
  if (raw_end > pos_ && base[raw_end - 1] == '\r') --raw_end;
  record->raw = std::string_view(base + pos_, raw_end - pos_);
  record->fields.clear();
  for (const auto& [offset, length] : spans_) {
    record->fields.emplace_back(scratch_.data() + offset, length);
  }
  record->fields_in_scratch = true;
  record->line = line_;
  line_ += std::count(base + pos_, base + i, '\n') + (i < end ? 1 : 0);
  pos_ = i < end ? i + 1 : end;
}

bool CsvRecordParser::Next(CsvRecord* record) {
  record->error.clear();
  record->fields_in_scratch = false;
  const char* base = block_.data.data();
  const size_t end = block_.data.size();
  if (block_.oversized_line) {
    if (pos_ >= end) return false;
    record->fields.clear();
    record->line = line_;
    record->raw = std::string_view(base, end);
    record->error = core::StrCat("record longer than ", options_.max_record_bytes, " bytes");
    pos_ = end;
    ++line_;  // the skipped rest of the line ended with its line break
    return true;
  }
  while (pos_ < end) {
    const char* begin = base + pos_;
    const char* nl = static_cast<const char*>(std::memchr(begin, '\n', end - pos_));
    const char* line_end = nl != nullptr ? nl : base + end;
    const char* content_end = line_end;
    if (content_end > begin && content_end[-1] == '\r') --content_end;
    const size_t next = nl != nullptr ? static_cast<size_t>(nl - base) + 1 : end;
    bool blank = content_end == begin;
    if (!blank && options_.format.whitespace) {
      blank = std::all_of(begin, content_end, IsBlank);
    }
    if (blank) {
      ++blank_lines_;
      ++line_;
      pos_ = next;
      continue;
    }
    if (options_.format.whitespace ||
        std::memchr(begin, '"', static_cast<size_t>(content_end - begin)) == nullptr) {
      if (static_cast<size_t>(content_end - begin) > options_.max_record_bytes) {
        Malformed(record, core::StrCat("record longer than ", options_.max_record_bytes, " bytes"),
                  static_cast<size_t>(content_end - base), next);
        return true;
      }
      record->line = line_;
      record->raw = std::string_view(begin, static_cast<size_t>(content_end - begin));
      SplitSimple(begin, content_end, record);
      ++line_;
      pos_ = next;
      return true;
    }
    ParseQuoted(record);
    return true;
  }
  return false;
}

// --------------------------------------------------------------------------------- CsvReader

absl::StatusOr<std::unique_ptr<CsvReader>> CsvReader::Open(const std::filesystem::path& path,
                                                           const CsvReaderOptions& options) {
  auto blocks = CsvBlockReader::Open(path, options);
  if (!blocks.ok()) return blocks.status();
  return std::unique_ptr<CsvReader>(new CsvReader(std::move(*blocks), options));
}

bool CsvReader::Next(CsvRecord* record) {
  while (true) {
    if (parser_ != nullptr && parser_->Next(record)) return true;
    if (parser_ != nullptr) {
      blank_lines_done_ += parser_->blank_lines();
      next_line_ = parser_->next_line();
    }
    parser_.reset();
    if (!blocks_->Next(&block_)) return false;
    block_.first_line = next_line_;
    parser_ = std::make_unique<CsvRecordParser>(options_, block_);
  }
}

int64_t CsvReader::blank_lines() const {
  return blank_lines_done_ + (parser_ != nullptr ? parser_->blank_lines() : 0);
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

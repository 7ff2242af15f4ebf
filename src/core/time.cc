#include "core/time.h"

#include <charconv>
#include <chrono>
#include <cstring>

#include "core/strings.h"

namespace pdm::core {
namespace {

bool ParseDigits(std::string_view text, size_t pos, size_t count, int64_t* out) {
  if (pos + count > text.size()) return false;
  int64_t value = 0;
  for (size_t i = pos; i < pos + count; ++i) {
    const char c = text[i];
    if (c < '0' || c > '9') return false;
    value = value * 10 + (c - '0');
  }
  *out = value;
  return true;
}

bool IsLeap(int64_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

unsigned DaysInMonth(int64_t year, unsigned month) {
  static constexpr unsigned kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return month == 2 && IsLeap(year) ? 29 : kDays[month - 1];
}

}  // namespace

absl::StatusOr<Span> ParseSpan(std::string_view text) {
  if (text.size() < 2) {
    return absl::InvalidArgumentError(
        StrCat("bad span '", text, "': expected a positive integer and a unit (s, m, h, d, w, r)"));
  }
  int64_t amount = 0;
  const char* begin = text.data();
  const char* end = text.data() + text.size() - 1;
  auto [ptr, ec] = std::from_chars(begin, end, amount);
  if (ec != std::errc() || ptr != end || amount <= 0) {
    return absl::InvalidArgumentError(
        StrCat("bad span '", text, "': expected a positive integer and a unit (s, m, h, d, w, r)"));
  }
  int64_t scale = 0;
  switch (text.back()) {
    case 's':
      scale = 1;
      break;
    case 'm':
      scale = 60;
      break;
    case 'h':
      scale = 3600;
      break;
    case 'd':
      scale = 86400;
      break;
    case 'w':
      scale = int64_t{7} * 86400;
      break;
    case 'r':
      return Span{Span::Kind::kRecords, amount};
    default:
      return absl::InvalidArgumentError(StrCat("bad span '", text, "': unknown unit '",
                                               text.substr(text.size() - 1),
                                               "' (use s, m, h, d, w or r)"));
  }
  if (amount > INT64_MAX / scale) {
    return absl::InvalidArgumentError(StrCat("bad span '", text, "': too large"));
  }
  return Span{Span::Kind::kTime, amount * scale};
}

absl::StatusOr<int64_t> ParseDurationSeconds(std::string_view text) {
  auto span = ParseSpan(text);
  if (!span.ok()) return span.status();
  if (!span->is_time()) {
    return absl::InvalidArgumentError(StrCat(
        "bad duration '", text, "': a length of time is needed (s, m, h, d, w), not records"));
  }
  return span->amount;
}

std::string FormatSpan(const Span& span) {
  if (!span.is_time()) return StrCat(span.amount, "r");
  static constexpr std::pair<int64_t, char> kUnits[] = {
      {7 * 86400, 'w'}, {86400, 'd'}, {3600, 'h'}, {60, 'm'}, {1, 's'}};
  for (const auto& [seconds, unit] : kUnits) {
    if (span.amount % seconds == 0) return StrCat(span.amount / seconds, std::string(1, unit));
  }
  return StrCat(span.amount, "s");
}

int64_t DaysFromCivil(int64_t year, unsigned month, unsigned day) {
  using namespace std::chrono;
  const sys_days days{std::chrono::year(static_cast<int>(year)) / std::chrono::month(month) /
                      std::chrono::day(day)};
  return days.time_since_epoch().count();
}

bool ParseTimestamp(std::string_view text, EpochSeconds* out, DateCache* cache) {
  int64_t days_since_epoch;
  if (cache != nullptr && text.size() >= 10 && cache->valid &&
      std::memcmp(text.data(), cache->date, 10) == 0) {
    days_since_epoch = cache->days;
  } else {
    int64_t year, month, day;
    if (!ParseDigits(text, 0, 4, &year) || text.size() < 10 || text[4] != '-' ||
        !ParseDigits(text, 5, 2, &month) || text[7] != '-' || !ParseDigits(text, 8, 2, &day)) {
      return false;
    }
    if (month < 1 || month > 12 || day < 1 ||
        day > DaysInMonth(year, static_cast<unsigned>(month))) {
      return false;
    }
    days_since_epoch =
        DaysFromCivil(year, static_cast<unsigned>(month), static_cast<unsigned>(day));
    if (cache != nullptr) {
      std::memcpy(cache->date, text.data(), 10);
      cache->days = days_since_epoch;
      cache->valid = true;
    }
  }
  double seconds_of_day = 0;
  size_t pos = 10;
  if (pos < text.size() && (text[pos] == 'T' || text[pos] == 't' || text[pos] == ' ')) {
    int64_t hour, minute, second = 0;
    if (!ParseDigits(text, pos + 1, 2, &hour) || pos + 3 >= text.size() || text[pos + 3] != ':' ||
        !ParseDigits(text, pos + 4, 2, &minute)) {
      return false;
    }
    pos += 6;
    double fraction = 0;
    if (pos < text.size() && text[pos] == ':') {
      if (!ParseDigits(text, pos + 1, 2, &second)) return false;
      pos += 3;
      if (pos < text.size() && (text[pos] == '.' || text[pos] == ',')) {
        ++pos;
        double scale = 0.1;
        const size_t start = pos;
        while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
          fraction += (text[pos] - '0') * scale;
          scale *= 0.1;
          ++pos;
        }
        if (pos == start) return false;
      }
    }
    // 60 admits a leap second, which folds into the next minute like POSIX time does.
    if (hour > 23 || minute > 59 || second > 60) return false;
    seconds_of_day = static_cast<double>(hour * 3600 + minute * 60 + second) + fraction;
    if (pos < text.size()) {
      if (text[pos] == 'Z' || text[pos] == 'z') {
        ++pos;
      } else if (text[pos] == '+' || text[pos] == '-') {
        const int sign = text[pos] == '+' ? 1 : -1;
        int64_t off_h, off_m = 0;
        if (!ParseDigits(text, pos + 1, 2, &off_h)) return false;
        pos += 3;
        if (pos < text.size() && text[pos] == ':') ++pos;
        if (pos < text.size()) {
          if (!ParseDigits(text, pos, 2, &off_m)) return false;
          pos += 2;
        }
        if (off_h > 23 || off_m > 59) return false;
        seconds_of_day -= sign * static_cast<double>(off_h * 3600 + off_m * 60);
      }
    }
  }
  if (pos != text.size()) return false;
  *out = static_cast<double>(days_since_epoch) * 86400.0 + seconds_of_day;
  return true;
}

int FormatTimestamp(int64_t epoch_seconds, char* out) {
  using namespace std::chrono;
  int64_t days = epoch_seconds / 86400;
  int64_t rem = epoch_seconds % 86400;
  if (rem < 0) {
    rem += 86400;
    --days;
  }
  const year_month_day ymd{sys_days{std::chrono::days{days}}};
  const int y = static_cast<int>(ymd.year());
  const unsigned mo = static_cast<unsigned>(ymd.month());
  const unsigned d = static_cast<unsigned>(ymd.day());
  const int64_t h = rem / 3600, mi = rem % 3600 / 60, s = rem % 60;
  auto put2 = [](char* p, int64_t v) {
    p[0] = static_cast<char>('0' + v / 10);
    p[1] = static_cast<char>('0' + v % 10);
  };
  out[0] = static_cast<char>('0' + y / 1000 % 10);
  out[1] = static_cast<char>('0' + y / 100 % 10);
  out[2] = static_cast<char>('0' + y / 10 % 10);
  out[3] = static_cast<char>('0' + y % 10);
  out[4] = '-';
  put2(out + 5, mo);
  out[7] = '-';
  put2(out + 8, d);
  out[10] = 'T';
  put2(out + 11, h);
  out[13] = ':';
  put2(out + 14, mi);
  out[16] = ':';
  put2(out + 17, s);
  out[19] = 'Z';
  return 20;
}

std::string FormatTimestamp(int64_t epoch_seconds) {
  char buffer[20];
  return std::string(buffer, static_cast<size_t>(FormatTimestamp(epoch_seconds, buffer)));
}

}  // namespace pdm::core

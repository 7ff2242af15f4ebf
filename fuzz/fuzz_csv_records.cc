// libFuzzer target: the CSV record parser (quotes, escapes, line breaks inside quotes, blank
// lines, overlong records). The first byte picks the format: delimiter and whitespace mode.
#include <cstddef>
#include <cstdint>
#include <string>

#include "io/csv_reader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  pdm::io::CsvReaderOptions options;
  const uint8_t mode = data[0];
  options.format.delimiter = ",;\t|"[mode & 3];
  options.format.whitespace = (mode & 4) != 0;
  options.max_record_bytes = (mode & 8) != 0 ? 64 : size_t{1} << 20;
  pdm::io::CsvBlock block;
  block.data.assign(reinterpret_cast<const char*>(data) + 1, size - 1);
  pdm::io::CsvRecordParser parser(options, block);
  pdm::io::CsvRecord record;
  size_t fields = 0;
  while (parser.Next(&record)) fields += record.fields.size();
  // Fields never come from nowhere: a record holds at most one field per byte, plus one.
  if (fields > block.data.size() + 1 + static_cast<size_t>(parser.next_line())) __builtin_trap();
  return 0;
}

// Reading the simulator's CSV files in integration tests.
#ifndef PDM_TESTS_TESTING_CSV_H_
#define PDM_TESTS_TESTING_CSV_H_

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

namespace pdm::testing {

using CsvRow = std::map<std::string, std::string>;

// A CSV file with a header and no quoted fields, as rows of column -> text.
inline std::vector<CsvRow> ReadCsv(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::string line;
  std::vector<std::string> header;
  std::vector<CsvRow> rows;
  while (std::getline(in, line)) {
    std::vector<std::string> cells;
    std::stringstream split(line);
    std::string cell;
    while (std::getline(split, cell, ',')) cells.push_back(cell);
    if (!line.empty() && line.back() == ',') cells.emplace_back();
    if (header.empty()) {
      header = cells;
      continue;
    }
    CsvRow row;
    for (size_t i = 0; i < header.size() && i < cells.size(); ++i) row[header[i]] = cells[i];
    rows.push_back(std::move(row));
  }
  return rows;
}

}  // namespace pdm::testing

#endif  // PDM_TESTS_TESTING_CSV_H_

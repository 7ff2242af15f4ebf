#include "serving/fast_reader.h"

#include <simdjson.h>

#include <algorithm>
#include <cfloat>

#include "core/time.h"

namespace pdm::serving {
namespace {

namespace dom = simdjson::dom;

// The thread's parser: it keeps its buffers from body to body (ReleaseFastReaderMemory).
dom::parser& Parser() {
  thread_local dom::parser parser;
  return parser;
}

bool ReadNumber(dom::element value, double* out) {
  switch (value.type()) {
    case dom::element_type::DOUBLE:
      *out = value.get_double().value_unsafe();
      return true;
    case dom::element_type::INT64:
      *out = static_cast<double>(value.get_int64().value_unsafe());
      return true;
    case dom::element_type::UINT64:
      *out = static_cast<double>(value.get_uint64().value_unsafe());
      return true;
    default:
      return false;
  }
}

bool ReadTime(dom::element value, spec::TimeType type, double* time, std::string_view* text) {
  *text = {};  // a number's: none (never a view left from an earlier body)
  if (type == spec::TimeType::kNone) return false;  // the full reader ignores it: not ours
  if (value.is_string()) {
    *text = value.get_string().value_unsafe();
    if (type != spec::TimeType::kTimestamp || !core::ParseTimestamp(*text, time)) return false;
  } else if (!ReadNumber(value, time)) {
    return false;
  }
  return std::isfinite(*time);
}

bool ReadValues(dom::object values, const features::InputLayout& layout, bool allow_unknown,
                MachineReading* reading) {
  reading->numeric.assign(layout.numeric.size(), std::nan(""));
  reading->categorical.assign(layout.categorical.size(), -1);
  size_t known = 0;
  for (const dom::key_value_pair field : values) {
    const auto numeric = std::find(layout.numeric.begin(), layout.numeric.end(), field.key);
    if (numeric != layout.numeric.end()) {
      if (field.value.is_null()) continue;
      const auto i = static_cast<size_t>(numeric - layout.numeric.begin());
      double v = 0;
      if (!ReadNumber(field.value, &v) || !NumericValueAccepted(layout, i, v)) return false;
      reading->numeric[i] = v;
      ++known;
      continue;
    }
    const auto categorical =
        std::find_if(layout.categorical.begin(), layout.categorical.end(),
                     [&](const features::CategoricalInput& c) { return c.name == field.key; });
    if (categorical != layout.categorical.end()) {
      if (field.value.is_null()) continue;
      if (!field.value.is_string()) return false;
      const std::string_view text = field.value.get_string().value_unsafe();
      const auto code = std::find(categorical->values.begin(), categorical->values.end(), text);
      if (code == categorical->values.end()) return false;
      reading->categorical[static_cast<size_t>(categorical - layout.categorical.begin())] =
          static_cast<int32_t>(code - categorical->values.begin());
      ++known;
      continue;
    }
    if (!allow_unknown) return false;
  }
  return known > 0;
}

bool ReadReading(dom::element element, const features::InputLayout& layout, bool allow_unknown,
                 FastReading* out) {
  out->time_text = {};
  dom::object record;
  if (element.get_object().get(record) != simdjson::SUCCESS) return false;
  bool machine = false, time = false, values = false;
  for (const dom::key_value_pair field : record) {
    if (field.key == "machine") {
      if (machine || !field.value.is_string()) return false;
      const std::string_view id = field.value.get_string().value_unsafe();
      if (id.empty() || id.size() > kMaxMachineIdLength) return false;
      out->reading.machine.assign(id);
      machine = true;
    } else if (field.key == "time") {
      if (time || !ReadTime(field.value, layout.time_type, &out->reading.time, &out->time_text)) {
        return false;
      }
      time = true;
    } else if (field.key == "values") {
      dom::object object;
      if (values || field.value.get_object().get(object) != simdjson::SUCCESS ||
          !ReadValues(object, layout, allow_unknown, &out->reading)) {
        return false;
      }
      values = true;
    } else {
      return false;  // attributes, or a key the full reader would refuse or ignore
    }
  }
  out->reading.statics.reset();
  return machine && time && values;
}

// One reading, read or handed on to the full reader.
void ReadOrHandOn(dom::element element, const features::InputLayout& layout, bool allow_unknown,
                  FastReading* out) {
  out->full_reader_json.clear();
  if (!ReadReading(element, layout, allow_unknown, out)) {
    out->full_reader_json = simdjson::minify(element);
    out->time_text = {};
  }
}

// One predict record into `row` (the model's feature order).
bool ReadRecord(dom::element element, const ServedModel& model, bool allow_unknown, float* row,
                std::vector<bool>* seen) {
  dom::object record;
  if (element.get_object().get(record) != simdjson::SUCCESS) return false;
  dom::object features = record;
  dom::element inner;
  if (record["features"].get(inner) == simdjson::SUCCESS && inner.is_object()) {
    features = inner.get_object().value_unsafe();
  }
  const size_t width = model.bundle.ensemble.feature_names.size();
  seen->assign(width, false);
  size_t found = 0;
  for (const dom::key_value_pair field : features) {
    const auto index = model.feature_index.find(field.key);
    if (index == model.feature_index.end()) {
      if (allow_unknown) continue;
      return false;
    }
    const size_t i = index->second;
    if (!(*seen)[i]) ++found;
    (*seen)[i] = true;
    if (field.value.is_null()) {
      row[i] = std::nanf("");
      continue;
    }
    double v = 0;
    if (!ReadNumber(field.value, &v) || !FeatureValueAccepted(model, field.key, v)) return false;
    row[i] = static_cast<float>(v);
  }
  return found == width;  // a feature left out is refused as missing
}

}  // namespace

void ReleaseFastReaderMemory(size_t keep_bytes) {
  if (Parser().capacity() > keep_bytes) Parser() = dom::parser();
}

bool FeatureValueAccepted(const ServedModel& model, std::string_view name, double v) {
  if (!std::isfinite(v) || std::fabs(v) > FLT_MAX) return false;
  const auto range = model.ranges.find(name);
  return range == model.ranges.end() || (v >= range->second.first && v <= range->second.second);
}

bool ReadPredictFast(std::string_view body, bool batch, const ServedModel& model,
                     bool allow_unknown, size_t max_records, std::vector<float>* rows,
                     size_t* records) {
  thread_local std::vector<bool> seen;
  dom::element root;
  if (Parser().parse(body.data(), body.size()).get(root) != simdjson::SUCCESS) return false;
  const size_t width = model.bundle.ensemble.feature_names.size();
  if (!batch) {
    rows->resize(width);
    *records = 1;
    return ReadRecord(root, model, allow_unknown, rows->data(), &seen);
  }
  dom::array list;
  if (root.get_array().get(list) != simdjson::SUCCESS) {
    dom::object object;
    dom::element instances;
    if (root.get_object().get(object) != simdjson::SUCCESS ||
        object["instances"].get(instances) != simdjson::SUCCESS ||
        instances.get_array().get(list) != simdjson::SUCCESS) {
      return false;
    }
  }
  *records = list.size();
  if (*records == 0 || *records > max_records) return false;
  rows->resize(*records * width);
  size_t r = 0;
  for (dom::element element : list) {
    if (!ReadRecord(element, model, allow_unknown, rows->data() + width * r++, &seen)) {
      return false;
    }
  }
  return true;
}

bool ReadTelemetryFast(std::string_view body, const features::InputLayout& layout,
                       bool allow_unknown, size_t max_readings, std::vector<FastReading>* out) {
  dom::element root;
  if (Parser().parse(body.data(), body.size()).get(root) != simdjson::SUCCESS) return false;
  dom::array readings;
  dom::object object;
  if (root.get_array().get(readings) == simdjson::SUCCESS) {
  } else if (root.get_object().get(object) == simdjson::SUCCESS) {
    dom::element list;
    if (object["readings"].get(list) == simdjson::SUCCESS) {
      if (object.size() != 1 || list.get_array().get(readings) != simdjson::SUCCESS) return false;
    } else {
      // One reading: it must be one the fast reader takes (the full reader answers a single
      // refused reading otherwise than one of a list).
      out->resize(1);
      (*out)[0].full_reader_json.clear();
      return ReadReading(root, layout, allow_unknown, &(*out)[0]);
    }
  } else {
    return false;
  }
  const size_t count = readings.size();
  if (count == 0 || count > max_readings) return false;
  out->resize(count);
  size_t i = 0;
  for (dom::element element : readings) ReadOrHandOn(element, layout, allow_unknown, &(*out)[i++]);
  return true;
}

}  // namespace pdm::serving

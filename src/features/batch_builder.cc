#include "features/batch_builder.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <fstream>
#include <thread>

#include "core/status.h"
#include "core/strings.h"
#include "core/time.h"
#include "io/csv_reader.h"

namespace pdm::features {
namespace {
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

void AppendNumber(double value, std::string* out) {
  if (std::isfinite(value)) fmt::format_to(std::back_inserter(*out), "{}", value);
}

}  // namespace

void LabelCounts::Add(const LabelCounts& other) {
  positive += other.positive;
  negative += other.negative;
  censored += other.censored;
  excluded += other.excluded;
  rul_known += other.rul_known;
  mode_unknown += other.mode_unknown;
}

void ComputeLabels(const EntityHistory& history, const spec::LabelSpec& labels, int label_input,
                   bool has_repairs, double time_unit, FeatureBlock* block,
                   std::span<const int> mode_inputs) {
  const size_t n = history.rows();
  block->label.assign(n, kNaN);
  block->rul.assign(n, kNaN);
  block->mode.assign(n, kNaN);
  LabelCounts& counts = block->counts;
  if (labels.source == spec::LabelSource::kNone) return;
  if (labels.source == spec::LabelSource::kColumn) {
    if (label_input < 0 || n == 0) return;
    const size_t width = history.numeric.size() / n;
    for (size_t i = 0; i < n; ++i) {
      const double y = history.numeric[i * width + static_cast<size_t>(label_input)];
      block->label[i] = y;
      if (std::isnan(y)) {
        ++counts.censored;
        continue;
      }
      ++(y > 0 ? counts.positive : counts.negative);
      if (y <= 0) {
        block->mode[i] = 0;
        continue;
      }
      for (size_t k = 0; k < mode_inputs.size(); ++k) {
        if (history.numeric[i * width + static_cast<size_t>(mode_inputs[k])] > 0) {
          block->mode[i] = static_cast<double>(k + 1);
          break;
        }
      }
      if (std::isnan(block->mode[i])) ++counts.mode_unknown;
    }
    return;
  }
  const std::vector<double>& failures = history.label_failures;
  const std::vector<double>& all = history.all_failures;
  const std::vector<double>& repairs = history.repairs;
  size_t next = 0, any = 0;
  for (size_t i = 0; i < n; ++i) {
    const double t = history.time[i];
    while (any < all.size() && all[any] < t) ++any;
    if (has_repairs && any > 0) {
      // The last failure before t: the record is excluded until a repair at or after it.
      const double failed = all[any - 1];
      const auto repair = std::lower_bound(repairs.begin(), repairs.end(), failed);
      if (repair == repairs.end() || *repair > t) {
        ++counts.excluded;
        continue;
      }
    }
    while (next < failures.size() && failures[next] < t) ++next;
    const bool has_next = next < failures.size();
    const double until = has_next ? failures[next] - t : kNaN;
    if (labels.horizon) {
      const double h = *labels.horizon;
      if (has_next && until <= h) {
        block->label[i] = 1;
        ++counts.positive;
        const int32_t mode =
            next < history.label_failure_modes.size() ? history.label_failure_modes[next] : -1;
        if (mode >= 0) {
          block->mode[i] = mode + 1;
        } else {
          ++counts.mode_unknown;
        }
      } else if (has_next || t + h <= history.end_time) {
        block->label[i] = 0;
        block->mode[i] = 0;
        ++counts.negative;
      } else {
        ++counts.censored;
      }
    }
    double rul = until;
    if (labels.rul_clip) {
      const double clip = *labels.rul_clip;
      if (has_next) {
        rul = std::min(rul, clip);
      } else if (history.end_time - t >= clip) {
        rul = clip;  // censored, but known to be at least the clip
      }
    }
    if (!std::isnan(rul)) {
      block->rul[i] = rul / time_unit;
      ++counts.rul_known;
    }
  }
}

BatchFeatureBuilder::BatchFeatureBuilder(const FeaturePipeline* pipeline, spec::LabelSpec labels,
                                         int threads)
    : pipeline_(pipeline), labels_(std::move(labels)), threads_(threads) {
  const InputLayout& in = pipeline_->layout();
  for (size_t i = 0; i < in.numeric.size(); ++i) {
    if (in.numeric_roles[i] == spec::ColumnRole::kLabel && in.numeric[i] == labels_.column) {
      label_input_ = static_cast<int>(i);
    }
  }
  for (const std::string& component : labels_.components) {
    for (size_t i = 0; i < in.numeric.size(); ++i) {
      if (in.numeric_roles[i] == spec::ColumnRole::kLabelComponent && in.numeric[i] == component) {
        mode_inputs_.push_back(static_cast<int>(i));
      }
    }
  }
  if (threads_ <= 0) threads_ = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
}

absl::Status BatchFeatureBuilder::BuildEntity(const LoadedDataset& data, uint32_t entity,
                                              FeatureBlock* block) const {
  const EntityHistory& h = data.entities[entity];
  const size_t n = h.rows(), width = pipeline_->feature_count();
  const size_t numeric_width = pipeline_->layout().numeric.size();
  const size_t categorical_width = pipeline_->layout().categorical.size();
  block->entity = entity;
  block->time = h.time;
  block->features.resize(n * width);
  block->counts = LabelCounts{};
  OnlineFeatureState state(pipeline_, h.statics);
  size_t e = 0;
  for (size_t i = 0; i < n; ++i) {
    const double t = h.time[i];
    for (; e < h.events.size() && h.events[e].time <= t; ++e) {
      PDM_RETURN_IF_ERROR(state.AddEvent(h.events[e]));
    }
    const Reading reading{
        t, std::span<const double>(h.numeric).subspan(i * numeric_width, numeric_width),
        std::span<const int32_t>(h.categorical).subspan(i * categorical_width, categorical_width)};
    PDM_RETURN_IF_ERROR(
        state.Update(reading, std::span<double>(block->features).subspan(i * width, width)));
  }
  ComputeLabels(h, labels_, label_input_, pipeline_->layout().has_maintenance,
                pipeline_->time_unit(), block, mode_inputs_);
  return absl::OkStatus();
}

absl::Status BatchFeatureBuilder::Build(
    const LoadedDataset& data,
    const std::function<absl::Status(const FeatureBlock&)>& consume) const {
  const size_t entities = data.entities.size();
  const size_t threads =
      std::min<size_t>(static_cast<size_t>(threads_), std::max<size_t>(entities, 1));
  const size_t chunk = threads * 4;
  std::vector<FeatureBlock> blocks(std::min(chunk, entities));
  std::vector<absl::Status> statuses(blocks.size());
  for (size_t first = 0; first < entities; first += chunk) {
    const size_t count = std::min(chunk, entities - first);
    std::atomic<size_t> next{0};
    auto work = [&] {
      for (size_t k = next++; k < count; k = next++) {
        statuses[k] = BuildEntity(data, static_cast<uint32_t>(first + k), &blocks[k]);
      }
    };
    std::vector<std::thread> pool;
    for (size_t w = 1; w < std::min(threads, count); ++w) pool.emplace_back(work);
    work();
    for (std::thread& t : pool) t.join();
    for (size_t k = 0; k < count; ++k) {
      PDM_RETURN_IF_ERROR(statuses[k]);
      PDM_RETURN_IF_ERROR(consume(blocks[k]));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<FeatureTable> BuildFeatureTable(const BatchFeatureBuilder& builder,
                                               const FeaturePipeline& pipeline,
                                               const LoadedDataset& data) {
  FeatureTable table;
  table.feature_names = pipeline.feature_names();
  for (const EntityHistory& h : data.entities) table.entity_names.push_back(h.name);
  const size_t rows = static_cast<size_t>(data.rows);
  table.time.reserve(rows);
  table.entity.reserve(rows);
  table.features.reserve(rows * pipeline.feature_count());
  table.label.reserve(rows);
  table.rul.reserve(rows);
  table.mode.reserve(rows);
  PDM_RETURN_IF_ERROR(builder.Build(data, [&](const FeatureBlock& block) {
    table.entity.insert(table.entity.end(), block.rows(), block.entity);
    table.time.insert(table.time.end(), block.time.begin(), block.time.end());
    table.features.insert(table.features.end(), block.features.begin(), block.features.end());
    table.label.insert(table.label.end(), block.label.begin(), block.label.end());
    table.rul.insert(table.rul.end(), block.rul.begin(), block.rul.end());
    table.mode.insert(table.mode.end(), block.mode.begin(), block.mode.end());
    table.counts.Add(block.counts);
    return absl::OkStatus();
  }));
  return table;
}

absl::StatusOr<CsvSummary> WriteFeaturesCsv(const BatchFeatureBuilder& builder,
                                            const FeaturePipeline& pipeline,
                                            const spec::DatasetSpec& spec,
                                            const LoadedDataset& data,
                                            const std::filesystem::path& path) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) return absl::PermissionDeniedError(core::StrCat(path.string(), ": cannot write"));
  CsvSummary summary;
  const bool has_entity = !spec.data.entity_column.empty();
  const spec::TimeType time_type = spec.data.time_type;
  std::string buffer;
  std::vector<std::string_view> header;
  if (has_entity) header.push_back(spec.data.entity_column);
  if (time_type != spec::TimeType::kNone) header.push_back(spec.data.time_column);
  for (const std::string& name : pipeline.feature_names()) header.push_back(name);
  header.push_back("label");
  header.push_back("rul");
  for (size_t i = 0; i < header.size(); ++i) {
    if (i > 0) buffer.push_back(',');
    io::AppendCsvField(header[i], ',', &buffer);
  }
  buffer.push_back('\n');
  const size_t width = pipeline.feature_count();
  char stamp[20];
  PDM_RETURN_IF_ERROR(builder.Build(data, [&](const FeatureBlock& block) {
    const std::string& entity = data.entities[block.entity].name;
    for (size_t r = 0; r < block.rows(); ++r) {
      if (has_entity) {
        io::AppendCsvField(entity, ',', &buffer);
        buffer.push_back(',');
      }
      if (time_type == spec::TimeType::kTimestamp) {
        buffer.append(stamp, static_cast<size_t>(core::FormatTimestamp(
                                 static_cast<int64_t>(std::floor(block.time[r])), stamp)));
        buffer.push_back(',');
      } else if (time_type != spec::TimeType::kNone) {
        AppendNumber(block.time[r], &buffer);
        buffer.push_back(',');
      }
      for (size_t f = 0; f < width; ++f) {
        AppendNumber(block.features[r * width + f], &buffer);
        buffer.push_back(',');
      }
      AppendNumber(block.label[r], &buffer);
      buffer.push_back(',');
      AppendNumber(block.rul[r], &buffer);
      buffer.push_back('\n');
      if (buffer.size() > (size_t{1} << 20)) {
        out.write(buffer.data(), static_cast<std::streamsize>(buffer.size()));
        summary.bytes += static_cast<int64_t>(buffer.size());
        buffer.clear();
      }
    }
    summary.rows += static_cast<int64_t>(block.rows());
    summary.counts.Add(block.counts);
    return absl::OkStatus();
  }));
  out.write(buffer.data(), static_cast<std::streamsize>(buffer.size()));
  summary.bytes += static_cast<int64_t>(buffer.size());
  out.close();
  if (!out) return absl::DataLossError(core::StrCat(path.string(), ": write failed"));
  return summary;
}

}  // namespace pdm::features

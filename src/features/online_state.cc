#include "features/online_state.h"

#include <cmath>

#include "core/strings.h"

namespace pdm::features {
namespace {
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr char kMagic[8] = {'P', 'D', 'M', 'O', 'F', 'S', '0', '4'};
}  // namespace

OnlineFeatureState::OnlineFeatureState(const FeaturePipeline* pipeline, EntityStatic statics,
                                       bool compact_values)
    : pipeline_(pipeline),
      statics_(std::move(statics)),
      windows_(pipeline->window_defs(), pipeline->windowed().size(), pipeline->time_unit(),
               EntityWindows::NeedsOf(pipeline->spec().stats), compact_values),
      windowed_values_(pipeline->windowed().size()) {
  const InputLayout& in = pipeline_->layout();
  statics_.numeric.resize(in.static_numeric.size(), kNaN);
  statics_.categorical.resize(in.static_categorical.size(), -1);
  window_begins_.assign(pipeline_->window_defs().size(), 0);
  error_windows_.resize(pipeline_->spec().event_windows.size());
  for (ErrorWindow& w : error_windows_) w.counts.assign(1 + in.error_kinds.size(), 0);
  last_maintenance_by_kind_.assign(in.maintenance_kinds.size(), kNaN);
}

bool OnlineFeatureState::HoldsRecordAt(double t) const {
  // The record times are ascending: a binary search over the ring's positions.
  int64_t lo = times_.begin(), hi = times_.end();
  while (lo < hi) {
    const int64_t mid = lo + (hi - lo) / 2;
    if (times_.at(mid) < t) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  return lo < times_.end() && times_.at(lo) == t;
}

absl::Status OnlineFeatureState::AddEvent(const Event& event) {
  if (!std::isfinite(event.time)) return absl::InvalidArgumentError("event: time is not finite");
  if (event.time <= last_time_ || event.time < last_event_time_) {
    return absl::FailedPreconditionError(
        core::StrCat("event at ", event.time, " arrives after a later reading or event (",
                     std::max(last_time_, last_event_time_),
                     "): events must come in time order, before the readings they precede"));
  }
  last_event_time_ = event.time;
  const InputLayout& in = pipeline_->layout();
  switch (event.type) {
    case EventType::kMaintenance: {
      last_maintenance_ = event.time;
      const bool known =
          event.kind >= 0 && static_cast<size_t>(event.kind) < in.maintenance_kinds.size();
      if (known) last_maintenance_by_kind_[static_cast<size_t>(event.kind)] = event.time;
      const auto& windowed = pipeline_->windowed();
      for (size_t s = 0; s < windowed.size(); ++s) {
        bool reset = windowed[s].reset_on_any;
        for (int kind : windowed[s].reset_components)
          reset = reset || (known && kind == event.kind);
        if (reset) windows_.Reset(s);
      }
      break;
    }
    case EventType::kFailure:
      last_failure_ = event.time;
      break;
    case EventType::kError: {
      if (error_windows_.empty()) break;
      errors_.push_back({event.time, event.kind});
      const bool known = event.kind >= 0 && static_cast<size_t>(event.kind) < in.error_kinds.size();
      for (ErrorWindow& w : error_windows_) {
        ++w.counts[0];
        if (known) ++w.counts[1 + static_cast<size_t>(event.kind)];
      }
      break;
    }
  }
  return absl::OkStatus();
}

absl::Status OnlineFeatureState::Update(const Reading& reading, std::span<double> out) {
  const FeaturePipeline& p = *pipeline_;
  const InputLayout& in = p.layout();
  if (out.size() != p.feature_count()) {
    return absl::InvalidArgumentError(core::StrCat(
        "output has ", out.size(), " slots, the pipeline ", p.feature_count(), " features"));
  }
  if (reading.numeric.size() != in.numeric.size() ||
      reading.categorical.size() != in.categorical.size()) {
    return absl::InvalidArgumentError(
        core::StrCat("reading has ", reading.numeric.size(), " numeric and ",
                     reading.categorical.size(), " categorical inputs, the pipeline expects ",
                     in.numeric.size(), " and ", in.categorical.size()));
  }
  if (!p.fitted()) return absl::FailedPreconditionError("feature pipeline is not fitted");
  const bool timed = in.time_type != spec::TimeType::kNone;
  const double t = reading.time;
  if (timed) {
    if (!std::isfinite(t)) return absl::InvalidArgumentError("reading: time is missing");
    if (t == last_time_) {  // at-least-once delivery's repeat: told apart from disorder
      return absl::AlreadyExistsError(core::StrCat(
          "reading at ", t, " repeats the previous reading (", last_time_, "): a duplicate"));
    }
    if (t < last_time_ && HoldsRecordAt(t)) {
      return absl::AlreadyExistsError(
          core::StrCat("reading at ", t, " was applied already (the previous reading is at ",
                       last_time_, "): a duplicate"));
    }
    if (t < last_time_) {
      return absl::FailedPreconditionError(
          core::StrCat("reading at ", t, (t == last_time_ ? " repeats" : " is earlier than"),
                       " the previous reading (", last_time_, "): out of order"));
    }
    if (t < last_event_time_) {
      return absl::FailedPreconditionError(core::StrCat(
          "reading at ", t, " is earlier than an event already applied (", last_event_time_, ")"));
    }
  }
  const int64_t record = records_++;
  if (!windowed_values_.empty()) times_.push_back(t);  // position `record`
  if (timed) {
    last_time_ = t;
    if (record == 0) first_time_ = t;
  }
  const spec::FeatureSpec& f = p.spec();
  const bool onehot = f.categoricals == spec::CategoricalEncoding::kOneHot;
  size_t o = 0;
  for (int input : p.raw_inputs()) out[o++] = reading.numeric[static_cast<size_t>(input)];
  for (const FeaturePipeline::DerivedInput& d : p.derived()) {
    const double a = reading.numeric[static_cast<size_t>(d.a)];
    const double b = reading.numeric[static_cast<size_t>(d.b)];
    switch (d.op) {
      case spec::FeatureSpec::DerivedOp::kProduct:
        out[o++] = a * b;
        break;
      case spec::FeatureSpec::DerivedOp::kDifference:
        out[o++] = a - b;
        break;
      case spec::FeatureSpec::DerivedOp::kRatio:
        out[o++] = b != 0 ? a / b : kNaN;  // NaN propagates; x / 0 is undefined, not infinite
        break;
      case spec::FeatureSpec::DerivedOp::kSum:
        out[o++] = a + b;
        break;
    }
  }
  auto put_categorical = [&](const std::vector<CategoricalInput>& inputs,
                             std::span<const int32_t> codes) {
    for (size_t c = 0; c < inputs.size(); ++c) {
      const int32_t code = codes[c];
      if (!onehot || inputs[c].values.empty()) {
        out[o++] = code < 0 ? kNaN : code;
      } else {
        for (size_t v = 0; v < inputs[c].values.size(); ++v) {
          out[o++] = code < 0 ? kNaN : (static_cast<size_t>(code) == v ? 1.0 : 0.0);
        }
      }
    }
  };
  put_categorical(in.categorical, reading.categorical);
  for (double x : statics_.numeric) out[o++] = x;
  put_categorical(in.static_categorical, statics_.categorical);
  int regime = -1;
  const RegimeModel* regimes = p.regimes() ? &*p.regimes() : nullptr;
  if (regimes) {
    regime = regimes->Assign(reading.numeric);
    out[o++] = regime < 0 ? kNaN : regime;
  }
  const bool normalize = regimes && f.regimes && f.regimes->normalize;
  const auto& windowed = p.windowed();
  if (!windowed.empty()) {
    const size_t stats = f.stats.size(), output_windows = f.windows.size();
    const int baseline = p.baseline_window();
    AdvanceWindowBegins(p.window_defs(), times_, record, window_begins_);
    for (size_t s = 0; s < windowed.size(); ++s) {
      double x = reading.numeric[static_cast<size_t>(windowed[s].input)];
      if (normalize) {
        x = regime < 0 ? kNaN
                       : (x - regimes->mean[static_cast<size_t>(regime)][s]) /
                             regimes->stddev[static_cast<size_t>(regime)][s];
      }
      windowed_values_[s] = x;
    }
    windows_.Update(times_, record, window_begins_, windowed_values_);
    windows_.Emit(output_windows, f.stats, baseline, out.data() + o);
    o += windowed.size() * output_windows * stats;
    int64_t needed = record;
    for (int64_t begin : window_begins_) needed = std::min(needed, begin);
    times_.drop_before(needed);
  }
  if (!error_windows_.empty()) {
    int64_t keep_from = errors_.end();
    for (size_t w = 0; w < error_windows_.size(); ++w) {
      ErrorWindow& ew = error_windows_[w];
      const double length = static_cast<double>(f.event_windows[w].amount);
      ew.begin = std::max(ew.begin, errors_.begin());
      while (ew.begin < errors_.end() && errors_.at(ew.begin).time <= t - length) {
        const int32_t kind = errors_.at(ew.begin).kind;
        --ew.counts[0];
        if (kind >= 0 && static_cast<size_t>(kind) + 1 < ew.counts.size()) {
          --ew.counts[1 + static_cast<size_t>(kind)];
        }
        ++ew.begin;
      }
      keep_from = std::min(keep_from, ew.begin);
      for (int64_t count : ew.counts) out[o++] = static_cast<double>(count);
    }
    errors_.drop_before(keep_from);
  }
  if (f.time_since && timed) {
    const double unit = p.time_unit();
    auto since = [&](double when) { return std::isnan(when) ? kNaN : (t - when) / unit; };
    out[o++] = (t - first_time_) / unit;
    if (in.has_maintenance) {
      out[o++] = since(last_maintenance_);
      for (double when : last_maintenance_by_kind_) out[o++] = since(when);
    }
    if (in.has_failures) out[o++] = since(last_failure_);
  }
  return absl::OkStatus();
}

std::string OnlineFeatureState::Serialize() const {
  ByteWriter out;
  out.Put(kMagic);
  out.PutString(pipeline_->hash());
  out.PutVector(statics_.numeric);
  out.PutVector(statics_.categorical);
  times_.Write(out);
  out.PutVector(window_begins_);
  windows_.Write(out);
  errors_.Write(out);
  for (const ErrorWindow& w : error_windows_) {
    out.Put(w.begin);
    out.PutVector(w.counts);
  }
  out.Put(records_);
  for (double v : {first_time_, last_time_, last_event_time_, last_maintenance_, last_failure_}) {
    out.Put(v);
  }
  out.PutVector(last_maintenance_by_kind_);
  return out.Take();
}

absl::StatusOr<OnlineFeatureState> OnlineFeatureState::Deserialize(const FeaturePipeline* pipeline,
                                                                   std::string_view bytes,
                                                                   bool compact_values) {
  ByteReader in(bytes);
  char magic[8];
  std::string hash;
  if (!in.Get(&magic) || std::string_view(magic, 6) != std::string_view(kMagic, 6)) {
    return absl::InvalidArgumentError("feature state: not a pdm feature state");
  }
  if (std::string_view(magic, 8) != std::string_view(kMagic, 8)) {
    return absl::FailedPreconditionError(
        core::StrCat("feature state: format ", std::string_view(magic + 6, 2),
                     " of an older pdm (this one "
                     "reads ",
                     std::string_view(kMagic + 6, 2), "): rebuild it by replaying the history"));
  }
  if (!in.GetString(&hash, 128) || hash != pipeline->hash()) {
    return absl::FailedPreconditionError(core::StrCat(
        "feature state: written for feature pipeline ", hash, ", not ", pipeline->hash()));
  }
  OnlineFeatureState state(pipeline, {}, compact_values);
  const auto corrupt = [] { return absl::DataLossError("feature state: truncated or corrupt"); };
  const InputLayout& layout = pipeline->layout();
  if (!in.GetVector(&state.statics_.numeric, 1 << 20) ||
      !in.GetVector(&state.statics_.categorical, 1 << 20) ||
      state.statics_.numeric.size() != layout.static_numeric.size() ||
      state.statics_.categorical.size() != layout.static_categorical.size()) {
    return corrupt();
  }
  const size_t windows = state.window_begins_.size();
  if (!state.times_.Read(in) || !in.GetVector(&state.window_begins_, 1 << 20) ||
      state.window_begins_.size() != windows) {
    return corrupt();
  }
  for (int64_t begin : state.window_begins_) {
    if (begin < state.times_.begin() || begin > state.times_.end()) return corrupt();
  }
  if (!state.windows_.Read(in) || state.windows_.first_needed() < state.times_.begin()) {
    return corrupt();
  }
  if (!state.errors_.Read(in)) return corrupt();
  for (ErrorWindow& w : state.error_windows_) {
    const size_t expected = w.counts.size();
    if (!in.Get(&w.begin) || !in.GetVector(&w.counts, 1 << 20) || w.counts.size() != expected ||
        w.begin < state.errors_.begin() || w.begin > state.errors_.end()) {
      return corrupt();
    }
  }
  const size_t kinds = state.last_maintenance_by_kind_.size();
  if (!in.Get(&state.records_) || !in.Get(&state.first_time_) || !in.Get(&state.last_time_) ||
      !in.Get(&state.last_event_time_) || !in.Get(&state.last_maintenance_) ||
      !in.Get(&state.last_failure_) || !in.GetVector(&state.last_maintenance_by_kind_, 1 << 20) ||
      state.last_maintenance_by_kind_.size() != kinds || !in.at_end() ||
      (!state.windowed_values_.empty() && state.times_.end() != state.records_)) {
    return corrupt();
  }
  return state;
}

}  // namespace pdm::features

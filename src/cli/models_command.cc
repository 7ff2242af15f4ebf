// `pdm models ...`: the model registry from the command line (register, list, show, diff,
// promote, rollback, history, verify, delete), and the registry options `pdm train` shares.
#include <algorithm>
#include <cstdlib>
#include <set>
#include <sstream>

#include "cli/commands.h"
#include "core/file.h"
#include "core/hash.h"
#include "core/status.h"
#include "core/strings.h"
#include "core/time.h"
#include "monitor/profile.h"

namespace pdm::cli {
namespace {

using json = nlohmann::json;

struct ModelsArgs {
  RegistryArgs registry;
  bool json = false;
  std::string name;
  std::string ref;
  std::string other_ref;
  std::string model_dir;
  std::string alias;
  std::string reason;
  std::string description;
  std::string at;
  std::string if_better;
  std::string spec;
  std::string data;
  std::string since;
  bool test = false;
  int threads = 0;
};

int Fail(const absl::Status& status) {
  fmt::print(stderr, "pdm models: {}\n", status.message());
  switch (status.code()) {
    case absl::StatusCode::kInternal:
      return kExitInternal;
    case absl::StatusCode::kFailedPrecondition:
      return kExitDataRefused;
    default:
      return kExitBadInput;
  }
}

std::string FormatMicros(int64_t us) {
  const int64_t seconds = us >= 0 ? us / 1'000'000 : (us - 999'999) / 1'000'000;
  std::string text = core::FormatTimestamp(seconds);
  text.pop_back();  // 'Z'
  return fmt::format("{}.{:06d}Z", text, us - seconds * 1'000'000);
}

// "2026-11-26T15:00:00Z" (and the other ISO 8601 forms pdm reads), or seconds since the epoch.
absl::StatusOr<int64_t> ParseTime(const std::string& text) {
  core::EpochSeconds seconds = 0;
  if (core::ParseTimestamp(text, &seconds)) return static_cast<int64_t>(seconds * 1e6);
  char* end = nullptr;
  const double epoch = std::strtod(text.c_str(), &end);
  if (!text.empty() && end == text.c_str() + text.size() && std::isfinite(epoch)) {
    return static_cast<int64_t>(epoch * 1e6);
  }
  return absl::InvalidArgumentError(core::StrCat(
      "--at '", text, "': expected an ISO 8601 time (2026-11-26T15:00:00Z) or epoch seconds"));
}

json ParseOr(const std::string& text) {
  json value = json::parse(text, nullptr, false);
  return value.is_discarded() ? json::object() : value;
}

std::string VersionLabel(const std::optional<int64_t>& v) {
  return v ? core::StrCat("v", *v) : std::string("(none)");
}

json VersionJson(const store::ModelVersion& v, const std::map<std::string, int64_t>& aliases,
                 const registry::Registry& reg, bool full) {
  json held = json::array();
  for (const auto& [alias, version] : aliases) {
    if (version == v.version) held.push_back(alias);
  }
  json out = {{"name", v.name},
              {"version", v.version},
              {"created", FormatMicros(v.created_us)},
              {"aliases", held},
              {"artifact_hash", v.artifact_hash},
              {"artifact_dir", reg.ArtifactDir(v).string()},
              {"feature_spec_hash", v.feature_spec_hash},
              {"dataset_fingerprint", v.dataset_fingerprint},
              {"seed", v.seed},
              {"pdm_version", v.pdm_version},
              {"git_commit", v.git_commit},
              {"actor", v.actor},
              {"description", v.description},
              {"metrics", ParseOr(v.metrics_json)}};
  if (full) {
    out["params"] = ParseOr(v.params_json);
    out["spec"] = v.spec_yaml;
  }
  return out;
}

// The headline metric of a version's training metrics, for listings.
std::string Headline(const store::ModelVersion& v) {
  const json ensemble = ParseOr(v.metrics_json).value("ensemble", json::object());
  if (ensemble.contains("roc_auc") && ensemble["roc_auc"].is_number()) {
    return fmt::format("roc_auc {:.4f}", ensemble["roc_auc"].get<double>());
  }
  if (ensemble.contains("rmse") && ensemble["rmse"].is_number()) {
    return fmt::format("rmse {:.3f}", ensemble["rmse"].get<double>());
  }
  if (ensemble.contains("macro_f1") && ensemble["macro_f1"].is_number()) {
    return fmt::format("macro_f1 {:.4f}", ensemble["macro_f1"].get<double>());
  }
  return "";
}

int RunRegister(const ModelsArgs& args) {
  auto version =
      RegisterModel(args.registry, args.model_dir, args.name, args.description, args.reason);
  if (!version.ok()) return Fail(version.status());
  if (args.json) {
    fmt::print("{}\n", json{{"name", version->name},
                            {"version", version->version},
                            {"artifact_hash", version->artifact_hash}}
                           .dump(2));
  } else {
    fmt::print("registered {} version {} (artifacts {})\n", version->name, version->version,
               version->artifact_hash.substr(0, 12));
  }
  return kExitOk;
}

int RunList(const ModelsArgs& args) {
  auto reg = OpenRegistry(args.registry, /*create=*/false);
  if (!reg.ok()) return Fail(reg.status());
  auto versions = (*reg)->store().ListModelVersions(args.name);
  if (!versions.ok()) return Fail(versions.status());
  std::map<std::string, std::map<std::string, int64_t>> aliases;
  for (const store::ModelVersion& v : *versions) {
    if (aliases.contains(v.name)) continue;
    auto a = (*reg)->store().Aliases(v.name);
    if (!a.ok()) return Fail(a.status());
    aliases[v.name] = *a;
  }
  if (args.json) {
    json out = json::array();
    for (const store::ModelVersion& v : *versions) {
      out.push_back(VersionJson(v, aliases[v.name], **reg, false));
    }
    fmt::print("{}\n", out.dump(2));
    return kExitOk;
  }
  if (versions->empty()) {
    fmt::print("no models in {}\n", (*reg)->location().dir.string());
    return kExitOk;
  }
  fmt::print("{:<20} {:>7}  {:<27}  {:<20}  {:<12}  {}\n", "NAME", "VERSION", "CREATED", "ALIASES",
             "ARTIFACTS", "METRIC");
  for (const store::ModelVersion& v : *versions) {
    std::string held;
    for (const auto& [alias, version] : aliases[v.name]) {
      if (version == v.version) held += core::StrCat(held.empty() ? "" : ",", alias);
    }
    fmt::print("{:<20} {:>7}  {:<27}  {:<20}  {:<12}  {}\n", v.name, v.version,
               FormatMicros(v.created_us), held, v.artifact_hash.substr(0, 12), Headline(v));
  }
  return kExitOk;
}

// A summary of a version's reference profile (model/reference.json in its artifacts): what drift
// monitoring compares production against. An error text when there is none this pdm reads.
json ReferenceSummary(const std::filesystem::path& artifact_dir) {
  const std::filesystem::path path = artifact_dir / "reference.json";
  auto text = core::ReadFileToString(path, "reference profile");
  if (!text.ok()) return {{"error", std::string(text.status().message())}};
  auto profile = monitor::ProfileFromJson(json::parse(*text, nullptr, false), path.string());
  if (!profile.ok()) return {{"error", std::string(profile.status().message())}};
  int64_t with_missing = 0;
  size_t bins = 0;
  for (const monitor::ColumnProfile& c : profile->features) {
    if (c.missing > 0) ++with_missing;
    bins += c.bins();
  }
  const monitor::ColumnProfile& score = profile->score;
  return {{"file", path.string()},
          {"sha256", core::Sha256Hex(*text)},
          {"rows", profile->rows},
          {"features", profile->features.size()},
          {"features_with_missing", with_missing},
          {"level_columns", profile->levels.size()},
          {"fine_bins", bins},
          {"score",
           {{"name", score.name},
            {"values", score.values},
            {"mean", score.mean},
            {"std", score.std},
            {"median", score.median},
            {"min", score.min},
            {"max", score.max}}}};
}

int RunShow(const ModelsArgs& args) {
  auto reg = OpenRegistry(args.registry, /*create=*/false);
  if (!reg.ok()) return Fail(reg.status());
  std::string ref = args.ref;
  if (ref.empty()) {
    auto versions = (*reg)->store().ListModelVersions(args.name);
    if (!versions.ok()) return Fail(versions.status());
    if (versions->empty()) {
      return Fail(absl::NotFoundError(core::StrCat("no model named '", args.name, "'")));
    }
    ref = std::to_string(versions->back().version);
  }
  auto version = (*reg)->Resolve(args.name, ref);
  if (!version.ok()) return Fail(version.status());
  auto aliases = (*reg)->store().Aliases(args.name);
  if (!aliases.ok()) return Fail(aliases.status());
  json out = VersionJson(*version, *aliases, **reg, true);
  out["reference_profile"] = ReferenceSummary((*reg)->ArtifactDir(*version));
  if (args.json) {
    fmt::print("{}\n", out.dump(2));
    return kExitOk;
  }
  for (const auto& [key, value] : out.items()) {
    if (key == "spec" || key == "params" || key == "metrics") continue;
    fmt::print("{:<20} {}\n", key, value.is_string() ? value.get<std::string>() : value.dump());
  }
  fmt::print("{:<20} {}\n", "metrics.ensemble",
             out["metrics"].value("ensemble", json::object()).dump());
  return kExitOk;
}

// Lines of `a` not in `b`.
std::vector<std::string> LinesOnlyIn(const std::string& a, const std::string& b) {
  std::multiset<std::string> other;
  std::istringstream bs(b);
  for (std::string line; std::getline(bs, line);) other.insert(line);
  std::vector<std::string> out;
  std::istringstream as(a);
  for (std::string line; std::getline(as, line);) {
    auto it = other.find(line);
    if (it != other.end()) {
      other.erase(it);
    } else {
      out.push_back(line);
    }
  }
  return out;
}

int RunDiff(const ModelsArgs& args) {
  auto reg = OpenRegistry(args.registry, /*create=*/false);
  if (!reg.ok()) return Fail(reg.status());
  auto a = (*reg)->Resolve(args.name, args.ref);
  if (!a.ok()) return Fail(a.status());
  auto b = (*reg)->Resolve(args.name, args.other_ref);
  if (!b.ok()) return Fail(b.status());
  json fields = json::object();
  auto compare = [&](const char* key, const json& x, const json& y) {
    if (x != y) fields[key] = {{"a", x}, {"b", y}};
  };
  compare("artifact_hash", a->artifact_hash, b->artifact_hash);
  compare("feature_spec_hash", a->feature_spec_hash, b->feature_spec_hash);
  compare("dataset_fingerprint", a->dataset_fingerprint, b->dataset_fingerprint);
  compare("seed", a->seed, b->seed);
  compare("pdm_version", a->pdm_version, b->pdm_version);
  compare("git_commit", a->git_commit, b->git_commit);
  const json pa = ParseOr(a->params_json), pb = ParseOr(b->params_json);
  for (const auto& [key, value] : pa.items()) {
    if (pb.value(key, json()) != value) {
      fields[core::StrCat("params.", key)] = {{"a", value}, {"b", pb.value(key, json())}};
    }
  }
  json metrics = json::object();
  const json ma = ParseOr(a->metrics_json).value("ensemble", json::object());
  const json mb = ParseOr(b->metrics_json).value("ensemble", json::object());
  for (const auto& [key, value] : ma.items()) {
    if (value.is_number() && mb.contains(key) && mb[key].is_number()) {
      const double x = value.get<double>(), y = mb[key].get<double>();
      metrics[key] = {{"a", x}, {"b", y}, {"delta", y - x}};
    }
  }
  const json spec = {{"only_in_a", LinesOnlyIn(a->spec_yaml, b->spec_yaml)},
                     {"only_in_b", LinesOnlyIn(b->spec_yaml, a->spec_yaml)}};
  const json out = {
      {"name", args.name}, {"a", a->version},
      {"b", b->version},   {"identical_artifacts", a->artifact_hash == b->artifact_hash},
      {"fields", fields},  {"metrics", metrics},
      {"spec", spec}};
  if (args.json) {
    fmt::print("{}\n", out.dump(2));
    return kExitOk;
  }
  fmt::print("{} v{} -> v{}{}\n", args.name, a->version, b->version,
             a->artifact_hash == b->artifact_hash ? " (identical artifacts)" : "");
  for (const auto& [key, value] : fields.items()) {
    fmt::print("  {}: {} -> {}\n", key, value["a"].dump(), value["b"].dump());
  }
  for (const auto& [key, value] : metrics.items()) {
    fmt::print("  metric {}: {:.6g} -> {:.6g} ({:+.6g})\n", key, value["a"].get<double>(),
               value["b"].get<double>(), value["delta"].get<double>());
  }
  for (const auto& line : spec["only_in_a"]) fmt::print("  spec - {}\n", line.get<std::string>());
  for (const auto& line : spec["only_in_b"]) fmt::print("  spec + {}\n", line.get<std::string>());
  return kExitOk;
}

// Metrics where lower is better; every other metric of metrics.json is higher-is-better.
bool LowerIsBetter(const std::string& metric) {
  return metric == "rmse" || metric == "mae" || metric == "nasa_score" || metric == "brier" ||
         metric == "log_loss";
}

int RunPromote(const ModelsArgs& args) {
  auto reg = OpenRegistry(args.registry, /*create=*/false);
  if (!reg.ok()) return Fail(reg.status());
  auto candidate = (*reg)->Resolve(args.name, args.ref);
  if (!candidate.ok()) return Fail(candidate.status());
  const std::string actor = registry::ResolveActor(args.registry.actor);
  std::string reason = args.reason;
  if (!args.if_better.empty()) {
    auto aliases = (*reg)->store().Aliases(args.name);
    if (!aliases.ok()) return Fail(aliases.status());
    auto holder = aliases->find(args.alias);
    if (holder != aliases->end() && holder->second != candidate->version) {
      auto current = (*reg)->Resolve(args.name, std::to_string(holder->second));
      if (!current.ok()) return Fail(current.status());
      // Both on the same data, through the same code.
      auto score = [&](const store::ModelVersion& v) -> absl::StatusOr<double> {
        PDM_ASSIGN_OR_RETURN(const json metrics,
                             EvaluateModel((*reg)->ArtifactDir(v).string(), args.spec, args.data,
                                           args.since, args.test, args.threads));
        const json& value = metrics["ensemble"].value(args.if_better, json());
        if (!value.is_number()) {
          return absl::InvalidArgumentError(
              core::StrCat("--if-better ", args.if_better, ": not a metric of this model's task"));
        }
        return value.get<double>();
      };
      auto new_score = score(*candidate);
      if (!new_score.ok()) return Fail(new_score.status());
      auto old_score = score(*current);
      if (!old_score.ok()) return Fail(old_score.status());
      const bool better =
          LowerIsBetter(args.if_better) ? *new_score < *old_score : *new_score > *old_score;
      fmt::print("{} {}: candidate v{} {:.6f}, {} holder v{} {:.6f} ({} is better)\n", args.name,
                 args.if_better, candidate->version, *new_score, args.alias, current->version,
                 *old_score, LowerIsBetter(args.if_better) ? "lower" : "higher");
      if (!better) {
        fmt::print(stderr,
                   "pdm models: refused: v{} does not beat v{} on {} ({:.6f} vs {:.6f}); {} "
                   "stays at v{}\n",
                   candidate->version, current->version, args.if_better, *new_score, *old_score,
                   args.alias, current->version);
        return kExitDataRefused;
      }
      if (reason.empty()) {
        reason = fmt::format("{} {:.6f} beats {:.6f}", args.if_better, *new_score, *old_score);
      }
    } else if (holder == aliases->end()) {
      fmt::print("{}: alias {} has no holder to beat; promoting\n", args.name, args.alias);
    }
  }
  auto change = (*reg)->Promote(args.name, candidate->version, args.alias, reason, actor);
  if (!change.ok()) return Fail(change.status());
  if (args.json) {
    fmt::print("{}\n", json{{"name", args.name},
                            {"alias", args.alias},
                            {"from", change->from ? json(*change->from) : json()},
                            {"to", change->to},
                            {"changed", change->changed}}
                           .dump(2));
  } else if (!change->changed) {
    fmt::print("{}: {} already at v{}\n", args.name, args.alias, change->to);
  } else {
    fmt::print("{}: {} {} -> v{}\n", args.name, args.alias, VersionLabel(change->from), change->to);
  }
  return kExitOk;
}

int RunRollback(const ModelsArgs& args) {
  auto reg = OpenRegistry(args.registry, /*create=*/false);
  if (!reg.ok()) return Fail(reg.status());
  auto change = (*reg)->Rollback(args.name, args.alias, args.reason,
                                 registry::ResolveActor(args.registry.actor));
  if (!change.ok()) return Fail(change.status());
  if (args.json) {
    fmt::print(
        "{}\n",
        json{
            {"name", args.name}, {"alias", args.alias}, {"from", *change->from}, {"to", change->to}}
            .dump(2));
  } else {
    fmt::print("{}: {} rolled back v{} -> v{}\n", args.name, args.alias, *change->from, change->to);
  }
  return kExitOk;
}

int RunHistory(const ModelsArgs& args) {
  auto reg = OpenRegistry(args.registry, /*create=*/false);
  if (!reg.ok()) return Fail(reg.status());
  if (!args.at.empty()) {
    auto at = ParseTime(args.at);
    if (!at.ok()) return Fail(at.status());
    auto aliases = (*reg)->AliasesAt(args.name, *at);
    if (!aliases.ok()) return Fail(aliases.status());
    auto versions = (*reg)->VersionsAt(args.name, *at);
    if (!versions.ok()) return Fail(versions.status());
    if (args.json) {
      fmt::print("{}\n", json{{"name", args.name},
                              {"at", FormatMicros(*at)},
                              {"aliases", *aliases},
                              {"versions", *versions}}
                             .dump(2));
      return kExitOk;
    }
    fmt::print("{} at {}:\n", args.name, FormatMicros(*at));
    if (aliases->empty()) fmt::print("  no alias was set\n");
    for (const auto& [alias, version] : *aliases) fmt::print("  {} -> v{}\n", alias, version);
    fmt::print(
        "  versions registered then: {}\n",
        versions->empty() ? std::string("none") : fmt::format("{}", fmt::join(*versions, ", ")));
    return kExitOk;
  }
  auto events = (*reg)->store().AuditLog(args.name);
  if (!events.ok()) return Fail(events.status());
  json out = json::array();
  for (const store::AuditEvent& e : *events) {
    out.push_back({{"id", e.id},
                   {"time", FormatMicros(e.time_us)},
                   {"name", e.name},
                   {"action", e.action},
                   {"alias", e.alias},
                   {"from", e.from_version ? json(*e.from_version) : json()},
                   {"to", e.to_version ? json(*e.to_version) : json()},
                   {"actor", e.actor},
                   {"reason", e.reason}});
  }
  if (args.json) {
    fmt::print("{}\n", out.dump(2));
    return kExitOk;
  }
  for (const store::AuditEvent& e : *events) {
    std::string what;
    if (e.action == "register") {
      what = core::StrCat("registered v", *e.to_version);
    } else if (e.action == "delete") {
      what = core::StrCat("deleted v", *e.from_version);
    } else {
      what = core::StrCat(e.action, " ", e.alias, " ", VersionLabel(e.from_version), " -> ",
                          VersionLabel(e.to_version));
    }
    fmt::print("{}  {:<12} {:<40} by {}{}\n", FormatMicros(e.time_us), e.name, what, e.actor,
               e.reason.empty() ? "" : core::StrCat(": ", e.reason));
  }
  return kExitOk;
}

int RunVerify(const ModelsArgs& args) {
  auto reg = OpenRegistry(args.registry, /*create=*/false);
  if (!reg.ok()) return Fail(reg.status());
  auto report = (*reg)->Verify(args.name);
  if (!report.ok()) return Fail(report.status());
  if (args.json) {
    json problems = json::array();
    for (const auto& p : report->problems) {
      problems.push_back({{"name", p.name}, {"version", p.version}, {"problem", p.problem}});
    }
    fmt::print("{}\n", json{{"versions_checked", report->versions_checked},
                            {"problems", problems},
                            {"unreferenced", report->unreferenced},
                            {"ok", report->problems.empty()}}
                           .dump(2));
  } else {
    for (const auto& p : report->problems) {
      fmt::print("{} v{}: {}\n", p.name, p.version, p.problem);
    }
    for (const auto& u : report->unreferenced) {
      fmt::print(
          "note: {} is used by no version (left by an interrupted registration or a "
          "delete); safe to remove\n",
          u);
    }
    fmt::print("{} versions checked, {} problems\n", report->versions_checked,
               report->problems.size());
  }
  return report->problems.empty() ? kExitOk : kExitDataRefused;
}

int RunDelete(const ModelsArgs& args) {
  auto reg = OpenRegistry(args.registry, /*create=*/false);
  if (!reg.ok()) return Fail(reg.status());
  auto version = (*reg)->Resolve(args.name, args.ref);
  if (!version.ok()) return Fail(version.status());
  if (auto s = (*reg)->Delete(args.name, version->version, args.reason,
                              registry::ResolveActor(args.registry.actor));
      !s.ok()) {
    return Fail(s);
  }
  fmt::print("deleted {} v{}\n", args.name, version->version);
  return kExitOk;
}

}  // namespace

void AddRegistryOptions(CLI::App* cmd, RegistryArgs* args) {
  cmd->add_option("--registry", args->dir,
                  "Registry directory (default: $PDM_REGISTRY, else ~/.local/share/pdm)");
  cmd->add_option("--store", args->store,
                  "Metadata store URL: sqlite:///path.db or postgresql://user@host:port/db "
                  "(default: $PDM_STORE, else sqlite://<registry>/registry.db)");
  cmd->add_option("--actor", args->actor,
                  "Who acts, for the audit log (default: $PDM_ACTOR, $USER)");
}

absl::StatusOr<std::unique_ptr<registry::Registry>> OpenRegistry(const RegistryArgs& args,
                                                                 bool create) {
  return registry::Registry::Open(registry::ResolveLocation(args.dir, args.store), create);
}

absl::StatusOr<store::ModelVersion> RegisterModel(const RegistryArgs& args,
                                                  const std::filesystem::path& model_dir,
                                                  const std::string& name,
                                                  const std::string& description,
                                                  const std::string& reason) {
  PDM_RETURN_IF_ERROR(registry::CheckModelName(name));
  PDM_ASSIGN_OR_RETURN(auto reg, OpenRegistry(args));
  return reg->Register({model_dir, name, description, reason, registry::ResolveActor(args.actor)});
}

void AddModelsCommand(CLI::App& app, int* exit_code) {
  CLI::App* models = app.add_subcommand(
      "models",
      "The model registry: immutable versions with lineage, aliases (production, staging, ...), "
      "an audit trail, champion/challenger promotion.");
  models->require_subcommand(1);
  models->footer(kExitCodeHelp);
  auto sub = [&](const char* name, const char* help, int (*run)(const ModelsArgs&)) {
    auto args = std::make_shared<ModelsArgs>();
    CLI::App* cmd = models->add_subcommand(name, help);
    AddRegistryOptions(cmd, &args->registry);
    cmd->add_flag("--json", args->json, "Print JSON");
    cmd->footer(kExitCodeHelp);
    cmd->callback([args, exit_code, run] { *exit_code = run(*args); });
    return std::make_pair(cmd, args);
  };

  auto [reg, reg_args] =
      sub("register", "Register a model directory (DIR/model of pdm train)", RunRegister);
  reg->add_option("model", reg_args->model_dir, "Model directory")->required();
  reg->add_option("--name", reg_args->name, "Model name")->required();
  reg->add_option("--description", reg_args->description, "Description of this version");
  reg->add_option("--reason", reg_args->reason, "Reason, for the audit log");

  auto [list, list_args] = sub("list", "List versions (of NAME, or of every model)", RunList);
  list->add_option("name", list_args->name, "Model name");

  auto [show, show_args] = sub("show", "Show one version's metadata and lineage", RunShow);
  show->add_option("name", show_args->name, "Model name")->required();
  show->add_option("version", show_args->ref, "Version number or alias (default: the latest)");

  auto [diff, diff_args] =
      sub("diff", "Compare two versions: lineage, parameters, metrics, spec", RunDiff);
  diff->add_option("name", diff_args->name, "Model name")->required();
  diff->add_option("a", diff_args->ref, "Version or alias")->required();
  diff->add_option("b", diff_args->other_ref, "Version or alias")->required();

  auto [promote, promote_args] =
      sub("promote", "Point an alias at a version; with --if-better only if it beats the holder",
          RunPromote);
  promote->add_option("name", promote_args->name, "Model name")->required();
  promote->add_option("version", promote_args->ref, "Version number or alias")->required();
  promote->add_option("--alias", promote_args->alias, "Alias to move (production, staging, ...)")
      ->required();
  promote->add_option("--reason", promote_args->reason, "Reason, for the audit log");
  promote
      ->add_option("--if-better", promote_args->if_better,
                   "Promote only if the candidate beats the alias's holder on this metric, "
                   "both evaluated on the same data (--spec, --data, --test); else exit 1")
      ->check(CLI::IsMember({"accuracy", "balanced_accuracy", "precision", "recall", "f1",
                             "roc_auc", "pr_auc", "brier", "rmse", "mae", "nasa_score", "r2",
                             "macro_f1", "log_loss"}));
  promote->add_option("--spec", promote_args->spec,
                      "With --if-better: the dataset spec to evaluate on (default: the "
                      "candidate's training spec)");
  promote->add_option("--data", promote_args->data, "With --if-better: the data file to evaluate");
  promote->add_option("--since", promote_args->since,
                      "With --if-better: score only records at or after this data time (the "
                      "newest slice, which the candidate was not trained on: pdm train --until)");
  promote->add_flag("--test", promote_args->test,
                    "With --if-better: evaluate on the spec's test set");
  promote->add_option("--threads", promote_args->threads, "Threads (0: all cores)")
      ->check(CLI::Range(0, 256));

  auto [rollback, rollback_args] =
      sub("rollback", "Return an alias to its previous holder", RunRollback);
  rollback->add_option("name", rollback_args->name, "Model name")->required();
  rollback->add_option("--alias", rollback_args->alias, "Alias")->required();
  rollback->add_option("--reason", rollback_args->reason, "Reason, for the audit log");

  auto [history, history_args] =
      sub("history", "The audit log of a model; with --at, what held each alias at that time",
          RunHistory);
  history->add_option("name", history_args->name, "Model name")->required();
  history->add_option("--at", history_args->at, "A time: 2026-11-26T15:00:00Z or epoch seconds");

  auto [verify, verify_args] =
      sub("verify", "Re-hash every version's artifacts; exit 1 on any mismatch", RunVerify);
  verify->add_option("name", verify_args->name, "Model name (default: every model)");

  auto [del, del_args] =
      sub("delete", "Delete a version (refused while an alias holds it)", RunDelete);
  del->add_option("name", del_args->name, "Model name")->required();
  del->add_option("version", del_args->ref, "Version number")->required();
  del->add_option("--reason", del_args->reason, "Reason, for the audit log");
}

}  // namespace pdm::cli

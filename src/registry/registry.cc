#include "registry/registry.h"

#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <random>
#include <set>

#include "core/build_info.h"
#include "core/file.h"
#include "core/hash.h"
#include "core/status.h"
#include "core/strings.h"
#include "nlohmann/json.hpp"

namespace pdm::registry {
namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

constexpr std::string_view kTemporaryPrefix = ".tmp-";

std::string Env(const char* name) {
  const char* value = std::getenv(name);
  return value != nullptr ? value : "";
}

bool NameCharacter(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_' || c == '.' || c == '-';
}

absl::Status CheckIdentifier(const std::string& value, size_t max, std::string_view what) {
  if (value.empty() || value.size() > max ||
      std::isalnum(static_cast<unsigned char>(value[0])) == 0 ||
      !std::all_of(value.begin(), value.end(), NameCharacter)) {
    return absl::InvalidArgumentError(
        core::StrCat(what, " '", value.substr(0, max), "': expected 1-", max,
                     " letters, digits, '_', '.' or '-', starting with a letter or digit"));
  }
  return absl::OkStatus();
}

// Regular files under `dir`, relative, sorted; symlinks and special files are refused.
absl::StatusOr<std::vector<fs::path>> RegularFiles(const fs::path& dir) {
  std::error_code error;
  if (!fs::is_directory(dir, error)) {
    return absl::NotFoundError(core::StrCat(dir.string(), ": not a directory"));
  }
  std::vector<fs::path> files;
  for (auto it = fs::recursive_directory_iterator(dir, error);
       !error && it != fs::recursive_directory_iterator(); it.increment(error)) {
    const fs::file_status status = it->symlink_status(error);
    if (error) break;
    if (fs::is_directory(status)) continue;
    if (!fs::is_regular_file(status)) {
      return absl::InvalidArgumentError(core::StrCat(
          it->path().string(), ": not a regular file (links and devices are not registered)"));
    }
    files.push_back(fs::relative(it->path(), dir));
  }
  if (error) return absl::PermissionDeniedError(core::StrCat(dir.string(), ": ", error.message()));
  std::sort(files.begin(), files.end());
  return files;
}

// Copies `from` to `to` (created) and fsyncs the copy.
absl::Status CopyDurably(const fs::path& from, const fs::path& to) {
  PDM_ASSIGN_OR_RETURN(std::string bytes, core::ReadFileToString(from, "model file"));
  PDM_RETURN_IF_ERROR(core::WriteStringToFile(to, bytes));
  return core::SyncPath(to);
}

void MakeWritable(const fs::path& dir) {
  std::error_code error;
  for (auto it = fs::recursive_directory_iterator(dir, error);
       !error && it != fs::recursive_directory_iterator(); it.increment(error)) {
    fs::permissions(it->path(), fs::perms::owner_write, fs::perm_options::add, error);
  }
}

// The lineage train wrote (model/lineage.json), or what can be found without it.
json ReadLineage(const fs::path& model_dir) {
  auto text = core::ReadFileToString(model_dir / "lineage.json", "lineage");
  if (text.ok()) {
    json lineage = json::parse(*text, nullptr, false);
    if (lineage.is_object()) return lineage;
  }
  json lineage = json::object();
  auto metrics_text = core::ReadFileToString(model_dir.parent_path() / "metrics.json", "metrics");
  if (metrics_text.ok()) {
    json metrics = json::parse(*metrics_text, nullptr, false);
    if (metrics.is_object()) {
      lineage["metrics"] = {{"ensemble", metrics.value("ensemble", json::object())},
                            {"members", metrics.value("members", json::object())}};
    }
  }
  return lineage;
}

}  // namespace

Location ResolveLocation(const std::string& registry_flag, const std::string& store_flag) {
  Location location;
  if (!registry_flag.empty()) {
    location.dir = registry_flag;
  } else if (std::string env = Env("PDM_REGISTRY"); !env.empty()) {
    location.dir = env;
  } else if (std::string xdg = Env("XDG_DATA_HOME"); !xdg.empty()) {
    location.dir = fs::path(xdg) / "pdm";
  } else {
    const std::string home = Env("HOME");
    location.dir = (home.empty() ? fs::path(".") : fs::path(home) / ".local" / "share") / "pdm";
  }
  if (!store_flag.empty()) {
    location.store_url = store_flag;
  } else if (std::string env = Env("PDM_STORE"); !env.empty()) {
    location.store_url = env;
  } else {
    location.store_url = store::SqliteUrl((location.dir / "registry.db").string());
  }
  return location;
}

std::string ResolveActor(const std::string& actor_flag) {
  if (!actor_flag.empty()) return actor_flag;
  if (std::string env = Env("PDM_ACTOR"); !env.empty()) return env;
  if (std::string user = Env("USER"); !user.empty()) return user;
  if (const passwd* entry = ::getpwuid(::geteuid());
      entry != nullptr && entry->pw_name != nullptr) {
    return entry->pw_name;
  }
  return "unknown";
}

absl::Status CheckModelName(const std::string& name) {
  return CheckIdentifier(name, 128, "model name");
}

absl::Status CheckAliasName(const std::string& alias) {
  PDM_RETURN_IF_ERROR(CheckIdentifier(alias, 64, "alias"));
  if (std::all_of(alias.begin(), alias.end(), [](char c) { return std::isdigit(c) != 0; })) {
    return absl::InvalidArgumentError(
        core::StrCat("alias '", alias, "': an alias cannot be a number (numbers are versions)"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> TreeHash(const fs::path& dir) {
  PDM_ASSIGN_OR_RETURN(const std::vector<fs::path> files, RegularFiles(dir));
  std::string listing;
  for (const fs::path& file : files) {
    PDM_ASSIGN_OR_RETURN(const std::string hash, core::Sha256File(dir / file));
    listing += core::StrCat(file.generic_string(), '\0', hash, '\n');
  }
  return core::Sha256Hex(listing);
}

absl::StatusOr<std::unique_ptr<Registry>> Registry::Open(const Location& location, bool create) {
  std::error_code error;
  if (!create && !fs::is_directory(location.dir / "artifacts", error)) {
    return absl::NotFoundError(
        core::StrCat("no registry at ", location.dir.string(),
                     " (pdm models register or pdm train --register creates one; --registry or "
                     "$PDM_REGISTRY chooses where)"));
  }
  fs::create_directories(location.dir / "artifacts", error);
  if (error) {
    return absl::PermissionDeniedError(core::StrCat(
        location.dir.string(), ": cannot create the registry directory: ", error.message()));
  }
  PDM_ASSIGN_OR_RETURN(std::unique_ptr<store::Store> store, store::OpenStore(location.store_url));
  return std::unique_ptr<Registry>(new Registry(location, std::move(store)));
}

fs::path Registry::ArtifactDir(const store::ModelVersion& version) const {
  return location_.dir / version.artifact_path;
}

absl::StatusOr<store::ModelVersion> Registry::Register(const RegisterRequest& request) {
  PDM_RETURN_IF_ERROR(CheckModelName(request.name));
  const fs::path& source = request.model_dir;
  PDM_ASSIGN_OR_RETURN(const std::string manifest_text,
                       core::ReadFileToString(source / "model.json", "model (model.json)"));
  const json manifest = json::parse(manifest_text, nullptr, false);
  if (!manifest.is_object() || manifest.value("format", "") != "pdm-model") {
    return absl::InvalidArgumentError(
        core::StrCat((source / "model.json").string(), ": not a pdm model manifest"));
  }
  PDM_ASSIGN_OR_RETURN(const std::vector<fs::path> files, RegularFiles(source));

  // Copy to a private temporary directory, durably, then hash what was written.
  const fs::path artifacts = location_.dir / "artifacts";
  std::random_device entropy;
  const fs::path temporary = artifacts / core::StrCat(kTemporaryPrefix, ::getpid(), "-", entropy());
  std::error_code error;
  fs::create_directories(temporary, error);
  if (error) {
    return absl::PermissionDeniedError(core::StrCat(temporary.string(), ": ", error.message()));
  }
  auto discard = [&] {
    MakeWritable(temporary);
    fs::remove_all(temporary, error);
  };
  for (const fs::path& file : files) {
    if (file.has_parent_path()) fs::create_directories(temporary / file.parent_path(), error);
    if (absl::Status s = CopyDurably(source / file, temporary / file); !s.ok()) {
      discard();
      return s;
    }
  }
  for (const fs::path& file : files) {
    fs::permissions(temporary / file,
                    fs::perms::owner_read | fs::perms::group_read | fs::perms::others_read, error);
    if (file.has_parent_path()) (void)core::SyncPath(temporary / file.parent_path());
  }
  if (absl::Status s = core::SyncPath(temporary); !s.ok()) {
    discard();
    return s;
  }
  auto hash = TreeHash(temporary);
  if (!hash.ok()) {
    discard();
    return hash.status();
  }
  const fs::path final_dir = artifacts / *hash;
  bool placed = false;
  if (!fs::exists(final_dir)) {
    fs::rename(temporary, final_dir, error);
    placed = !error;
    // Another process may have placed the same content meanwhile: then it is already stored.
    if (!placed && !fs::exists(final_dir)) {
      discard();
      return absl::PermissionDeniedError(core::StrCat(
          final_dir.string(), ": cannot move artifacts into place: ", error.message()));
    }
  }
  if (placed) {
    PDM_RETURN_IF_ERROR(core::SyncPath(artifacts));
  } else {
    // The same content is already stored (another version, a concurrent or an interrupted
    // registration): keep that copy if it is intact.
    discard();
    auto existing = TreeHash(final_dir);
    if (!existing.ok() || *existing != *hash) {
      return absl::DataLossError(core::StrCat(
          final_dir.string(),
          ": stored artifacts do not match their hash; run `pdm models verify` and remove the "
          "damaged directory"));
    }
  }

  // Lineage, then the metadata in one transaction.
  const json lineage = ReadLineage(source);
  store::ModelVersion v;
  v.name = request.name;
  v.artifact_hash = *hash;
  v.artifact_path = (fs::path("artifacts") / *hash).generic_string();
  v.feature_spec_hash = manifest.value("feature_spec_hash", "");
  v.dataset_fingerprint = lineage.value("dataset", json::object()).value("fingerprint", "");
  auto spec_text = core::ReadFileToString(source / "spec.yaml", "spec");
  v.spec_yaml = spec_text.ok() ? *spec_text : "";
  json params = {{"task", manifest.value("task", "")},
                 {"cv", manifest.value("cv", "")},
                 {"class_weight", manifest.value("class_weight", "")},
                 {"members", manifest.value("members", json::array())}};
  if (lineage.contains("options")) params["options"] = lineage["options"];
  v.params_json = params.dump();
  v.seed = manifest.value("seed", int64_t{0});
  v.metrics_json = lineage.value("metrics", json::object()).dump();
  v.pdm_version = lineage.value("pdm_version", std::string(core::PdmVersion()));
  v.git_commit = lineage.value("git_commit", std::string(core::GitCommit()));
  v.actor = request.actor;
  v.description = request.description;
  v.created_us = std::chrono::duration_cast<std::chrono::microseconds>(
                     std::chrono::system_clock::now().time_since_epoch())
                     .count();
  PDM_ASSIGN_OR_RETURN(v.version, store_->RegisterModelVersion(v, request.reason));
  // The training report and out-of-fold scores beside the model (pdm train --out DIR writes
  // DIR/report.html and DIR/oof_scores.csv), kept for the dashboard. Outside the artifact tree:
  // they do not change what the version is, and a registration does not fail for want of them.
  for (const auto& [file, kept] : {std::pair{source.parent_path() / "report.html", ReportPath(v)},
                                   {source.parent_path() / "oof_scores.csv", OofScoresPath(v)}}) {
    if (!fs::is_regular_file(file)) continue;
    fs::create_directories(kept.parent_path(), error);
    if (!error) (void)CopyDurably(file, kept);
  }
  return v;
}

fs::path Registry::ReportPath(const store::ModelVersion& version) const {
  return location_.dir / "reports" / core::StrCat(version.name, "-v", version.version, ".html");
}

fs::path Registry::OofScoresPath(const store::ModelVersion& version) const {
  return location_.dir / "reports" /
         core::StrCat(version.name, "-v", version.version, ".oof_scores.csv");
}

absl::StatusOr<store::ModelVersion> Registry::Resolve(const std::string& name,
                                                      const std::string& ref) {
  std::string_view r = ref;
  if (r.starts_with("v") && r.size() > 1 && std::isdigit(static_cast<unsigned char>(r[1])) != 0) {
    r.remove_prefix(1);
  }
  int64_t version = 0;
  const bool numeric = !r.empty() && std::all_of(r.begin(), r.end(), [](char c) {
    return std::isdigit(static_cast<unsigned char>(c)) != 0;
  });
  if (numeric) {
    if (r.size() > 15)
      return absl::InvalidArgumentError(core::StrCat("version '", ref, "': too large"));
    version = std::stoll(std::string(r));
  } else {
    std::string alias(ref);
    if (alias.starts_with("@")) alias.erase(0, 1);
    PDM_RETURN_IF_ERROR(CheckAliasName(alias));
    PDM_ASSIGN_OR_RETURN(const auto aliases, store_->Aliases(name));
    auto it = aliases.find(alias);
    if (it == aliases.end()) {
      return absl::NotFoundError(core::StrCat("model '", name, "' has no alias '", alias, "'"));
    }
    version = it->second;
  }
  PDM_ASSIGN_OR_RETURN(auto found, store_->GetModelVersion(name, version));
  if (!found) {
    return absl::NotFoundError(core::StrCat("model '", name, "' has no version ", version));
  }
  return *found;
}

absl::StatusOr<AliasChange> Registry::Promote(const std::string& name, int64_t version,
                                              const std::string& alias, const std::string& reason,
                                              const std::string& actor) {
  PDM_RETURN_IF_ERROR(CheckAliasName(alias));
  PDM_ASSIGN_OR_RETURN(const auto aliases, store_->Aliases(name));
  AliasChange change{alias, std::nullopt, version, false};
  if (auto it = aliases.find(alias); it != aliases.end()) change.from = it->second;
  PDM_RETURN_IF_ERROR(
      store_->MoveAlias({name, alias, version, "promote", change.from, reason, actor}));
  change.changed = change.from != version;
  return change;
}

absl::StatusOr<AliasChange> Registry::Rollback(const std::string& name, const std::string& alias,
                                               const std::string& reason,
                                               const std::string& actor) {
  PDM_RETURN_IF_ERROR(CheckAliasName(alias));
  PDM_ASSIGN_OR_RETURN(const auto events, store_->AuditLog(name));
  std::vector<int64_t> stack;
  for (const store::AuditEvent& e : events) {
    if (e.alias != alias || !e.to_version) continue;
    if (e.action == "promote") stack.push_back(*e.to_version);
    if (e.action == "rollback" && !stack.empty()) stack.pop_back();
  }
  if (stack.size() < 2) {
    return absl::FailedPreconditionError(
        core::StrCat("alias '", alias, "' of '", name, "' has no previous holder to roll back to"));
  }
  const int64_t current = stack.back();
  const int64_t previous = stack[stack.size() - 2];
  PDM_RETURN_IF_ERROR(store_->MoveAlias(
      {name, alias, previous, "rollback", std::optional<int64_t>(current), reason, actor}));
  return AliasChange{alias, current, previous, true};
}

absl::StatusOr<std::map<std::string, int64_t>> Registry::AliasesAt(const std::string& name,
                                                                   std::optional<int64_t> at_us) {
  if (!at_us) return store_->Aliases(name);
  PDM_ASSIGN_OR_RETURN(const auto events, store_->AuditLog(name));
  std::map<std::string, int64_t> aliases;
  for (const store::AuditEvent& e : events) {
    if (e.time_us > *at_us) break;
    if ((e.action == "promote" || e.action == "rollback") && e.to_version) {
      aliases[e.alias] = *e.to_version;
    }
  }
  return aliases;
}

absl::StatusOr<std::vector<int64_t>> Registry::VersionsAt(const std::string& name, int64_t at_us) {
  PDM_ASSIGN_OR_RETURN(const auto events, store_->AuditLog(name));
  std::set<int64_t> versions;
  for (const store::AuditEvent& e : events) {
    if (e.time_us > at_us) break;
    if (e.action == "register" && e.to_version) versions.insert(*e.to_version);
    if (e.action == "delete" && e.from_version) versions.erase(*e.from_version);
  }
  return std::vector<int64_t>(versions.begin(), versions.end());
}

absl::StatusOr<VerifyReport> Registry::Verify(const std::string& name) {
  PDM_ASSIGN_OR_RETURN(const auto versions, store_->ListModelVersions(name));
  VerifyReport report;
  std::set<std::string> referenced;
  for (const store::ModelVersion& v : versions) {
    ++report.versions_checked;
    referenced.insert(fs::path(v.artifact_path).filename().string());
    const fs::path dir = ArtifactDir(v);
    if (!fs::is_directory(dir)) {
      report.problems.push_back({v.name, v.version, core::StrCat(dir.string(), ": missing")});
      continue;
    }
    auto hash = TreeHash(dir);
    if (!hash.ok()) {
      report.problems.push_back({v.name, v.version, std::string(hash.status().message())});
    } else if (*hash != v.artifact_hash) {
      report.problems.push_back(
          {v.name, v.version,
           core::StrCat(dir.string(), ": content hash ", *hash, " differs from the registered ",
                        v.artifact_hash, " (modified after registration)")});
    }
  }
  if (name.empty()) {
    std::error_code error;
    for (const auto& entry : fs::directory_iterator(location_.dir / "artifacts", error)) {
      const std::string leaf = entry.path().filename().string();
      if (!referenced.contains(leaf)) report.unreferenced.push_back(entry.path().string());
    }
    std::sort(report.unreferenced.begin(), report.unreferenced.end());
  }
  return report;
}

absl::Status Registry::Delete(const std::string& name, int64_t version, const std::string& reason,
                              const std::string& actor) {
  PDM_ASSIGN_OR_RETURN(auto found, store_->GetModelVersion(name, version));
  if (!found) {
    return absl::NotFoundError(core::StrCat("model '", name, "' has no version ", version));
  }
  PDM_RETURN_IF_ERROR(store_->DeleteModelVersion(name, version, actor, reason));
  PDM_ASSIGN_OR_RETURN(const auto remaining, store_->ListModelVersions(""));
  const bool shared = std::any_of(remaining.begin(), remaining.end(), [&](const auto& v) {
    return v.artifact_hash == found->artifact_hash;
  });
  if (!shared) {
    const fs::path dir = ArtifactDir(*found);
    MakeWritable(dir);
    std::error_code error;
    fs::remove_all(dir, error);
  }
  return absl::OkStatus();
}

}  // namespace pdm::registry

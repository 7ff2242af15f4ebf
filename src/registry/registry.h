// The model registry: immutable, content-addressed model versions with lineage, aliases and an
// append-only audit trail, over a Store (metadata) and a directory (artifacts).
//
//   <dir>/artifacts/<sha256>/...   one model directory per distinct content, files read-only
//   <dir>/registry.db              the SQLite store, unless --store / PDM_STORE names another
//
// Registering copies the model directory to a temporary directory beside the artifacts, fsyncs
// every file, hashes the copy, renames it to its hash and fsyncs the parent; only then is the
// metadata written, in one transaction. A crash at any point leaves either no version or a
// complete one (at worst an unreferenced temporary or artifact directory, which `Verify` lists).
#ifndef PDM_REGISTRY_REGISTRY_H_
#define PDM_REGISTRY_REGISTRY_H_

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "store/store.h"

namespace pdm::registry {

struct Location {
  std::filesystem::path dir;
  std::string store_url;
};

// --registry, else $PDM_REGISTRY, else $XDG_DATA_HOME/pdm, else $HOME/.local/share/pdm; the
// store: --store, else $PDM_STORE, else sqlite://<dir>/registry.db.
Location ResolveLocation(const std::string& registry_flag, const std::string& store_flag);

// --actor, else $PDM_ACTOR, else $USER, else the effective user's login name, else "unknown".
std::string ResolveActor(const std::string& actor_flag);

// SHA-256 over the sorted relative paths and contents of every regular file under `dir`.
// Symbolic links and special files are refused.
absl::StatusOr<std::string> TreeHash(const std::filesystem::path& dir);

// Model names: 1-128 of [A-Za-z0-9_.-], starting with a letter or digit; alias names the same,
// 1-64, and not all digits (so that "3" always means a version).
absl::Status CheckModelName(const std::string& name);
absl::Status CheckAliasName(const std::string& alias);

struct RegisterRequest {
  std::filesystem::path model_dir;  // DIR/model from pdm train
  std::string name;
  std::string description;
  std::string reason;
  std::string actor;
};

struct AliasChange {
  std::string alias;
  std::optional<int64_t> from;
  int64_t to = 0;
  bool changed = false;
};

struct VerifyProblem {
  std::string name;
  int64_t version = 0;
  std::string problem;
};
struct VerifyReport {
  int64_t versions_checked = 0;
  std::vector<VerifyProblem> problems;    // each makes `verify` fail
  std::vector<std::string> unreferenced;  // artifact or temporary directories no version uses
};

class Registry {
 public:
  // Creates the registry directory when `create`; otherwise a missing directory is NotFound (so
  // that a mistyped --registry does not leave an empty registry behind).
  static absl::StatusOr<std::unique_ptr<Registry>> Open(const Location& location,
                                                        bool create = true);

  const Location& location() const { return location_; }
  store::Store& store() { return *store_; }

  absl::StatusOr<store::ModelVersion> Register(const RegisterRequest& request);

  // A version by reference: "3" (a number) or an alias ("production", "@production").
  absl::StatusOr<store::ModelVersion> Resolve(const std::string& name, const std::string& ref);
  std::filesystem::path ArtifactDir(const store::ModelVersion& version) const;
  // The training report registered with a version (absent when its run wrote none).
  std::filesystem::path ReportPath(const store::ModelVersion& version) const;
  // Its out-of-fold scores (oof_scores.csv of pdm train), absent likewise.
  std::filesystem::path OofScoresPath(const store::ModelVersion& version) const;

  absl::StatusOr<AliasChange> Promote(const std::string& name, int64_t version,
                                      const std::string& alias, const std::string& reason,
                                      const std::string& actor);
  // Returns the alias to the version that held it before the current holder's promotion
  // (promotions stack; each rollback pops one). FailedPrecondition when there is none.
  absl::StatusOr<AliasChange> Rollback(const std::string& name, const std::string& alias,
                                       const std::string& reason, const std::string& actor);
  // alias -> version at time `at_us` (now when nullopt), from the audit log.
  absl::StatusOr<std::map<std::string, int64_t>> AliasesAt(const std::string& name,
                                                           std::optional<int64_t> at_us);
  // Versions of `name` that existed at `at_us` (registered, not yet deleted).
  absl::StatusOr<std::vector<int64_t>> VersionsAt(const std::string& name, int64_t at_us);

  // Re-hashes the artifacts of every version of `name` (every name when empty).
  absl::StatusOr<VerifyReport> Verify(const std::string& name);

  // Deletes a version (refused while an alias holds it); its artifacts go when no other version
  // shares them.
  absl::Status Delete(const std::string& name, int64_t version, const std::string& reason,
                      const std::string& actor);

 private:
  Registry(Location location, std::unique_ptr<store::Store> store)
      : location_(std::move(location)), store_(std::move(store)) {}

  Location location_;
  std::unique_ptr<store::Store> store_;
};

}  // namespace pdm::registry

#endif  // PDM_REGISTRY_REGISTRY_H_

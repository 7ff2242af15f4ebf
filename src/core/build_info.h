// What this binary was built from: recorded with every trained and registered model.
#ifndef PDM_CORE_BUILD_INFO_H_
#define PDM_CORE_BUILD_INFO_H_

#include <string_view>

namespace pdm::core {

// The project version (CMake's project(VERSION)).
std::string_view PdmVersion();
// The git commit HEAD was at when the build was configured (CMake re-configures when HEAD moves),
// with "-dirty" when tracked files had uncommitted changes then; "unknown" outside a git checkout.
std::string_view GitCommit();

}  // namespace pdm::core

#endif  // PDM_CORE_BUILD_INFO_H_

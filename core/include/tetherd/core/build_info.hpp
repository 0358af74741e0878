#pragma once

#include <string>

namespace tetherd::core {

/// What this binary is: filled in at build time, never at run time.
struct BuildInfo {
  std::string version;     ///< project version, e.g. "0.1.0"
  std::string compiler;    ///< compiler name and version, e.g. "gcc 12.2.0"
  std::string build_type;  ///< CMake build type, e.g. "RelWithDebInfo"
  bool sanitizers;         ///< built with AddressSanitizer/UBSan
};

const BuildInfo& build_info() noexcept;

}  // namespace tetherd::core

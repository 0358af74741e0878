#include "tetherd/core/build_info.hpp"

namespace tetherd::core {
namespace {

constexpr const char* compiler_description() noexcept {
#if defined(__clang__)
  return "clang " __clang_version__;
#elif defined(__GNUC__)
  return "gcc " __VERSION__;
#else
  return "unknown compiler";
#endif
}

constexpr bool built_with_sanitizers() noexcept {
#if defined(__SANITIZE_ADDRESS__)
  return true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
  return true;
#else
  return false;
#endif
#else
  return false;
#endif
}

}  // namespace

const BuildInfo& build_info() noexcept {
  static const BuildInfo info{TETHERD_VERSION, compiler_description(), TETHERD_BUILD_TYPE,
                              built_with_sanitizers()};
  return info;
}

}  // namespace tetherd::core

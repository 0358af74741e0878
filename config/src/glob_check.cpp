#include "glob_check.hpp"

#include "tetherd/core/glob.hpp"

namespace tetherd::config::detail {

std::optional<std::string> check_glob(std::string_view pattern) {
  try {
    const core::GlobPattern compiled(pattern);
    return std::nullopt;
  } catch (const core::GlobSyntaxError& error) {
    return std::string(error.what());
  }
}

}  // namespace tetherd::config::detail

#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace tetherd::config::detail {

/// Nothing if `pattern` is a valid glob (tetherd::core::GlobPattern), else why not.
std::optional<std::string> check_glob(std::string_view pattern);

}  // namespace tetherd::config::detail

#pragma once

#include <string>
#include <vector>

#include "json_document.hpp"
#include "tetherd/config/load_config.hpp"

namespace tetherd::config::detail {

/// Checks a parsed document against the config format and builds the Config. Reports every
/// problem it finds (unordered; the caller sorts them). Returns a config only if there were
/// none.
ConfigResult validate_config(const JsonValue& root, const std::string& origin);

}  // namespace tetherd::config::detail

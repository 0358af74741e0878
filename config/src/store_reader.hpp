#pragma once

// The "stores" object: one named local, sftp or s3 store per key.

#include <string>
#include <vector>

#include "json_document.hpp"
#include "tetherd/config/config.hpp"
#include "value_reader.hpp"

namespace tetherd::config::detail {

/// What the rules need to know about "stores" to judge their targets.
struct StoreIndex {
  bool valid = true;                 ///< false if "stores" is not an object at all
  std::vector<std::string> names;    ///< every key of "stores", valid or not
  std::vector<std::string> invalid;  ///< stores that had problems (already reported)
};

/// Adds every valid store to config.stores; reports the rest.
void read_stores(ValueReader& reader, const JsonValue& value, Config& config, StoreIndex& index);

}  // namespace tetherd::config::detail

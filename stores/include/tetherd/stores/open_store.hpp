#pragma once

// open_store: the one place that turns a store configuration into a backend.

#include <string>

#include "tetherd/core/store.hpp"

namespace tetherd::stores {

struct StoreConfig {
  std::string type;     ///< "local" or "memory"
  std::string name;     ///< shown in messages: "store 'backup': ..."
  std::string root;     ///< local: the directory
  bool durable = true;  ///< local: fsync (DURABLE)
};

/// Opens a store (blocking for local: see open_local_store). InvalidPath for an unknown
/// type, with the known ones named.
core::Result<core::StorePtr> open_store(core::Executor& executor, const StoreConfig& config);

}  // namespace tetherd::stores

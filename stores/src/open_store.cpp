#include "tetherd/stores/open_store.hpp"

#include "tetherd/stores/local_store.hpp"
#include "tetherd/stores/memory_store.hpp"

namespace tetherd::stores {

core::Result<core::StorePtr> open_store(core::Executor& executor, const StoreConfig& config) {
  if (config.type == "local") {
    LocalStoreOptions options;
    options.name = config.name.empty() ? "local" : config.name;
    options.root = config.root;
    options.durable = config.durable;
    return open_local_store(executor, std::move(options));
  }
  if (config.type == "memory") {
    MemoryStoreOptions options;
    options.name = config.name.empty() ? "memory" : config.name;
    return core::StorePtr(open_memory_store(executor, std::move(options)));
  }
  auto error = core::StoreError::make(
      core::Errc::InvalidPath, "unknown store type '" + config.type + "' (known: local, memory)");
  error.store = config.name;
  error.operation = core::Operation::Open;
  return error;
}

}  // namespace tetherd::stores

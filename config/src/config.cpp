#include "tetherd/config/config.hpp"

#include <algorithm>

namespace tetherd::config {

std::string_view store_type_name(const StoreConfig& store) {
  switch (store.backend.index()) {
    case 0:
      return "local";
    case 1:
      return "sftp";
    default:
      return "s3";
  }
}

std::string_view to_string(DeleteMode mode) {
  switch (mode) {
    case DeleteMode::Always:
      return "true";
    case DeleteMode::Never:
      return "false";
    case DeleteMode::Startup:
      return "startup";
    case DeleteMode::Running:
      return "running";
  }
  return "unknown";
}

std::string_view to_string(SymlinkMode mode) {
  switch (mode) {
    case SymlinkMode::Copy:
      return "copy";
    case SymlinkMode::Follow:
      return "follow";
    case SymlinkMode::Skip:
      return "skip";
  }
  return "unknown";
}

std::string_view to_string(LogLevel level) {
  switch (level) {
    case LogLevel::Trace:
      return "trace";
    case LogLevel::Debug:
      return "debug";
    case LogLevel::Info:
      return "info";
    case LogLevel::Warn:
      return "warn";
    case LogLevel::Error:
      return "error";
  }
  return "unknown";
}

const StoreConfig* Config::find_store(std::string_view name) const {
  const auto it = std::find_if(stores.begin(), stores.end(),
                               [name](const StoreConfig& store) { return store.name == name; });
  return it == stores.end() ? nullptr : &*it;
}

std::optional<std::filesystem::path> Config::local_directory(const Target& target) const {
  if (target.implicit_local()) return std::filesystem::path(target.path);
  const StoreConfig* store = find_store(target.store);
  const auto* local = store ? std::get_if<LocalStoreConfig>(&store->backend) : nullptr;
  if (local == nullptr) return std::nullopt;
  return target.path.empty() ? local->root : local->root / target.path;
}

}  // namespace tetherd::config

#include "json_path.hpp"

#include "json_document.hpp"

namespace tetherd::config::detail {
namespace {

bool plain_key(std::string_view key) {
  if (key.empty()) return false;
  for (const char c : key) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == '-' || c == '$';
    if (!ok) return false;
  }
  return true;
}

}  // namespace

std::string child_path(std::string_view parent, std::string_view key) {
  std::string path(parent);
  if (plain_key(key)) {
    if (!path.empty()) path += '.';
    path += key;
  } else {
    path += '[';
    path += quote(key);
    path += ']';
  }
  return path;
}

std::string index_path(std::string_view parent, std::size_t index) {
  return std::string(parent) + "[" + std::to_string(index) + "]";
}

}  // namespace tetherd::config::detail

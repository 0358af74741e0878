#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace tetherd::config::detail {

/// `parent.key`, or `parent["key"]` when the key is not made of letters, digits, '_', '-', '$'.
std::string child_path(std::string_view parent, std::string_view key);

/// `parent[index]`.
std::string index_path(std::string_view parent, std::size_t index);

}  // namespace tetherd::config::detail

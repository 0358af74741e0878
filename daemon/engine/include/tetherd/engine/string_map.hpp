#pragma once

// StringMap: an unordered map keyed by std::string that is looked up by std::string_view
// without building a std::string per lookup (the engine's queues and indexes are asked
// about paths on every event).

#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace tetherd::daemon {

struct StringHash {
  using is_transparent = void;
  // Not noexcept on purpose: libstdc++ then keeps each node's hash, so a rehash or a walk
  // along a bucket never hashes the stored strings again.
  std::size_t operator()(std::string_view text) const {
    return std::hash<std::string_view>{}(text);
  }
};

template <typename Value>
using StringMap = std::unordered_map<std::string, Value, StringHash, std::equal_to<>>;

}  // namespace tetherd::daemon

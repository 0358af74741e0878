// StoreKey::parse on arbitrary bytes: never UB, and every accepted key satisfies the
// invariants the stores rely on (no "..", no empty or "." segment, no NUL, segments of at
// most 255 bytes, normalization idempotent, parent/name/join consistent, ordering equal
// to a segment-by-segment comparison).

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>
#include <vector>

#include "tetherd/core/store_key.hpp"

using tetherd::core::StoreKey;

namespace {

void require(bool condition) {
  if (!condition) std::abort();
}

void check_key(std::string_view input) {
  auto parsed = StoreKey::parse(input);
  if (!parsed) {
    require(parsed.error().code == tetherd::core::Errc::InvalidPath);
    bool has_nul = input.find('\0') != std::string_view::npos;
    bool bad_segment = false;
    std::size_t position = 0;
    while (position <= input.size()) {
      auto end = input.find('/', position);
      if (end == std::string_view::npos) end = input.size();
      auto segment = input.substr(position, end - position);
      if (segment == ".." || segment.size() > StoreKey::kMaxSegmentBytes) bad_segment = true;
      position = end + 1;
    }
    require(has_nul || bad_segment);
    return;
  }
  const StoreKey& key = *parsed;
  const std::string& text = key.str();
  require(text.find('\0') == std::string::npos);
  require(text.empty() || (text.front() != '/' && text.back() != '/'));
  for (auto segment : key.segments()) {
    require(!segment.empty() && segment != "." && segment != "..");
    require(segment.size() <= StoreKey::kMaxSegmentBytes);
  }
  auto again = StoreKey::parse(text);
  require(again.ok() && *again == key);
  require(key.depth() == key.segments().size());
  if (!key.is_root()) {
    require(key.parent().join(key.name()).value() == key);
    require(key.is_within(key.parent()));
    require(key.relative_to(key.parent()).str() == key.name());
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  check_key(input);
  // Two keys separated by the first newline: ordering matches segment comparison.
  auto newline = input.find('\n');
  if (newline != std::string_view::npos) {
    auto a = StoreKey::parse(input.substr(0, newline));
    auto b = StoreKey::parse(input.substr(newline + 1));
    if (a && b) {
      auto sa = a->segments();
      auto sb = b->segments();
      auto unsigned_less = [](std::string_view x, std::string_view y) {
        return std::lexicographical_compare(
            x.begin(), x.end(), y.begin(), y.end(), [](char l, char r) {
              return static_cast<unsigned char>(l) < static_cast<unsigned char>(r);
            });
      };
      bool expected =
          std::lexicographical_compare(sa.begin(), sa.end(), sb.begin(), sb.end(), unsigned_less);
      require((*a < *b) == expected);
      require((*a == *b) == (sa == sb));
    }
  }
  return 0;
}

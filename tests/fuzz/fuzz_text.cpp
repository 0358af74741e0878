// core/text on arbitrary bytes: never UB, is_valid_utf8 agrees with a decoder written from
// the definition (code point ranges rather than byte ranges), utf8_lossy output is valid and
// equals the input exactly when the input is valid, display_escape output is valid UTF-8
// without control characters and tells inputs apart, base64 round-trips.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "tetherd/core/text.hpp"

namespace core = tetherd::core;

namespace {

void require(bool condition) {
  if (!condition) std::abort();
}

// The oracle: decodes each sequence by its lead byte's bit pattern into a code point, then
// checks the Unicode definition (shortest form, no surrogate, at most U+10FFFF).
bool oracle_valid(std::string_view bytes) {
  std::size_t at = 0;
  while (at < bytes.size()) {
    const auto lead = static_cast<std::uint8_t>(bytes[at]);
    std::size_t count = 0;
    std::uint32_t code = 0;
    std::uint32_t smallest = 0;
    if ((lead & 0x80) == 0) {
      count = 1;
      code = lead;
    } else if ((lead & 0xE0) == 0xC0) {
      count = 2;
      code = lead & 0x1F;
      smallest = 0x80;
    } else if ((lead & 0xF0) == 0xE0) {
      count = 3;
      code = lead & 0x0F;
      smallest = 0x800;
    } else if ((lead & 0xF8) == 0xF0) {
      count = 4;
      code = lead & 0x07;
      smallest = 0x10000;
    } else {
      return false;
    }
    if (bytes.size() - at < count) return false;
    for (std::size_t index = 1; index < count; ++index) {
      const auto next = static_cast<std::uint8_t>(bytes[at + index]);
      if ((next & 0xC0) != 0x80) return false;
      code = code << 6 | (next & 0x3F);
    }
    if (code < smallest || code > 0x10FFFF || (code >= 0xD800 && code <= 0xDFFF)) return false;
    at += count;
  }
  return true;
}

bool has_control(std::string_view text) {
  for (std::size_t at = 0; at < text.size(); ++at) {
    const auto byte = static_cast<std::uint8_t>(text[at]);
    if (byte < 0x20 || byte == 0x7F) return true;
    if (byte == 0xC2 && at + 1 < text.size() && static_cast<std::uint8_t>(text[at + 1]) < 0xA0) {
      return true;  // U+0080..U+009F
    }
  }
  return false;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const bool valid = core::is_valid_utf8(input);
  require(valid == oracle_valid(input));

  const std::string lossy = core::utf8_lossy(input);
  require(core::is_valid_utf8(lossy));
  require((lossy == input) == valid);

  const std::string shown = core::display_escape(input);
  require(core::is_valid_utf8(shown));
  require(!has_control(shown));

  // Two inputs split at the first byte's value: distinct inputs, distinct renderings.
  if (!input.empty()) {
    const std::size_t cut = std::min<std::size_t>(static_cast<std::uint8_t>(input[0]), size - 1);
    const std::string_view first = input.substr(1, cut);
    const std::string_view second = input.substr(1 + cut);
    require((first == second) == (core::display_escape(first) == core::display_escape(second)));
  }

  const auto decoded = core::base64_decode(core::base64_encode(input));
  require(decoded.has_value() && *decoded == input);
  return 0;
}

#pragma once

// Character reading shared by the glob compiler and matcher (private to tetherd_core).
// A "character" is a well-formed UTF-8 sequence, or else a single stray byte (see glob.hpp).

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace tetherd::core::glob_chars {

/// Stray bytes (not part of a well-formed UTF-8 sequence) are numbered after every code point,
/// so that they never equal a code point and ranges of them stay contiguous.
inline constexpr std::uint32_t stray_byte_base = 0x110000;

struct Char {
  std::uint32_t value;  ///< code point, or stray_byte_base + byte
  std::size_t length;   ///< bytes consumed, 1..4
};

/// Reads the character starting at text[position]. Precondition: position < text.size().
Char read_char(std::string_view text, std::size_t position) noexcept;

/// Appends `text` to `out` with bytes outside printable ASCII (and '"', '\\') shown as \xNN,
/// for error messages and explanations.
void append_printable(std::string& out, std::string_view text);

}  // namespace tetherd::core::glob_chars

#pragma once

// The compiled form of a GlobPattern (private to tetherd_core): built by glob_compile.cpp,
// read by glob_match.cpp.

#include <cstdint>
#include <string>
#include <vector>

#include "tetherd/core/glob.hpp"

namespace tetherd::core {

/// One element of a wildcard segment. Every kind but `star` consumes exactly one character,
/// which is what lets the matcher use the linear two-pointer star algorithm.
struct GlobPattern::Token {
  enum class Kind : std::uint8_t { literal, any_char, star, char_class };
  struct Range {
    std::uint32_t first;  ///< inclusive, character values as in glob_chars::Char
    std::uint32_t last;   ///< inclusive
  };

  Kind kind = Kind::literal;
  bool negated = false;       ///< char_class: `[!...]` / `[^...]`
  std::uint32_t value = 0;    ///< literal: the character value
  std::vector<Range> ranges;  ///< char_class: members (single characters are first == last)
};

/// One '/'-separated part of the pattern.
struct GlobPattern::Segment {
  enum class Kind : std::uint8_t {
    literal,      ///< no metacharacters: the segment must equal `literal` byte for byte
    any_segment,  ///< `*` (or `***`): matches every segment
    suffix,       ///< `*` then literal text: the segment must end with `literal` (fast path)
    wildcard,     ///< general: `tokens`
    double_star,  ///< `**` alone: zero or more whole segments
  };

  Kind kind = Kind::literal;
  std::string literal;        ///< literal and suffix: unescaped bytes
  std::vector<Token> tokens;  ///< wildcard: the compiled segment
};

namespace glob_detail {

/// True if `segments` (as compiled, including the leading `**` of an unanchored pattern)
/// match the whole '/'-separated `path`. Never allocates.
bool match_segments(const GlobPattern::Segment* segments, std::size_t count,
                    std::string_view path) noexcept;

}  // namespace glob_detail

}  // namespace tetherd::core

// Internal helpers of PurePath, shared by the pure_path*.cpp files. Not installed.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "tetherd/core/pure_path.hpp"

namespace tetherd::core::path_detail {

// ---- text (pure_path_unicode.cpp) ----------------------------------------------------

// One decoded character. Valid UTF-8 decodes to its code point; a byte that does not
// start a valid sequence decodes alone to U+DC80..U+DCFF, like Python's surrogateescape,
// so that every byte string maps to a sequence of characters and back.
struct Decoded {
  char32_t code;
  std::size_t length;  // bytes consumed, >= 1
};
Decoded decode_utf8(std::string_view text, std::size_t at) noexcept;
std::vector<char32_t> decode_all(std::string_view text);
// Inverse of decode_utf8 (U+DC80..U+DCFF become the raw byte again).
void append_utf8(std::string& out, char32_t code);

struct LowerPair {
  char32_t from;
  char32_t to;
};
extern const LowerPair lower_pairs[];
extern const std::size_t lower_pair_count;

struct CodeRange {
  char32_t first;
  char32_t last;
};
// Unicode Cased and Case_Ignorable as Python's final-sigma rule applies them.
extern const CodeRange cased_ranges[];
extern const std::size_t cased_ranges_count;
extern const CodeRange case_ignorable_ranges[];
extern const std::size_t case_ignorable_ranges_count;

// Simple (one to one) lower-case mapping of Python's str.lower().
char32_t simple_lower(char32_t code) noexcept;
// Every character whose simple lower-case mapping is `lowered` (excluding itself).
std::vector<char32_t> upper_variants(char32_t lowered);
// Python's str.lower(), on UTF-8 text, including the final-sigma rule (U+03A3 lowers
// to U+03C2 after a cased letter when no cased letter follows, case-ignorable
// characters skipped both ways).
std::string python_lower(std::string_view text);
bool is_ascii(std::string_view text) noexcept;

// ---- parsing (pure_path_parse.cpp) ---------------------------------------------------

// Lengths of drive and root at the start of `path` (Windows: separators must already be
// backslashes), as ntpath.splitroot / posixpath.splitroot return them.
struct RootSplit {
  std::size_t drive = 0;
  std::size_t root = 0;
};
RootSplit split_root_windows(std::string_view path) noexcept;
// True when a name (no separators) starts with a Windows drive: "X:" where X is any one
// character (ntpath.splitdrive of 3.12+).
bool starts_with_drive(std::string_view name) noexcept;

// ---- matching (pure_path_match.cpp) --------------------------------------------------

// Python 3.13 glob.translate(pattern, recursive, include_hidden=True, seps=sep) matched
// with re.match against the whole `text` (both UTF-8 / surrogate-escaped bytes).
bool glob_match(std::string_view pattern, std::string_view text, char sep, bool recursive,
                bool case_sensitive);

}  // namespace tetherd::core::path_detail

// Cross-check: GlobPattern against a deliberately naive reference matcher written here from the
// specification (plain recursion, exponential in the worst case, no shared code with the
// implementation), on many random pattern/path pairs. Both validity (throws or not) and the
// match result must agree. The random generator is seeded, so a failure is reproducible.

#include <doctest/doctest.h>

#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "tetherd/core/glob.hpp"

namespace {

// ------------------------------------------------------------------------------------------
// Reference

/// Splits bytes into characters: well-formed UTF-8 sequences, else single bytes. Stray bytes
/// get values 0x110000 + byte. Formulated as "decode, then reject overlong/surrogate/too big".
std::vector<std::uint32_t> reference_chars(std::string_view text) {
  std::vector<std::uint32_t> out;
  std::size_t i = 0;
  while (i < text.size()) {
    const auto b0 = static_cast<unsigned char>(text[i]);
    std::size_t length = b0 < 0x80 ? 1 : b0 >= 0xF0 ? 4 : b0 >= 0xE0 ? 3 : b0 >= 0xC0 ? 2 : 0;
    bool ok = length >= 1 && length <= 4 && b0 < 0xF8 && i + length <= text.size();
    std::uint32_t value = 0;
    if (ok) {
      value = length == 1 ? b0 : b0 & (0xFFu >> (length + 1));
      for (std::size_t k = 1; k < length; ++k) {
        const auto b = static_cast<unsigned char>(text[i + k]);
        if (b < 0x80 || b > 0xBF) ok = false;
        value = (value << 6) | (b & 0x3Fu);
      }
    }
    const std::uint32_t minimum[] = {0, 0, 0x80, 0x800, 0x10000};
    if (ok &&
        (value < minimum[length] || value > 0x10FFFF || (value >= 0xD800 && value <= 0xDFFF))) {
      ok = false;
    }
    if (ok) {
      out.push_back(value);
      i += length;
    } else {
      out.push_back(0x110000u + b0);
      i += 1;
    }
  }
  return out;
}

struct Item {
  enum Kind { literal, any, star, set } kind = literal;
  std::uint32_t value = 0;
  bool negated = false;
  std::vector<std::pair<std::uint32_t, std::uint32_t>> ranges;
};

Item make_item(Item::Kind kind, std::uint32_t value = 0) {
  Item item;
  item.kind = kind;
  item.value = value;
  return item;
}

struct RefSegment {
  bool double_star = false;
  std::vector<Item> items;
};

struct RefPattern {
  bool anchored = false;
  bool dir_only = false;
  std::vector<RefSegment> segments;
};

/// Parses one segment's text; nullopt if invalid.
std::optional<RefSegment> reference_segment(const std::string& text) {
  RefSegment segment;
  if (text.empty()) return std::nullopt;
  if (text == "**") {
    segment.double_star = true;
    return segment;
  }
  std::string literal;
  bool only_literal = true;
  const auto flush = [&] {
    for (std::uint32_t c : reference_chars(literal))
      segment.items.push_back(make_item(Item::literal, c));
    literal.clear();
  };
  std::size_t i = 0;
  while (i < text.size()) {
    const char c = text[i];
    if (c == '\\') {
      if (i + 1 == text.size()) return std::nullopt;
      literal += text[i + 1];
      i += 2;
    } else if (c == '*') {
      flush();
      only_literal = false;
      segment.items.push_back(make_item(Item::star));
      ++i;
    } else if (c == '?') {
      flush();
      only_literal = false;
      segment.items.push_back(make_item(Item::any));
      ++i;
    } else if (c == '[') {
      flush();
      only_literal = false;
      Item set = make_item(Item::set);
      std::size_t j = i + 1;
      if (j < text.size() && (text[j] == '!' || text[j] == '^')) {
        set.negated = true;
        ++j;
      }
      // Members: a list of characters (escapes resolved) with '-' markers between them.
      bool closed = false;
      bool first = true;
      std::vector<std::pair<std::uint32_t, bool>> members;  // (char, is_range_dash)
      while (j < text.size()) {
        if (text[j] == ']' && !first) {
          closed = true;
          ++j;
          break;
        }
        if (text[j] == '[' && j + 1 < text.size() &&
            (text[j + 1] == ':' || text[j + 1] == '.' || text[j + 1] == '=')) {
          return std::nullopt;
        }
        first = false;
        bool escaped = false;
        if (text[j] == '\\') {
          escaped = true;
          ++j;
          if (j == text.size()) return std::nullopt;
        }
        const bool dash = !escaped && text[j] == '-';
        const std::uint32_t ch = reference_chars(text.substr(j)).front();
        members.push_back({ch, dash});
        // Well-formed characters are in shortest form, so the value gives the length.
        j += ch >= 0x110000u || ch < 0x80 ? 1 : ch < 0x800 ? 2 : ch < 0x10000 ? 3 : 4;
      }
      if (!closed) return std::nullopt;
      // Ranges: x '-' y where the '-' is unescaped and neither first nor last.
      for (std::size_t k = 0; k < members.size(); ++k) {
        if (k + 2 < members.size() && members[k + 1].second) {
          if (members[k + 2].first < members[k].first) return std::nullopt;
          set.ranges.push_back({members[k].first, members[k + 2].first});
          k += 2;
        } else {
          set.ranges.push_back({members[k].first, members[k].first});
        }
      }
      segment.items.push_back(set);
      i = j;
    } else {
      literal += c;
      ++i;
    }
  }
  if (only_literal && (literal == "." || literal == "..")) return std::nullopt;
  flush();
  return segment;
}

std::optional<RefPattern> reference_pattern(std::string text) {
  RefPattern pattern;
  if (text.empty() || text.find('\0') != std::string::npos) return std::nullopt;
  if (text.front() == '/') {
    pattern.anchored = true;
    text.erase(0, 1);
  }
  if (!text.empty() && text.back() == '/') {
    pattern.dir_only = true;
    text.pop_back();
  }
  std::size_t start = 0;
  for (;;) {
    const std::size_t slash = text.find('/', start);
    auto segment = reference_segment(text.substr(start, slash - start));
    if (!segment) return std::nullopt;
    pattern.segments.push_back(*segment);
    if (slash == std::string::npos) break;
    start = slash + 1;
  }
  return pattern;
}

bool item_matches(const Item& item, std::uint32_t c) {
  if (item.kind == Item::any) return true;
  if (item.kind == Item::literal) return item.value == c;
  bool in = false;
  for (const auto& [low, high] : item.ranges)
    in = in || (c >= low && c <= high);
  return in != item.negated;
}

bool match_items(const std::vector<Item>& items, std::size_t i, const std::vector<std::uint32_t>& s,
                 std::size_t j) {
  if (i == items.size()) return j == s.size();
  if (items[i].kind == Item::star) {
    for (std::size_t k = j; k <= s.size(); ++k) {
      if (match_items(items, i + 1, s, k)) return true;
    }
    return false;
  }
  return j < s.size() && item_matches(items[i], s[j]) && match_items(items, i + 1, s, j + 1);
}

bool match_segs(const std::vector<RefSegment>& p, std::size_t i, const std::vector<std::string>& s,
                std::size_t j) {
  if (i == p.size()) return j == s.size();
  if (p[i].double_star) {
    for (std::size_t k = j; k <= s.size(); ++k) {
      if (match_segs(p, i + 1, s, k)) return true;
    }
    return false;
  }
  return j < s.size() && match_items(p[i].items, 0, reference_chars(s[j]), 0) &&
         match_segs(p, i + 1, s, j + 1);
}

bool reference_matches(const RefPattern& pattern, const std::string& path, bool is_dir) {
  if (pattern.dir_only && !is_dir) return false;
  std::vector<std::string> segments;
  if (!path.empty()) {
    std::size_t start = 0;
    for (;;) {
      const std::size_t slash = path.find('/', start);
      segments.push_back(path.substr(start, slash - start));
      if (slash == std::string::npos) break;
      start = slash + 1;
    }
  }
  if (pattern.anchored) return match_segs(pattern.segments, 0, segments, 0);
  for (std::size_t k = 0; k <= segments.size(); ++k) {
    const std::vector<std::string> tail(segments.begin() + static_cast<std::ptrdiff_t>(k),
                                        segments.end());
    if (match_segs(pattern.segments, 0, tail, 0)) return true;
  }
  return false;
}

// ------------------------------------------------------------------------------------------
// Random inputs

std::string random_pattern(std::mt19937& random) {
  static const std::vector<std::string> pieces = {
      "a",    "b", "a",    "b",    ".",     "*",   "*",    "?",        "**",   "/",
      "/",    "[", "]",    "!",    "^",     "-",   "\\",   "\xc3\xa9", "\xff", "\xc3",
      "\xa9", ":", "[ab]", "[!a]", "[a-c]", "**/", "/**/", "\\*"};
  std::uniform_int_distribution<std::size_t> count(1, 9);
  std::uniform_int_distribution<std::size_t> pick(0, pieces.size() - 1);
  std::string out;
  for (std::size_t n = count(random); n > 0; --n)
    out += pieces[pick(random)];
  return out;
}

std::string random_path(std::mt19937& random) {
  static const std::vector<std::string> chars = {"a",    "b",    "a",    "b", "c", ".", "\xc3\xa9",
                                                 "\xff", "\xc3", "\xa9", "*", "?", "[", "]",
                                                 "-",    "!",    "\\",   ":", "^"};
  std::uniform_int_distribution<std::size_t> segments(0, 5);
  std::uniform_int_distribution<std::size_t> length(1, 4);
  std::uniform_int_distribution<std::size_t> pick(0, chars.size() - 1);
  std::string out;
  const std::size_t count = segments(random);
  for (std::size_t s = 0; s < count; ++s) {
    if (s > 0) out += '/';
    // Now and then an empty segment (a malformed path, still with a defined result).
    if (random() % 40 == 0) continue;
    for (std::size_t n = length(random); n > 0; --n)
      out += chars[pick(random)];
  }
  return out;
}

}  // namespace

TEST_CASE("glob cross-check: implementation agrees with the naive reference") {
  std::mt19937 random(20261125);
  std::size_t valid = 0;
  std::size_t invalid = 0;
  std::size_t matched = 0;
  std::size_t compared = 0;
  for (int round = 0; round < 40000; ++round) {
    const std::string pattern_text = random_pattern(random);
    const std::optional<RefPattern> reference = reference_pattern(pattern_text);
    std::optional<tetherd::core::GlobPattern> pattern;
    try {
      pattern.emplace(pattern_text);
    } catch (const tetherd::core::GlobSyntaxError& error) {
      CHECK(error.offset() < pattern_text.size() + 1);
    }
    CAPTURE(pattern_text);
    REQUIRE(pattern.has_value() == reference.has_value());
    if (!pattern) {
      ++invalid;
      continue;
    }
    ++valid;
    for (int p = 0; p < 8; ++p) {
      const std::string path = random_path(random);
      const bool is_dir = (random() & 1U) != 0;
      CAPTURE(path);
      CAPTURE(is_dir);
      const bool expected = reference_matches(*reference, path, is_dir);
      REQUIRE(pattern->matches(path, is_dir) == expected);
      matched += expected ? 1 : 0;
      ++compared;
    }
  }
  MESSAGE("valid patterns " << valid << ", invalid " << invalid << ", pairs " << compared
                            << ", matches " << matched);
  // The generator must exercise both outcomes, or this test could not fail.
  CHECK(valid > 10000);
  CHECK(invalid > 2000);
  CHECK(matched > compared / 50);
}

TEST_CASE("glob cross-check: a pattern with its path's segments made literal matches the path") {
  std::mt19937 random(7);
  for (int round = 0; round < 5000; ++round) {
    const std::string path = random_path(random);
    const bool empty_segment = path.empty() || path.front() == '/' || path.back() == '/' ||
                               path.find("//") != std::string::npos;
    if (empty_segment) continue;  // malformed: escaping cannot make it a valid pattern
    const std::string pattern = std::string("/").append(tetherd::core::escape_glob(path));
    CAPTURE(path);
    std::optional<tetherd::core::GlobPattern> compiled;
    try {
      compiled.emplace(pattern);
    } catch (const tetherd::core::GlobSyntaxError&) {
      // Only `.` and `..` segments make an escaped path invalid.
      bool dot_segment = false;
      for (std::size_t start = 0;;) {
        const std::size_t slash = path.find('/', start);
        const std::string segment = path.substr(start, slash - start);
        dot_segment = dot_segment || segment == "." || segment == "..";
        if (slash == std::string::npos) break;
        start = slash + 1;
      }
      CHECK(dot_segment);
      continue;
    }
    CHECK(compiled->matches(path, false));
    CHECK(compiled->matches(path, true));
  }
}

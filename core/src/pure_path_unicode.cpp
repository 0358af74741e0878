// UTF-8 decoding with surrogate escapes, and Python's str.lower() for Windows paths.
#include <algorithm>

#include "pure_path_internal.hpp"

namespace tetherd::core::path_detail {

namespace {

bool is_continuation(unsigned char byte) noexcept {
  return (byte & 0xC0U) == 0x80U;
}

}  // namespace

Decoded decode_utf8(std::string_view text, std::size_t at) noexcept {
  const auto byte = [&](std::size_t index) { return static_cast<unsigned char>(text[at + index]); };
  const unsigned char lead = byte(0);
  const std::size_t left = text.size() - at;
  if (lead < 0x80U) {
    return {lead, 1};
  }
  const Decoded invalid{static_cast<char32_t>(0xDC00U + lead), 1};
  if (lead >= 0xC2U && lead <= 0xDFU) {
    if (left < 2 || !is_continuation(byte(1))) {
      return invalid;
    }
    return {static_cast<char32_t>(((lead & 0x1FU) << 6) | (byte(1) & 0x3FU)), 2};
  }
  if (lead >= 0xE0U && lead <= 0xEFU) {
    if (left < 3 || !is_continuation(byte(1)) || !is_continuation(byte(2))) {
      return invalid;
    }
    // Overlong forms and encoded surrogates are invalid (as for Python's decoder).
    if ((lead == 0xE0U && byte(1) < 0xA0U) || (lead == 0xEDU && byte(1) > 0x9FU)) {
      return invalid;
    }
    return {static_cast<char32_t>(((lead & 0x0FU) << 12) | ((byte(1) & 0x3FU) << 6) |
                                  (byte(2) & 0x3FU)),
            3};
  }
  if (lead >= 0xF0U && lead <= 0xF4U) {
    if (left < 4 || !is_continuation(byte(1)) || !is_continuation(byte(2)) ||
        !is_continuation(byte(3))) {
      return invalid;
    }
    if ((lead == 0xF0U && byte(1) < 0x90U) || (lead == 0xF4U && byte(1) > 0x8FU)) {
      return invalid;
    }
    return {static_cast<char32_t>(((lead & 0x07U) << 18) | ((byte(1) & 0x3FU) << 12) |
                                  ((byte(2) & 0x3FU) << 6) | (byte(3) & 0x3FU)),
            4};
  }
  return invalid;
}

std::vector<char32_t> decode_all(std::string_view text) {
  std::vector<char32_t> codes;
  codes.reserve(text.size());
  for (std::size_t at = 0; at < text.size();) {
    const Decoded decoded = decode_utf8(text, at);
    codes.push_back(decoded.code);
    at += decoded.length;
  }
  return codes;
}

void append_utf8(std::string& out, char32_t code) {
  if (code < 0x80U) {
    out.push_back(static_cast<char>(code));
  } else if (code >= 0xDC80U && code <= 0xDCFFU) {
    out.push_back(static_cast<char>(code - 0xDC00U));  // a surrogate-escaped raw byte
  } else if (code < 0x800U) {
    out.push_back(static_cast<char>(0xC0U | (code >> 6)));
    out.push_back(static_cast<char>(0x80U | (code & 0x3FU)));
  } else if (code < 0x10000U) {
    out.push_back(static_cast<char>(0xE0U | (code >> 12)));
    out.push_back(static_cast<char>(0x80U | ((code >> 6) & 0x3FU)));
    out.push_back(static_cast<char>(0x80U | (code & 0x3FU)));
  } else {
    out.push_back(static_cast<char>(0xF0U | (code >> 18)));
    out.push_back(static_cast<char>(0x80U | ((code >> 12) & 0x3FU)));
    out.push_back(static_cast<char>(0x80U | ((code >> 6) & 0x3FU)));
    out.push_back(static_cast<char>(0x80U | (code & 0x3FU)));
  }
}

char32_t simple_lower(char32_t code) noexcept {
  if (code < 0x80U) {
    return (code >= 'A' && code <= 'Z') ? code + 32 : code;
  }
  const LowerPair* begin = lower_pairs;
  const LowerPair* end = lower_pairs + lower_pair_count;
  const LowerPair* found = std::lower_bound(
      begin, end, code, [](const LowerPair& pair, char32_t key) { return pair.from < key; });
  if (found != end && found->from == code) {
    return found->to;
  }
  if (code == 0x130U) {
    return 'i';  // U+0130 lowers to "i\u0307" in full; its simple mapping is 'i'
  }
  return code;
}

std::vector<char32_t> upper_variants(char32_t lowered) {
  // The inverse table, built once; sorted by lower-case code point.
  static const std::vector<LowerPair> inverse = [] {
    std::vector<LowerPair> pairs;
    pairs.reserve(lower_pair_count + 1);
    for (std::size_t i = 0; i < lower_pair_count; ++i) {
      pairs.push_back({lower_pairs[i].to, lower_pairs[i].from});
    }
    pairs.push_back({'i', 0x130U});
    std::sort(pairs.begin(), pairs.end(), [](const LowerPair& a, const LowerPair& b) {
      return a.from != b.from ? a.from < b.from : a.to < b.to;
    });
    return pairs;
  }();
  std::vector<char32_t> variants;
  auto found =
      std::lower_bound(inverse.begin(), inverse.end(), lowered,
                       [](const LowerPair& pair, char32_t key) { return pair.from < key; });
  for (; found != inverse.end() && found->from == lowered; ++found) {
    variants.push_back(found->to);
  }
  return variants;
}

bool is_ascii(std::string_view text) noexcept {
  return std::all_of(text.begin(), text.end(),
                     [](char c) { return static_cast<unsigned char>(c) < 0x80U; });
}

namespace {

bool in_ranges(const CodeRange* ranges, std::size_t count, char32_t code) {
  const CodeRange* end = ranges + count;
  const CodeRange* found = std::lower_bound(
      ranges, end, code, [](const CodeRange& range, char32_t key) { return range.last < key; });
  return found != end && found->first <= code;
}

bool is_cased(char32_t code) {
  return in_ranges(cased_ranges, cased_ranges_count, code);
}

bool is_case_ignorable(char32_t code) {
  return in_ranges(case_ignorable_ranges, case_ignorable_ranges_count, code);
}

constexpr char32_t capital_sigma = 0x3A3;

// CPython's handle_capital_sigma(): U+03A3 at `index` is final when a cased character
// precedes it and none follows, skipping case-ignorable characters both ways.
bool is_final_sigma(const std::vector<char32_t>& codes, std::size_t index) {
  std::size_t before = index;
  while (before > 0 && is_case_ignorable(codes[before - 1])) {
    --before;
  }
  if (before == 0 || !is_cased(codes[before - 1])) {
    return false;
  }
  std::size_t after = index + 1;
  while (after < codes.size() && is_case_ignorable(codes[after])) {
    ++after;
  }
  return after == codes.size() || !is_cased(codes[after]);
}

void append_lower(std::string& out, char32_t code) {
  if (code == 0x130U) {
    out.append("i\xCC\x87");  // the one full lower-case mapping to two characters
  } else {
    append_utf8(out, simple_lower(code));
  }
}

}  // namespace

std::string python_lower(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  if (text.find("\xCE\xA3") != std::string_view::npos) {
    // A capital sigma lowers by context: work on the whole decoded text.
    const std::vector<char32_t> codes = decode_all(text);
    for (std::size_t i = 0; i < codes.size(); ++i) {
      if (codes[i] == capital_sigma) {
        append_utf8(out, is_final_sigma(codes, i) ? 0x3C2 : 0x3C3);
      } else {
        append_lower(out, codes[i]);
      }
    }
    return out;
  }
  for (std::size_t at = 0; at < text.size();) {
    const auto byte = static_cast<unsigned char>(text[at]);
    if (byte < 0x80U) {
      out.push_back(static_cast<char>((byte >= 'A' && byte <= 'Z') ? byte + 32 : byte));
      ++at;
      continue;
    }
    const Decoded decoded = decode_utf8(text, at);
    append_lower(out, decoded.code);  // escaped bytes map to themselves
    at += decoded.length;
  }
  return out;
}

}  // namespace tetherd::core::path_detail

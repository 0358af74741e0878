#include "glob_chars.hpp"

namespace tetherd::core::glob_chars {

namespace {

bool is_continuation(unsigned char byte) noexcept {
  return (byte & 0xC0U) == 0x80U;
}

}  // namespace

Char read_char(std::string_view text, std::size_t position) noexcept {
  const auto lead = static_cast<unsigned char>(text[position]);
  const Char stray{stray_byte_base + lead, 1};
  if (lead < 0x80U) return Char{lead, 1};

  // Length and the allowed range of the second byte, which excludes overlong forms,
  // surrogates (U+D800..U+DFFF) and values above U+10FFFF (RFC 3629, table 3-7 of Unicode).
  std::size_t length = 0;
  unsigned char second_min = 0x80U;
  unsigned char second_max = 0xBFU;
  std::uint32_t value = 0;
  if (lead >= 0xC2U && lead <= 0xDFU) {
    length = 2;
    value = lead & 0x1FU;
  } else if (lead >= 0xE0U && lead <= 0xEFU) {
    length = 3;
    value = lead & 0x0FU;
    if (lead == 0xE0U) second_min = 0xA0U;
    if (lead == 0xEDU) second_max = 0x9FU;
  } else if (lead >= 0xF0U && lead <= 0xF4U) {
    length = 4;
    value = lead & 0x07U;
    if (lead == 0xF0U) second_min = 0x90U;
    if (lead == 0xF4U) second_max = 0x8FU;
  } else {
    return stray;
  }
  if (text.size() - position < length) return stray;
  const auto second = static_cast<unsigned char>(text[position + 1]);
  if (second < second_min || second > second_max) return stray;
  value = (value << 6U) | (second & 0x3FU);
  for (std::size_t i = 2; i < length; ++i) {
    const auto next = static_cast<unsigned char>(text[position + i]);
    if (!is_continuation(next)) return stray;
    value = (value << 6U) | (next & 0x3FU);
  }
  return Char{value, length};
}

void append_printable(std::string& out, std::string_view text) {
  static constexpr char hex_digits[] = "0123456789ABCDEF";
  for (const char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte >= 0x20U && byte < 0x7FU && c != '"' && c != '\\') {
      out.push_back(c);
    } else {
      out += "\\x";
      out.push_back(hex_digits[byte >> 4U]);
      out.push_back(hex_digits[byte & 0x0FU]);
    }
  }
}

}  // namespace tetherd::core::glob_chars

#include "tetherd/core/text.hpp"

#include <array>
#include <cstdint>

namespace tetherd::core {
namespace {

// Length of the well-formed UTF-8 sequence at bytes[at], or 0 if ill-formed; in that case
// `subpart` is the length of the maximal subpart (>= 1) to replace by one U+FFFD.
// The only place that states the validity rules: shortest form, no surrogates, nothing above
// U+10FFFF, no truncated sequence (Unicode table 3-7, RFC 3629).
std::size_t sequence_length(std::string_view bytes, std::size_t at, std::size_t& subpart) {
  const auto byte = [&](std::size_t index) { return static_cast<std::uint8_t>(bytes[index]); };
  const std::uint8_t lead = byte(at);
  subpart = 1;
  if (lead < 0x80) return 1;
  std::size_t length = 0;
  std::uint8_t low = 0x80;  // range of the second byte
  std::uint8_t high = 0xBF;
  if (lead >= 0xC2 && lead <= 0xDF) {
    length = 2;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    length = 3;
    if (lead == 0xE0) low = 0xA0;   // no overlong forms
    if (lead == 0xED) high = 0x9F;  // no surrogates
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    length = 4;
    if (lead == 0xF0) low = 0x90;   // no overlong forms
    if (lead == 0xF4) high = 0x8F;  // nothing above U+10FFFF
  } else {
    return 0;
  }
  for (std::size_t index = 1; index < length; ++index) {
    if (at + index >= bytes.size()) return 0;
    const std::uint8_t next = byte(at + index);
    const std::uint8_t min = index == 1 ? low : 0x80;
    const std::uint8_t max = index == 1 ? high : 0xBF;
    if (next < min || next > max) return 0;
    subpart = index + 1;
  }
  return length;
}

// Walks `bytes` front to back in units that tile it: each well-formed sequence (1 to 4
// bytes) goes to on_valid_sequence, each maximal subpart of an ill-formed one (1 to 3
// bytes) goes to on_invalid_subpart, both as a view into `bytes`. Every UTF-8 decoding
// loop in this file is this one.
template <typename OnValid, typename OnInvalid>
void for_each_utf8_unit(std::string_view bytes, OnValid&& on_valid_sequence,
                        OnInvalid&& on_invalid_subpart) {
  std::size_t at = 0;
  while (at < bytes.size()) {
    std::size_t subpart = 0;
    const std::size_t length = sequence_length(bytes, at, subpart);
    if (length == 0) {
      on_invalid_subpart(bytes.substr(at, subpart));
      at += subpart;
    } else {
      on_valid_sequence(bytes.substr(at, length));
      at += length;
    }
  }
}

constexpr std::string_view base64_alphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

constexpr char hex_digits[] = "0123456789abcdef";

void append_hex_escape(std::string& out, std::uint8_t byte) {
  out += "\\x";
  out.push_back(hex_digits[byte >> 4]);
  out.push_back(hex_digits[byte & 0xF]);
}

}  // namespace

bool is_valid_utf8(std::string_view bytes) noexcept {
  // No early exit: ill-formed input costs no more than well-formed input of the same size.
  bool valid = true;
  for_each_utf8_unit(
      bytes, [](std::string_view) {}, [&](std::string_view) { valid = false; });
  return valid;
}

std::string utf8_lossy(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size());
  for_each_utf8_unit(
      bytes, [&](std::string_view sequence) { out.append(sequence); },
      [&](std::string_view) { out += "\xEF\xBF\xBD"; });  // U+FFFD
  return out;
}

std::string base64_encode(std::string_view bytes) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  std::size_t at = 0;
  for (; at + 3 <= bytes.size(); at += 3) {
    const std::uint32_t group =
        static_cast<std::uint32_t>(static_cast<std::uint8_t>(bytes[at])) << 16 |
        static_cast<std::uint32_t>(static_cast<std::uint8_t>(bytes[at + 1])) << 8 |
        static_cast<std::uint8_t>(bytes[at + 2]);
    out.push_back(base64_alphabet[(group >> 18) & 63]);
    out.push_back(base64_alphabet[(group >> 12) & 63]);
    out.push_back(base64_alphabet[(group >> 6) & 63]);
    out.push_back(base64_alphabet[group & 63]);
  }
  const std::size_t rest = bytes.size() - at;
  if (rest > 0) {
    std::uint32_t group = static_cast<std::uint32_t>(static_cast<std::uint8_t>(bytes[at])) << 16;
    if (rest == 2)
      group |= static_cast<std::uint32_t>(static_cast<std::uint8_t>(bytes[at + 1])) << 8;
    out.push_back(base64_alphabet[(group >> 18) & 63]);
    out.push_back(base64_alphabet[(group >> 12) & 63]);
    out.push_back(rest == 2 ? base64_alphabet[(group >> 6) & 63] : '=');
    out.push_back('=');
  }
  return out;
}

std::optional<std::string> base64_decode(std::string_view text) {
  if (text.size() % 4 != 0) return std::nullopt;
  std::array<int, 256> value{};
  value.fill(-1);
  for (std::size_t index = 0; index < base64_alphabet.size(); ++index) {
    value[static_cast<std::uint8_t>(base64_alphabet[index])] = static_cast<int>(index);
  }
  std::string out;
  out.reserve(text.size() / 4 * 3);
  for (std::size_t at = 0; at < text.size(); at += 4) {
    const bool last = at + 4 == text.size();
    int digits[4];
    int padding = 0;
    for (int index = 0; index < 4; ++index) {
      const char symbol = text[at + static_cast<std::size_t>(index)];
      if (symbol == '=' && last && index >= 2) {
        ++padding;
        digits[index] = 0;
        continue;
      }
      if (padding > 0) return std::nullopt;  // data after padding
      digits[index] = value[static_cast<std::uint8_t>(symbol)];
      if (digits[index] < 0) return std::nullopt;
    }
    const std::uint32_t group =
        static_cast<std::uint32_t>(digits[0]) << 18 | static_cast<std::uint32_t>(digits[1]) << 12 |
        static_cast<std::uint32_t>(digits[2]) << 6 | static_cast<std::uint32_t>(digits[3]);
    // Canonical form only: the bits the padding hides must be zero.
    if ((padding == 1 && (group & 0xFF) != 0) || (padding == 2 && (group & 0xFFFF) != 0)) {
      return std::nullopt;
    }
    out.push_back(static_cast<char>((group >> 16) & 0xFF));
    if (padding < 2) out.push_back(static_cast<char>((group >> 8) & 0xFF));
    if (padding < 1) out.push_back(static_cast<char>(group & 0xFF));
  }
  return out;
}

void append_json_quoted(std::string& out, std::string_view utf8) {
  out.push_back('"');
  std::size_t plain = 0;  // start of the bytes not copied yet: runs are copied whole
  for (std::size_t i = 0; i < utf8.size(); ++i) {
    const auto byte = static_cast<std::uint8_t>(utf8[i]);
    if (byte >= 0x20 && byte != 0x7F && byte != '"' && byte != '\\') continue;
    out.append(utf8, plain, i - plain);
    plain = i + 1;
    switch (byte) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      default:
        out += "\\u00";
        out.push_back(hex_digits[byte >> 4]);
        out.push_back(hex_digits[byte & 0xF]);
    }
  }
  out.append(utf8, plain, utf8.size() - plain);
  out.push_back('"');
}

std::string json_quote(std::string_view utf8) {
  std::string out;
  out.reserve(utf8.size() + 2);
  append_json_quoted(out, utf8);
  return out;
}

std::string display_escape(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size());
  const auto on_valid_sequence = [&](std::string_view sequence) {
    const auto byte = static_cast<std::uint8_t>(sequence[0]);
    if (sequence.size() == 1) {
      if (byte == '\\') {
        out += "\\\\";
      } else if (byte == '\n') {
        out += "\\n";
      } else if (byte == '\t') {
        out += "\\t";
      } else if (byte == '\r') {
        out += "\\r";
      } else if (byte < 0x20 || byte == 0x7F) {
        append_hex_escape(out, byte);
      } else {
        out.push_back(static_cast<char>(byte));
      }
    } else if (sequence.size() == 2 && byte == 0xC2 &&
               static_cast<std::uint8_t>(sequence[1]) < 0xA0) {
      // C1 control characters (U+0080..U+009F) can drive terminals too.
      append_hex_escape(out, byte);
      append_hex_escape(out, static_cast<std::uint8_t>(sequence[1]));
    } else {
      out.append(sequence);
    }
  };
  const auto on_invalid_subpart = [&](std::string_view subpart) {
    for (const char byte : subpart)
      append_hex_escape(out, static_cast<std::uint8_t>(byte));
  };
  for_each_utf8_unit(bytes, on_valid_sequence, on_invalid_subpart);
  return out;
}

}  // namespace tetherd::core

#include "json_document.hpp"

#include <cstdint>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <utility>

namespace tetherd::config::detail {
namespace {

// Thrown inside the parser only; parse_json turns it into a JsonSyntaxError.
struct SyntaxFailure {
  TextPosition position;
  std::string message;
};

bool is_continuation_byte(unsigned char byte) {
  return (byte & 0xC0U) == 0x80U;
}

std::string describe_byte(unsigned char byte) {
  char buffer[32];
  if (byte >= 0x21 && byte < 0x7F) {
    std::snprintf(buffer, sizeof buffer, "'%c'", static_cast<char>(byte));
  } else if (byte == ' ') {
    return "a space";
  } else {
    std::snprintf(buffer, sizeof buffer, "byte 0x%02X", static_cast<unsigned>(byte));
  }
  return buffer;
}

class Parser {
 public:
  explicit Parser(std::string_view text) : text_(text) {}

  JsonValue parse_document() {
    if (text_.size() >= 3 && text_.substr(0, 3) == "\xEF\xBB\xBF") {
      offset_ = 3;  // UTF-8 byte order mark: skipped, not counted as a column
    } else if (text_.size() >= 2 &&
               (text_.substr(0, 2) == "\xFF\xFE" || text_.substr(0, 2) == "\xFE\xFF")) {
      fail("the file is UTF-16 encoded; save it as UTF-8");
    }
    skip_whitespace();
    if (at_end()) fail("the file is empty; expected a JSON value");
    JsonValue value = parse_value(0);
    skip_whitespace();
    if (!at_end()) {
      fail("unexpected " + describe_byte(peek()) + " after the end of the JSON value");
    }
    return value;
  }

 private:
  bool at_end() const { return offset_ >= text_.size(); }
  unsigned char peek() const { return static_cast<unsigned char>(text_[offset_]); }

  // Moves past one byte, keeping line and column (in code points) up to date.
  void advance() {
    const unsigned char byte = peek();
    ++offset_;
    if (byte == '\n') {
      ++position_.line;
      position_.column = 1;
    } else if (!is_continuation_byte(byte)) {
      ++position_.column;
    }
  }

  [[noreturn]] void fail(std::string message) const { fail_at(position_, std::move(message)); }
  [[noreturn]] static void fail_at(TextPosition position, std::string message) {
    throw SyntaxFailure{position, std::move(message)};
  }

  void skip_whitespace() {
    while (!at_end()) {
      const unsigned char byte = peek();
      if (byte == ' ' || byte == '\t' || byte == '\n' || byte == '\r') {
        advance();
      } else if (byte == '/' && offset_ + 1 < text_.size() &&
                 (text_[offset_ + 1] == '/' || text_[offset_ + 1] == '*')) {
        fail("comments are not allowed in JSON");
      } else {
        return;
      }
    }
  }

  JsonValue parse_value(int depth) {
    JsonValue value;
    value.position = position_;
    if (at_end()) fail("unexpected end of file; expected a value");
    const unsigned char byte = peek();
    switch (byte) {
      case '{':
        parse_object(value, depth + 1);
        break;
      case '[':
        parse_array(value, depth + 1);
        break;
      case '"':
        value.kind = JsonValue::Kind::string;
        value.text = parse_string();
        break;
      case 't':
        parse_literal("true");
        value.kind = JsonValue::Kind::boolean;
        value.boolean = true;
        break;
      case 'f':
        parse_literal("false");
        value.kind = JsonValue::Kind::boolean;
        break;
      case 'n':
        parse_literal("null");
        break;
      default:
        if (byte == '-' || (byte >= '0' && byte <= '9')) {
          parse_number(value);
        } else if (byte == '\'') {
          fail("strings must use double quotes (\"), not single quotes");
        } else {
          fail("unexpected " + describe_byte(byte) + "; expected a value");
        }
    }
    return value;
  }

  void enter(int depth) const {
    if (depth > max_json_depth) {
      fail("nesting is deeper than " + std::to_string(max_json_depth) + " levels");
    }
  }

  void parse_object(JsonValue& value, int depth) {
    enter(depth);
    value.kind = JsonValue::Kind::object;
    advance();  // '{'
    skip_whitespace();
    if (!at_end() && peek() == '}') {
      advance();
      return;
    }
    while (true) {
      skip_whitespace();
      if (at_end()) fail("unexpected end of file; expected a key in double quotes or '}'");
      if (peek() != '"') {
        if (peek() == '}')
          fail("unexpected '}' after ','; a trailing comma is not allowed in JSON");
        if (peek() == '\'') fail("keys must use double quotes (\"), not single quotes");
        fail("unexpected " + describe_byte(peek()) + "; expected a key in double quotes");
      }
      JsonMember member;
      member.key_position = position_;
      member.key = parse_string();
      skip_whitespace();
      if (at_end() || peek() != ':') {
        fail(at_end() ? "unexpected end of file; expected ':' after the key"
                      : "unexpected " + describe_byte(peek()) + "; expected ':' after the key");
      }
      advance();
      skip_whitespace();
      member.value = parse_value(depth);
      value.members.push_back(std::move(member));
      skip_whitespace();
      if (at_end()) fail("unexpected end of file; expected ',' or '}' (object not closed)");
      if (peek() == ',') {
        advance();
        continue;
      }
      if (peek() == '}') {
        advance();
        return;
      }
      fail("unexpected " + describe_byte(peek()) + "; expected ',' or '}' after an object member");
    }
  }

  void parse_array(JsonValue& value, int depth) {
    enter(depth);
    value.kind = JsonValue::Kind::array;
    advance();  // '['
    skip_whitespace();
    if (!at_end() && peek() == ']') {
      advance();
      return;
    }
    while (true) {
      skip_whitespace();
      if (!value.items.empty() && !at_end() && peek() == ']') {
        fail("unexpected ']' after ','; a trailing comma is not allowed in JSON");
      }
      value.items.push_back(parse_value(depth));
      skip_whitespace();
      if (at_end()) fail("unexpected end of file; expected ',' or ']' (array not closed)");
      if (peek() == ',') {
        advance();
        continue;
      }
      if (peek() == ']') {
        advance();
        return;
      }
      fail("unexpected " + describe_byte(peek()) + "; expected ',' or ']' after an array element");
    }
  }

  void parse_literal(std::string_view literal) {
    const TextPosition start = position_;
    for (const char expected : literal) {
      if (at_end() || peek() != static_cast<unsigned char>(expected)) {
        fail_at(start,
                "invalid literal; expected a value (true, false, null, a number, a "
                "string, an array or an object)");
      }
      advance();
    }
    // "trueish" must not parse as true followed by garbage with a misleading message.
    if (!at_end() && ((peek() >= 'a' && peek() <= 'z') || (peek() >= 'A' && peek() <= 'Z'))) {
      fail_at(start,
              "invalid literal; expected a value (true, false, null, a number, a string, "
              "an array or an object)");
    }
  }

  void parse_number(JsonValue& value) {
    const TextPosition start = position_;
    const std::size_t begin = offset_;
    const auto digit = [this] { return !at_end() && peek() >= '0' && peek() <= '9'; };
    const auto invalid = [&] { fail_at(start, "invalid number"); };
    value.kind = JsonValue::Kind::number;
    value.integral = true;
    if (peek() == '-') advance();
    if (!digit()) invalid();
    if (peek() == '0') {
      advance();
      if (digit()) fail_at(start, "invalid number: leading zeros are not allowed");
    } else {
      while (digit())
        advance();
    }
    if (!at_end() && peek() == '.') {
      value.integral = false;
      advance();
      if (!digit()) invalid();
      while (digit())
        advance();
    }
    if (!at_end() && (peek() == 'e' || peek() == 'E')) {
      value.integral = false;
      advance();
      if (!at_end() && (peek() == '+' || peek() == '-')) advance();
      if (!digit()) invalid();
      while (digit())
        advance();
    }
    value.text = std::string(text_.substr(begin, offset_ - begin));
  }

  unsigned parse_hex4() {
    unsigned code = 0;
    for (int i = 0; i < 4; ++i) {
      if (at_end()) fail("unexpected end of file in a \\u escape");
      const unsigned char byte = peek();
      code <<= 4U;
      if (byte >= '0' && byte <= '9') {
        code |= static_cast<unsigned>(byte - '0');
      } else if (byte >= 'a' && byte <= 'f') {
        code |= static_cast<unsigned>(byte - 'a' + 10);
      } else if (byte >= 'A' && byte <= 'F') {
        code |= static_cast<unsigned>(byte - 'A' + 10);
      } else {
        fail("invalid \\u escape: expected 4 hexadecimal digits");
      }
      advance();
    }
    return code;
  }

  static void append_utf8(std::string& out, std::uint32_t code) {
    if (code < 0x80) {
      out += static_cast<char>(code);
    } else if (code < 0x800) {
      out += static_cast<char>(0xC0 | (code >> 6));
      out += static_cast<char>(0x80 | (code & 0x3F));
    } else if (code < 0x10000) {
      out += static_cast<char>(0xE0 | (code >> 12));
      out += static_cast<char>(0x80 | ((code >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (code & 0x3F));
    } else {
      out += static_cast<char>(0xF0 | (code >> 18));
      out += static_cast<char>(0x80 | ((code >> 12) & 0x3F));
      out += static_cast<char>(0x80 | ((code >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (code & 0x3F));
    }
  }

  void parse_escape(std::string& out) {
    const TextPosition escape_start = position_;
    advance();  // '\'
    if (at_end()) fail("unexpected end of file in a string");
    const unsigned char byte = peek();
    switch (byte) {
      case '"':
      case '\\':
      case '/':
        out += static_cast<char>(byte);
        advance();
        return;
      case 'b':
        out += '\b';
        advance();
        return;
      case 'f':
        out += '\f';
        advance();
        return;
      case 'n':
        out += '\n';
        advance();
        return;
      case 'r':
        out += '\r';
        advance();
        return;
      case 't':
        out += '\t';
        advance();
        return;
      case 'u':
        break;
      default:
        fail_at(escape_start, "invalid escape sequence '\\" +
                                  (byte >= 0x21 && byte < 0x7F ? std::string(1, char(byte))
                                                               : describe_byte(byte)) +
                                  "' (a Windows path needs '\\\\' or '/')");
    }
    advance();  // 'u'
    std::uint32_t code = parse_hex4();
    if (code >= 0xDC00 && code <= 0xDFFF) {
      fail_at(escape_start, "invalid \\u escape: unpaired low surrogate");
    }
    if (code >= 0xD800 && code <= 0xDBFF) {
      if (offset_ + 1 >= text_.size() || text_[offset_] != '\\' || text_[offset_ + 1] != 'u') {
        fail_at(escape_start, "invalid \\u escape: high surrogate not followed by a low one");
      }
      advance();
      advance();
      const std::uint32_t low = parse_hex4();
      if (low < 0xDC00 || low > 0xDFFF) {
        fail_at(escape_start, "invalid \\u escape: high surrogate not followed by a low one");
      }
      code = 0x10000 + ((code - 0xD800) << 10U) + (low - 0xDC00);
    }
    if (code == 0) fail_at(escape_start, "a NUL character (\\u0000) is not allowed in strings");
    append_utf8(out, code);
  }

  // Copies one well-formed UTF-8 sequence (shortest form, no surrogates, <= U+10FFFF).
  void copy_utf8_sequence(std::string& out) {
    const unsigned char lead = peek();
    int length = 0;
    unsigned char low = 0x80;
    unsigned char high = 0xBF;
    if (lead >= 0xC2 && lead <= 0xDF) {
      length = 2;
    } else if (lead >= 0xE0 && lead <= 0xEF) {
      length = 3;
      if (lead == 0xE0) low = 0xA0;
      if (lead == 0xED) high = 0x9F;
    } else if (lead >= 0xF0 && lead <= 0xF4) {
      length = 4;
      if (lead == 0xF0) low = 0x90;
      if (lead == 0xF4) high = 0x8F;
    } else {
      fail("invalid UTF-8 (" + describe_byte(lead) + "); the file must be UTF-8 encoded");
    }
    if (offset_ + static_cast<std::size_t>(length) > text_.size()) {
      fail("invalid UTF-8 (truncated sequence); the file must be UTF-8 encoded");
    }
    for (int i = 1; i < length; ++i) {
      const auto byte = static_cast<unsigned char>(text_[offset_ + static_cast<std::size_t>(i)]);
      const unsigned char min = i == 1 ? low : 0x80;
      const unsigned char max = i == 1 ? high : 0xBF;
      if (byte < min || byte > max) {
        fail("invalid UTF-8 (" + describe_byte(lead) +
             " starts a malformed sequence); the file "
             "must be UTF-8 encoded");
      }
    }
    for (int i = 0; i < length; ++i) {
      out += static_cast<char>(peek());
      advance();
    }
  }

  std::string parse_string() {
    const TextPosition start = position_;
    advance();  // opening quote
    std::string out;
    while (true) {
      if (at_end()) fail_at(start, "unterminated string (no closing '\"')");
      const unsigned char byte = peek();
      if (byte == '"') {
        advance();
        return out;
      }
      if (byte == '\\') {
        parse_escape(out);
      } else if (byte == '\n' || byte == '\r') {
        fail_at(start, "unterminated string (line break before the closing '\"')");
      } else if (byte < 0x20) {
        fail("control character " + describe_byte(byte) + " in a string must be escaped");
      } else if (byte < 0x80) {
        out += static_cast<char>(byte);
        advance();
      } else {
        copy_utf8_sequence(out);
      }
    }
  }

  std::string_view text_;
  std::size_t offset_ = 0;
  TextPosition position_;
};

}  // namespace

JsonParseResult parse_json(std::string_view text) {
  JsonParseResult result;
  try {
    result.value = Parser(text).parse_document();
  } catch (SyntaxFailure& failure) {
    result.error = JsonSyntaxError{failure.position, std::move(failure.message)};
  }
  return result;
}

std::string_view kind_name(JsonValue::Kind kind) {
  switch (kind) {
    case JsonValue::Kind::null:
      return "null";
    case JsonValue::Kind::boolean:
      return "a boolean";
    case JsonValue::Kind::number:
      return "a number";
    case JsonValue::Kind::string:
      return "a string";
    case JsonValue::Kind::array:
      return "an array";
    case JsonValue::Kind::object:
      return "an object";
  }
  return "a value";
}

std::string quote(std::string_view text) {
  return nlohmann::json(std::string(text))
      .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string describe_value(const JsonValue& value) {
  constexpr std::size_t max_shown = 60;
  switch (value.kind) {
    case JsonValue::Kind::null:
      return "null";
    case JsonValue::Kind::boolean:
      return value.boolean ? "true" : "false";
    case JsonValue::Kind::number:
      return value.text.size() > max_shown ? value.text.substr(0, max_shown) + "..." : value.text;
    case JsonValue::Kind::string: {
      if (value.text.size() <= max_shown) return quote(value.text);
      std::size_t cut = max_shown;
      while (cut > 0 && is_continuation_byte(static_cast<unsigned char>(value.text[cut])))
        --cut;
      return quote(value.text.substr(0, cut)) + "...";
    }
    case JsonValue::Kind::array:
      return "an array";
    case JsonValue::Kind::object:
      return "an object";
  }
  return "a value";
}

}  // namespace tetherd::config::detail

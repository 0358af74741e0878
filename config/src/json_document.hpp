#pragma once

// A small, strict JSON (RFC 8259) reader that records where every value and key starts.
// nlohmann's DOM keeps no positions, and config errors must point at line:column, so the
// config loader reads the text with this parser and validates the resulting tree.
//
// Positions: 1-based line and 1-based column. Columns count Unicode code points (UTF-8
// sequences), not bytes, so they match what editors show for non-ASCII text; a tab counts
// as one column. A leading UTF-8 byte order mark is skipped and not counted.
//
// Limits (a clear syntax error, never a crash): nesting deeper than max_json_depth.

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tetherd::config::detail {

inline constexpr int max_json_depth = 64;

struct TextPosition {
  int line = 1;
  int column = 1;
};

struct JsonMember;

/// One JSON value and where it starts in the text.
struct JsonValue {
  enum class Kind { null, boolean, number, string, array, object };

  Kind kind = Kind::null;
  TextPosition position;
  bool boolean = false;
  /// A string's decoded (UTF-8) value, or a number exactly as written.
  std::string text;
  /// For numbers: written without fraction or exponent.
  bool integral = false;
  std::vector<JsonValue> items;     ///< array elements
  std::vector<JsonMember> members;  ///< object members in file order (duplicates kept)
};

struct JsonMember {
  std::string key;
  TextPosition key_position;
  JsonValue value;
};

struct JsonSyntaxError {
  TextPosition position;
  std::string message;
};

/// Either the document or the first syntax error.
struct JsonParseResult {
  std::optional<JsonValue> value;
  std::optional<JsonSyntaxError> error;
};

/// Parses `text` as exactly one JSON value (surrounded by optional whitespace).
JsonParseResult parse_json(std::string_view text);

/// "a string", "an integer", ... for messages.
std::string_view kind_name(JsonValue::Kind kind);

/// A short rendering of a value for "got ..." in messages: strings quoted (and shortened),
/// numbers and literals as written, "an array" / "an object" for containers.
std::string describe_value(const JsonValue& value);

/// `text` as a JSON string literal (quotes and escapes; bytes that are not valid UTF-8 as
/// \u00XX-free replacement characters), for messages.
std::string quote(std::string_view text);

}  // namespace tetherd::config::detail

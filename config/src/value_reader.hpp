#pragma once

// Typed reading of a parsed JSON document, with every problem recorded (never thrown) at the
// position of the offending key or value and its JSON path. The config readers (stores,
// rules) are written in terms of these checks, so messages are uniform.

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <initializer_list>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "json_document.hpp"
#include "tetherd/config/load_config.hpp"

namespace tetherd::config::detail {

using Keys = std::vector<std::string_view>;
/// The first occurrence of each allowed key of an object.
using Members = std::map<std::string, const JsonMember*, std::less<>>;

/// Where a secret should live instead of the main file, for the message.
enum class SecretHint { generic, sftp, s3 };

/// "a, b, c".
std::string join_keys(const Keys& keys);
/// The member for `key`, or nullptr.
const JsonMember* find_member(const Members& members, std::string_view key);

/// Names of stores and rules (used in targets "STORE:PATH", logs, the control socket).
bool valid_name(std::string_view name);
inline constexpr std::string_view name_rule =
    "1 to 64 characters: letters, digits, '_', '-' and '.'";

class ValueReader {
 public:
  explicit ValueReader(std::string origin);

  void report(TextPosition position, std::string path, std::string message);
  std::size_t problem_count() const { return problems_.size(); }
  std::vector<Problem> take_problems();

  /// Checks the keys of `object` against `allowed`: duplicates, keys that look like secrets,
  /// keys of another store type (`other_type_keys`, named `type_name` in the message), and
  /// unknown keys (with a "did you mean" for near misses). Returns the allowed keys present.
  Members read_object(const JsonValue& object, const std::string& path, const Keys& allowed,
                      SecretHint hint, const Keys* other_type_keys = nullptr,
                      std::string_view type_name = {});
  /// Reports each of `keys` missing from `members`, at the object's opening brace.
  void require(const JsonValue& object, const Members& members, const std::string& path,
               std::initializer_list<std::string_view> keys);

  /// Each returns the value, or nothing after reporting why not.
  bool expect_kind(const JsonValue& value, JsonValue::Kind kind, const std::string& path);
  const std::string* string_value(const JsonValue& value, const std::string& path,
                                  bool allow_empty = false);
  /// An absolute path, lexically normalized, without a trailing '/'.
  std::optional<std::filesystem::path> absolute_path(const JsonValue& value,
                                                     const std::string& path);
  /// A whole number in [min, max]; 5.0 and 5e0 count as whole (as in JSON Schema).
  std::optional<std::int64_t> integer_value(const JsonValue& value, const std::string& path,
                                            std::int64_t min, std::int64_t max);
  std::optional<bool> bool_value(const JsonValue& value, const std::string& path);
  /// One of the strings `choices`; returns its index.
  std::optional<std::size_t> enum_value(const JsonValue& value, const std::string& path,
                                        const Keys& choices);

 private:
  static std::string secret_message(std::string_view key, SecretHint hint);

  std::string origin_;
  std::vector<Problem> problems_;
};

}  // namespace tetherd::config::detail

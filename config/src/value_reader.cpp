#include "value_reader.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <utility>

#include "json_path.hpp"
#include "path_checks.hpp"
#include "suggest.hpp"

namespace tetherd::config::detail {
namespace {

namespace fs = std::filesystem;
using Kind = JsonValue::Kind;

bool looks_like_secret(std::string_view key) {
  std::string lowered(key);
  for (char& c : lowered)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  static constexpr std::array<std::string_view, 9> markers = {
      "password",    "passwd",     "passphrase", "secret",    "token",
      "private_key", "access_key", "api_key",    "credential"};
  // Legitimate keys containing a marker: they name files that hold secrets.
  if (lowered == "credentials_file" || lowered == "passphrase_file") return false;
  return std::any_of(markers.begin(), markers.end(), [&](std::string_view marker) {
    return lowered.find(marker) != std::string::npos;
  });
}

}  // namespace

std::string join_keys(const Keys& keys) {
  std::string out;
  for (const std::string_view key : keys) {
    if (!out.empty()) out += ", ";
    out += key;
  }
  return out;
}

const JsonMember* find_member(const Members& members, std::string_view key) {
  const auto it = members.find(key);
  return it == members.end() ? nullptr : it->second;
}

// Names of stores and rules: used in targets ("STORE:PATH"), logs and the control socket.
bool valid_name(std::string_view name) {
  if (name.empty() || name.size() > 64) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-' || c == '.';
  });
}

ValueReader::ValueReader(std::string origin) : origin_(std::move(origin)) {}

std::vector<Problem> ValueReader::take_problems() {
  return std::move(problems_);
}

void ValueReader::report(TextPosition position, std::string path, std::string message) {
  problems_.push_back(
      Problem{origin_, position.line, position.column, std::move(path), std::move(message)});
}

Members ValueReader::read_object(const JsonValue& object, const std::string& path,
                                 const Keys& allowed, SecretHint hint, const Keys* other_type_keys,
                                 std::string_view type_name) {
  Members members;
  std::map<std::string, TextPosition, std::less<>> seen;
  for (const JsonMember& member : object.members) {
    const std::string member_path = child_path(path, member.key);
    if (const auto first = seen.find(member.key); first != seen.end()) {
      report(member.key_position, member_path,
             "duplicate key " + quote(member.key) + " (first given at line " +
                 std::to_string(first->second.line) + ", column " +
                 std::to_string(first->second.column) + ")");
      continue;
    }
    seen.emplace(member.key, member.key_position);
    if (std::find(allowed.begin(), allowed.end(), member.key) != allowed.end()) {
      members.emplace(member.key, &member);
      continue;
    }
    if (looks_like_secret(member.key)) {
      report(member.key_position, member_path, secret_message(member.key, hint));
      continue;
    }
    if (other_type_keys != nullptr && std::find(other_type_keys->begin(), other_type_keys->end(),
                                                member.key) != other_type_keys->end()) {
      report(member.key_position, member_path,
             "key " + quote(member.key) + " does not apply to a store of type \"" +
                 std::string(type_name) + "\" (allowed: " + join_keys(allowed) + ")");
      continue;
    }
    std::string message = "unknown key " + quote(member.key);
    if (auto suggestion = suggest(member.key, allowed)) {
      message += " (did you mean " + quote(*suggestion) + "?)";
    } else {
      message += " (allowed: " + join_keys(allowed) + ")";
    }
    report(member.key_position, member_path, std::move(message));
  }
  return members;
}

std::string ValueReader::secret_message(std::string_view key, SecretHint hint) {
  std::string message = quote(key) + " looks like a secret; secrets never go in the config file: ";
  switch (hint) {
    case SecretHint::sftp:
      message += "give the path of the SSH private key in \"key_file\"";
      break;
    case SecretHint::s3:
      message += "put the access keys in the file named by \"credentials_file\"";
      break;
    case SecretHint::generic:
      message += "put them in a store's \"key_file\" (SFTP) or \"credentials_file\" (S3)";
      break;
  }
  return message;
}

bool ValueReader::expect_kind(const JsonValue& value, Kind kind, const std::string& path) {
  if (value.kind == kind) return true;
  report(value.position, path,
         "expected " + std::string(kind_name(kind)) + ", got " + describe_value(value));
  return false;
}

void ValueReader::require(const JsonValue& object, const Members& members, const std::string& path,
                          std::initializer_list<std::string_view> keys) {
  for (const std::string_view key : keys) {
    if (find_member(members, key) == nullptr) {
      report(object.position, child_path(path, key), "required key " + quote(key) + " is missing");
    }
  }
}

const std::string* ValueReader::string_value(const JsonValue& value, const std::string& path,
                                             bool allow_empty) {
  if (!expect_kind(value, Kind::string, path)) return nullptr;
  if (!allow_empty && value.text.empty()) {
    report(value.position, path, "must not be empty");
    return nullptr;
  }
  return &value.text;
}

std::optional<fs::path> ValueReader::absolute_path(const JsonValue& value,
                                                   const std::string& path) {
  const std::string* text = string_value(value, path);
  if (text == nullptr) return std::nullopt;
  if (text->front() != '/') {
    report(value.position, path,
           "expected an absolute path (starting with '/'), got " + describe_value(value));
    return std::nullopt;
  }
  return normalize_absolute(*text);
}

std::optional<std::int64_t> ValueReader::integer_value(const JsonValue& value,
                                                       const std::string& path, std::int64_t min,
                                                       std::int64_t max) {
  const std::string range = "an integer from " + std::to_string(min) + " to " + std::to_string(max);
  if (value.kind != Kind::number) {
    report(value.position, path, "expected " + range + ", got " + describe_value(value));
    return std::nullopt;
  }
  std::int64_t number = 0;
  bool in_range = false;
  if (value.integral) {
    const char* begin = value.text.data();
    const char* end = begin + value.text.size();
    const auto [stop, error] = std::from_chars(begin, end, number);
    in_range = error == std::errc{} && stop == end && number >= min && number <= max;
  } else {
    // 5.0 and 5e0 are integers too (as in JSON Schema).
    const double real = std::strtod(value.text.c_str(), nullptr);
    if (std::isfinite(real) && std::floor(real) == real && real >= static_cast<double>(min) &&
        real <= static_cast<double>(max)) {
      number = static_cast<std::int64_t>(real);
      in_range = true;
    } else if (std::isfinite(real) && std::floor(real) != real) {
      report(value.position, path,
             "expected " + range + ", got " + value.text + " (not a whole number)");
      return std::nullopt;
    }
  }
  if (!in_range) {
    report(value.position, path, "expected " + range + ", got " + describe_value(value));
    return std::nullopt;
  }
  return number;
}

std::optional<bool> ValueReader::bool_value(const JsonValue& value, const std::string& path) {
  if (!expect_kind(value, Kind::boolean, path)) return std::nullopt;
  return value.boolean;
}

std::optional<std::size_t> ValueReader::enum_value(const JsonValue& value, const std::string& path,
                                                   const Keys& choices) {
  std::string expected;
  for (std::size_t i = 0; i < choices.size(); ++i) {
    if (i > 0) expected += i + 1 == choices.size() ? " or " : ", ";
    expected += quote(choices[i]);
  }
  if (value.kind == Kind::string) {
    const auto it = std::find(choices.begin(), choices.end(), value.text);
    if (it != choices.end()) return static_cast<std::size_t>(it - choices.begin());
  }
  std::string message = "expected " + expected + ", got " + describe_value(value);
  if (value.kind == Kind::string) {
    if (auto suggestion = suggest(value.text, choices)) {
      message += " (did you mean " + quote(*suggestion) + "?)";
    }
  }
  report(value.position, path, std::move(message));
  return std::nullopt;
}

}  // namespace tetherd::config::detail

#include "config_validator.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <optional>
#include <string_view>
#include <system_error>
#include <utility>

#include "glob_check.hpp"
#include "json_path.hpp"
#include "suggest.hpp"

namespace tetherd::config::detail {
namespace {

namespace fs = std::filesystem;
using Kind = JsonValue::Kind;
using Keys = std::vector<std::string_view>;

const Keys root_keys = {"$schema", "log", "control_socket", "stores", "rules"};
const Keys log_keys = {"file", "level"};
const Keys local_keys = {"type", "root"};
const Keys sftp_keys = {"type", "host", "port", "user", "key_file", "known_hosts", "root"};
const Keys s3_keys = {"type", "endpoint", "region", "bucket", "credentials_file", "prefix"};
const Keys rule_keys = {
    "name",     "source",       "target",   "include",  "exclude",           "delete",
    "delay_ms", "initial_sync", "preserve", "symlinks", "max_delete_percent"};

// Where a secret should live instead of the main file, for the message.
enum class SecretHint { generic, sftp, s3 };

std::string join_keys(const Keys& keys) {
  std::string out;
  for (const std::string_view key : keys) {
    if (!out.empty()) out += ", ";
    out += key;
  }
  return out;
}

bool looks_like_secret(std::string_view key) {
  std::string lowered(key);
  for (char& c : lowered)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  static constexpr std::array<std::string_view, 9> markers = {
      "password",    "passwd",     "passphrase", "secret",    "token",
      "private_key", "access_key", "api_key",    "credential"};
  // "credentials_file" is the one legitimate key containing a marker.
  if (lowered == "credentials_file") return false;
  return std::any_of(markers.begin(), markers.end(), [&](std::string_view marker) {
    return lowered.find(marker) != std::string::npos;
  });
}

// Names of stores and rules: used in targets ("STORE:PATH"), logs and the control socket.
bool valid_name(std::string_view name) {
  if (name.empty() || name.size() > 64) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-' || c == '.';
  });
}
constexpr std::string_view name_rule = "1 to 64 characters: letters, digits, '_', '-' and '.'";

bool valid_bucket(std::string_view bucket) {
  if (bucket.size() < 3 || bucket.size() > 63) return false;
  const auto edge = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  if (!edge(bucket.front()) || !edge(bucket.back())) return false;
  return std::all_of(bucket.begin(), bucket.end(),
                     [&](char c) { return edge(c) || c == '.' || c == '-'; });
}

// "/a/b/" -> "/a/b"; "/a/./b/../c" -> "/a/c".
fs::path normalize_absolute(const std::string& text) {
  fs::path path = fs::path(text).lexically_normal();
  if (!path.has_filename() && path != path.root_path()) path = path.parent_path();
  return path;
}

// True if `inner` is `outer` or lies beneath it (both absolute and normalized).
bool is_within(const fs::path& inner, const fs::path& outer) {
  auto inner_it = inner.begin();
  for (auto outer_it = outer.begin(); outer_it != outer.end(); ++outer_it, ++inner_it) {
    if (outer_it->empty()) continue;  // a trailing separator
    if (inner_it == inner.end() || *inner_it != *outer_it) return false;
  }
  return true;
}

// The path with symlinks resolved for the part that exists (std::filesystem::weakly_canonical),
// falling back to the lexical form if that fails.
fs::path resolve(const fs::path& path) {
  std::error_code error;
  fs::path resolved = fs::weakly_canonical(path, error);
  if (error) return path;
  return normalize_absolute(resolved.string());
}

struct ParsedTarget {
  Target target;
  const JsonValue* value = nullptr;
};

class Validator {
 public:
  explicit Validator(std::string origin) : origin_(std::move(origin)) {}

  ConfigResult run(const JsonValue& root) {
    Config config;
    config.origin = origin_;
    if (root.kind != Kind::object) {
      report(root.position, "",
             "the config must be a JSON object ({ ... }), got " + describe_value(root));
      return finish(std::move(config));
    }
    const auto members = read_object(root, "", root_keys, SecretHint::generic);
    if (const JsonMember* schema = find(members, "$schema")) {
      expect_kind(schema->value, Kind::string, child_path("", "$schema"));
    }
    if (const JsonMember* log = find(members, "log")) read_log(log->value, config.log);
    if (const JsonMember* socket = find(members, "control_socket")) {
      if (auto path = absolute_path(socket->value, "control_socket")) {
        config.control_socket = *path;
      }
    }
    if (const JsonMember* stores = find(members, "stores")) read_stores(stores->value, config);
    const JsonMember* rules = find(members, "rules");
    if (rules == nullptr) {
      report(root.position, "rules", "required key \"rules\" is missing");
    } else {
      read_rules(rules->value, config);
    }
    return finish(std::move(config));
  }

 private:
  using Members = std::map<std::string, const JsonMember*, std::less<>>;

  void report(TextPosition position, std::string path, std::string message) {
    problems_.push_back(
        Problem{origin_, position.line, position.column, std::move(path), std::move(message)});
  }

  ConfigResult finish(Config config) {
    ConfigResult result;
    result.problems = std::move(problems_);
    if (result.problems.empty()) result.config = std::move(config);
    return result;
  }

  static const JsonMember* find(const Members& members, std::string_view key) {
    const auto it = members.find(key);
    return it == members.end() ? nullptr : it->second;
  }

  // Checks the keys of `object` against `allowed` (unknown keys, near misses, duplicates,
  // secrets) and returns the first occurrence of each allowed key.
  Members read_object(const JsonValue& object, const std::string& path, const Keys& allowed,
                      SecretHint hint, const Keys* other_type_keys = nullptr,
                      std::string_view type_name = {}) {
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

  static std::string secret_message(std::string_view key, SecretHint hint) {
    std::string message =
        quote(key) + " looks like a secret; secrets never go in the config file: ";
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

  bool expect_kind(const JsonValue& value, Kind kind, const std::string& path) {
    if (value.kind == kind) return true;
    report(value.position, path,
           "expected " + std::string(kind_name(kind)) + ", got " + describe_value(value));
    return false;
  }

  void require(const JsonValue& object, const Members& members, const std::string& path,
               std::initializer_list<std::string_view> keys) {
    for (const std::string_view key : keys) {
      if (find(members, key) == nullptr) {
        report(object.position, child_path(path, key),
               "required key " + quote(key) + " is missing");
      }
    }
  }

  const std::string* string_value(const JsonValue& value, const std::string& path,
                                  bool allow_empty = false) {
    if (!expect_kind(value, Kind::string, path)) return nullptr;
    if (!allow_empty && value.text.empty()) {
      report(value.position, path, "must not be empty");
      return nullptr;
    }
    return &value.text;
  }

  std::optional<fs::path> absolute_path(const JsonValue& value, const std::string& path) {
    const std::string* text = string_value(value, path);
    if (text == nullptr) return std::nullopt;
    if (text->front() != '/') {
      report(value.position, path,
             "expected an absolute path (starting with '/'), got " + describe_value(value));
      return std::nullopt;
    }
    return normalize_absolute(*text);
  }

  std::optional<std::int64_t> integer_value(const JsonValue& value, const std::string& path,
                                            std::int64_t min, std::int64_t max) {
    const std::string range =
        "an integer from " + std::to_string(min) + " to " + std::to_string(max);
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

  std::optional<bool> bool_value(const JsonValue& value, const std::string& path) {
    if (!expect_kind(value, Kind::boolean, path)) return std::nullopt;
    return value.boolean;
  }

  // One of `choices` (strings); returns its index.
  std::optional<std::size_t> enum_value(const JsonValue& value, const std::string& path,
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

  void read_log(const JsonValue& value, LogConfig& log) {
    const std::string path = "log";
    if (!expect_kind(value, Kind::object, path)) return;
    const auto members = read_object(value, path, log_keys, SecretHint::generic);
    if (const JsonMember* file = find(members, "file")) {
      if (auto file_path = absolute_path(file->value, child_path(path, "file"))) {
        log.file = *file_path;
      }
    }
    if (const JsonMember* level = find(members, "level")) {
      static const Keys levels = {"trace", "debug", "info", "warn", "error"};
      if (auto index = enum_value(level->value, child_path(path, "level"), levels)) {
        log.level = static_cast<LogLevel>(*index);
      }
    }
  }

  void read_stores(const JsonValue& value, Config& config) {
    const std::string path = "stores";
    if (!expect_kind(value, Kind::object, path)) {
      stores_valid_ = false;
      return;
    }
    std::map<std::string, TextPosition, std::less<>> seen;
    for (const JsonMember& member : value.members) {
      const std::string store_path = child_path(path, member.key);
      if (const auto first = seen.find(member.key); first != seen.end()) {
        report(member.key_position, store_path,
               "duplicate store name " + quote(member.key) + " (first given at line " +
                   std::to_string(first->second.line) + ", column " +
                   std::to_string(first->second.column) + ")");
        continue;
      }
      seen.emplace(member.key, member.key_position);
      store_names_.emplace_back(member.key);
      bool ok = true;
      if (!valid_name(member.key)) {
        report(member.key_position, store_path,
               "invalid store name " + quote(member.key) + ": use " + std::string(name_rule));
        ok = false;
      }
      auto store = read_store(member.value, store_path);
      if (store && ok) {
        store->name = member.key;
        config.stores.push_back(std::move(*store));
      } else {
        invalid_stores_.emplace_back(member.key);
      }
    }
  }

  std::optional<StoreConfig> read_store(const JsonValue& value, const std::string& path) {
    if (!expect_kind(value, Kind::object, path)) return std::nullopt;
    const std::size_t problems_before = problems_.size();
    static const Keys types = {"local", "sftp", "s3"};
    std::optional<std::size_t> type;
    for (const JsonMember& member : value.members) {
      if (member.key == "type") {
        type = enum_value(member.value, child_path(path, "type"), types);
        break;
      }
    }
    const bool has_type = std::any_of(value.members.begin(), value.members.end(),
                                      [](const JsonMember& m) { return m.key == "type"; });
    if (!has_type) {
      report(value.position, child_path(path, "type"),
             "required key \"type\" is missing (one of \"local\", \"sftp\", \"s3\")");
    }
    if (!type) {
      // Without a known type only secrets and duplicates can be judged.
      Keys all = {"type"};
      for (const Keys* keys : {&local_keys, &sftp_keys, &s3_keys}) {
        for (const std::string_view key : *keys) {
          if (std::find(all.begin(), all.end(), key) == all.end()) all.push_back(key);
        }
      }
      read_object(value, path, all, SecretHint::generic);
      return std::nullopt;
    }
    StoreConfig store;
    switch (*type) {
      case 0:
        store.backend = read_local_store(value, path);
        break;
      case 1:
        store.backend = read_sftp_store(value, path);
        break;
      default:
        store.backend = read_s3_store(value, path);
        break;
    }
    if (problems_.size() != problems_before) return std::nullopt;
    return store;
  }

  static Keys other_keys(const Keys& own) {
    Keys others;
    for (const Keys* keys : {&local_keys, &sftp_keys, &s3_keys}) {
      for (const std::string_view key : *keys) {
        if (std::find(own.begin(), own.end(), key) == own.end() &&
            std::find(others.begin(), others.end(), key) == others.end()) {
          others.push_back(key);
        }
      }
    }
    return others;
  }

  LocalStoreConfig read_local_store(const JsonValue& value, const std::string& path) {
    static const Keys others = other_keys(local_keys);
    const auto members =
        read_object(value, path, local_keys, SecretHint::generic, &others, "local");
    require(value, members, path, {"root"});
    LocalStoreConfig local;
    if (const JsonMember* root = find(members, "root")) {
      if (auto root_path = absolute_path(root->value, child_path(path, "root"))) {
        local.root = *root_path;
      }
    }
    return local;
  }

  SftpStoreConfig read_sftp_store(const JsonValue& value, const std::string& path) {
    static const Keys others = other_keys(sftp_keys);
    const auto members = read_object(value, path, sftp_keys, SecretHint::sftp, &others, "sftp");
    require(value, members, path, {"host", "user", "key_file", "known_hosts", "root"});
    SftpStoreConfig sftp;
    if (const JsonMember* host = find(members, "host")) {
      const std::string host_path = child_path(path, "host");
      if (const std::string* text = string_value(host->value, host_path)) {
        if (text->find_first_of(" \t/:@") != std::string::npos &&
            !(text->front() == '[' && text->back() == ']')) {
          report(host->value.position, host_path,
                 "expected a host name or address (no spaces, '/', ':' or '@'; put the user in "
                 "\"user\" and the port in \"port\"), got " +
                     describe_value(host->value));
        } else {
          sftp.host = *text;
        }
      }
    }
    if (const JsonMember* port = find(members, "port")) {
      if (auto number = integer_value(port->value, child_path(path, "port"), 1, 65535)) {
        sftp.port = static_cast<std::uint16_t>(*number);
      }
    }
    if (const JsonMember* user = find(members, "user")) {
      if (const std::string* text = string_value(user->value, child_path(path, "user"))) {
        sftp.user = *text;
      }
    }
    if (const JsonMember* key_file = find(members, "key_file")) {
      if (auto file = absolute_path(key_file->value, child_path(path, "key_file"))) {
        sftp.key_file = *file;
      }
    }
    if (const JsonMember* known_hosts = find(members, "known_hosts")) {
      if (auto file = absolute_path(known_hosts->value, child_path(path, "known_hosts"))) {
        sftp.known_hosts = *file;
      }
    }
    if (const JsonMember* root = find(members, "root")) {
      if (const std::string* text = string_value(root->value, child_path(path, "root"))) {
        sftp.root = *text;
      }
    }
    return sftp;
  }

  S3StoreConfig read_s3_store(const JsonValue& value, const std::string& path) {
    static const Keys others = other_keys(s3_keys);
    const auto members = read_object(value, path, s3_keys, SecretHint::s3, &others, "s3");
    require(value, members, path, {"endpoint", "region", "bucket", "credentials_file"});
    S3StoreConfig s3;
    if (const JsonMember* endpoint = find(members, "endpoint")) {
      const std::string endpoint_path = child_path(path, "endpoint");
      if (const std::string* text = string_value(endpoint->value, endpoint_path)) {
        const std::string_view view = *text;
        const std::size_t scheme = view.rfind("https://", 0) == 0  ? 8
                                   : view.rfind("http://", 0) == 0 ? 7
                                                                   : 0;
        if (scheme == 0 || view.size() == scheme || view[scheme] == '/' ||
            view.find_first_of(" \t") != std::string_view::npos) {
          report(endpoint->value.position, endpoint_path,
                 "expected a URL like \"https://s3.example.net\", got " +
                     describe_value(endpoint->value));
        } else {
          s3.endpoint = *text;
        }
      }
    }
    if (const JsonMember* region = find(members, "region")) {
      if (const std::string* text = string_value(region->value, child_path(path, "region"))) {
        s3.region = *text;
      }
    }
    if (const JsonMember* bucket = find(members, "bucket")) {
      const std::string bucket_path = child_path(path, "bucket");
      if (const std::string* text = string_value(bucket->value, bucket_path)) {
        if (!valid_bucket(*text)) {
          report(bucket->value.position, bucket_path,
                 "invalid bucket name " + describe_value(bucket->value) +
                     ": use 3 to 63 characters: lower-case letters, digits, '.' and '-', "
                     "starting and ending with a letter or digit");
        } else {
          s3.bucket = *text;
        }
      }
    }
    if (const JsonMember* credentials = find(members, "credentials_file")) {
      if (auto file = absolute_path(credentials->value, child_path(path, "credentials_file"))) {
        s3.credentials_file = *file;
      }
    }
    if (const JsonMember* prefix = find(members, "prefix")) {
      const std::string prefix_path = child_path(path, "prefix");
      if (const std::string* text = string_value(prefix->value, prefix_path, true)) {
        if (!text->empty() && text->front() == '/') {
          report(prefix->value.position, prefix_path,
                 "a key prefix must not start with '/', got " + describe_value(prefix->value));
        } else {
          s3.prefix = *text;
        }
      }
    }
    return s3;
  }

  void read_rules(const JsonValue& value, Config& config) {
    const std::string path = "rules";
    if (!expect_kind(value, Kind::array, path)) return;
    std::map<std::string, TextPosition, std::less<>> names;
    for (std::size_t index = 0; index < value.items.size(); ++index) {
      const JsonValue& item = value.items[index];
      const std::string rule_path = index_path(path, index);
      const std::size_t problems_before = problems_.size();
      auto rule = read_rule(item, rule_path, config, names);
      if (rule && problems_.size() == problems_before) config.rules.push_back(std::move(*rule));
    }
  }

  std::optional<Rule> read_rule(const JsonValue& value, const std::string& path,
                                const Config& config,
                                std::map<std::string, TextPosition, std::less<>>& names) {
    if (!expect_kind(value, Kind::object, path)) return std::nullopt;
    const auto members = read_object(value, path, rule_keys, SecretHint::generic);
    require(value, members, path, {"name", "source", "target"});
    Rule rule;

    if (const JsonMember* name = find(members, "name")) {
      const std::string name_path = child_path(path, "name");
      if (const std::string* text = string_value(name->value, name_path)) {
        if (!valid_name(*text)) {
          report(name->value.position, name_path,
                 "invalid rule name " + describe_value(name->value) + ": use " +
                     std::string(name_rule));
        } else if (const auto first = names.find(*text); first != names.end()) {
          report(name->value.position, name_path,
                 "duplicate rule name " + quote(*text) + " (first used at line " +
                     std::to_string(first->second.line) + ", column " +
                     std::to_string(first->second.column) + ")");
        } else {
          names.emplace(*text, name->value.position);
          rule.name = *text;
        }
      }
    }

    bool source_ok = false;
    if (const JsonMember* source = find(members, "source")) {
      const std::string source_path = child_path(path, "source");
      if (auto directory = absolute_path(source->value, source_path)) {
        source_ok = check_source_directory(source->value, source_path, *directory);
        rule.source = *directory;
      }
    }

    std::optional<ParsedTarget> target;
    if (const JsonMember* target_member = find(members, "target")) {
      target = read_target(target_member->value, child_path(path, "target"), config);
      if (target) rule.target = target->target;
    }
    if (source_ok && target)
      check_overlap(rule.source, *target, child_path(path, "target"), config);

    for (const char* list_name : {"include", "exclude"}) {
      if (const JsonMember* list = find(members, list_name)) {
        auto patterns = read_globs(list->value, child_path(path, list_name));
        (std::string_view(list_name) == "include" ? rule.include : rule.exclude) =
            std::move(patterns);
      }
    }

    if (const JsonMember* mode = find(members, "delete")) {
      const std::string delete_path = child_path(path, "delete");
      if (mode->value.kind == Kind::boolean) {
        rule.delete_mode = mode->value.boolean ? DeleteMode::Always : DeleteMode::Never;
      } else if (mode->value.kind == Kind::string && mode->value.text == "startup") {
        rule.delete_mode = DeleteMode::Startup;
      } else if (mode->value.kind == Kind::string && mode->value.text == "running") {
        rule.delete_mode = DeleteMode::Running;
      } else {
        std::string message =
            "expected true, false, \"startup\" or \"running\", got " + describe_value(mode->value);
        if (mode->value.kind == Kind::string) {
          if (mode->value.text == "true" || mode->value.text == "false") {
            message += " (write " + mode->value.text + " without quotes)";
          } else if (auto suggestion = suggest(mode->value.text, {"startup", "running"})) {
            message += " (did you mean " + quote(*suggestion) + "?)";
          }
        }
        report(mode->value.position, delete_path, std::move(message));
      }
    }
    if (const JsonMember* delay = find(members, "delay_ms")) {
      if (auto number =
              integer_value(delay->value, child_path(path, "delay_ms"), 0, max_delay_ms)) {
        rule.delay_ms = static_cast<std::uint32_t>(*number);
      }
    }
    if (const JsonMember* initial = find(members, "initial_sync")) {
      if (auto flag = bool_value(initial->value, child_path(path, "initial_sync"))) {
        rule.initial_sync = *flag;
      }
    }
    if (const JsonMember* preserve = find(members, "preserve")) {
      read_preserve(preserve->value, child_path(path, "preserve"), rule.preserve);
    }
    if (const JsonMember* symlinks = find(members, "symlinks")) {
      static const Keys modes = {"copy", "follow", "skip"};
      if (auto index = enum_value(symlinks->value, child_path(path, "symlinks"), modes)) {
        rule.symlinks = static_cast<SymlinkMode>(*index);
      }
    }
    if (const JsonMember* percent = find(members, "max_delete_percent")) {
      if (auto number =
              integer_value(percent->value, child_path(path, "max_delete_percent"), 0, 100)) {
        rule.max_delete_percent = static_cast<int>(*number);
      }
    }
    return rule;
  }

  bool check_source_directory(const JsonValue& value, const std::string& path,
                              const fs::path& directory) {
    std::error_code error;
    const fs::file_status status = fs::status(directory, error);
    if (error && error != std::errc::no_such_file_or_directory) {
      report(value.position, path,
             "cannot check the source directory " + quote(directory.string()) + ": " +
                 error.message());
      return false;
    }
    if (!fs::exists(status)) {
      report(value.position, path,
             "the source directory " + quote(directory.string()) + " does not exist");
      return false;
    }
    if (!fs::is_directory(status)) {
      report(value.position, path,
             "the source " + quote(directory.string()) + " is not a directory");
      return false;
    }
    return true;
  }

  std::optional<ParsedTarget> read_target(const JsonValue& value, const std::string& path,
                                          const Config& config) {
    const std::string* text = string_value(value, path);
    if (text == nullptr) return std::nullopt;
    ParsedTarget parsed;
    parsed.value = &value;
    if (text->front() == '/') {
      parsed.target.path = normalize_absolute(*text).string();
      return parsed;
    }
    const std::size_t colon = text->find(':');
    if (colon == std::string::npos) {
      report(value.position, path,
             "expected STORE:PATH (a store from \"stores\") or an absolute path, got " +
                 describe_value(value));
      return std::nullopt;
    }
    const std::string store = text->substr(0, colon);
    if (!stores_valid_) return std::nullopt;  // "stores" itself is wrong: reported there
    if (config.find_store(store) == nullptr) {
      if (std::find(invalid_stores_.begin(), invalid_stores_.end(), store) !=
          invalid_stores_.end()) {
        return std::nullopt;  // the store exists but has problems, reported there
      }
      std::string message = "unknown store " + quote(store);
      Keys candidates(store_names_.begin(), store_names_.end());
      if (auto suggestion = suggest(store, candidates)) {
        message += " (did you mean " + quote(*suggestion) + "?)";
      } else if (store_names_.empty()) {
        message +=
            " (no stores are defined in \"stores\"; for a local directory give its "
            "absolute path)";
      } else {
        message += " (defined: " + join_keys(candidates) + ")";
      }
      report(value.position, path, std::move(message));
      return std::nullopt;
    }
    // The path inside the store: normalized, relative, no "..".
    std::string inner;
    std::string_view rest = std::string_view(*text).substr(colon + 1);
    while (!rest.empty()) {
      const std::size_t slash = rest.find('/');
      const std::string_view segment = rest.substr(0, slash);
      rest = slash == std::string_view::npos ? std::string_view{} : rest.substr(slash + 1);
      if (segment.empty() || segment == ".") continue;
      if (segment == "..") {
        report(value.position, path,
               "the path inside the store must not contain \"..\", got " + describe_value(value));
        return std::nullopt;
      }
      if (!inner.empty()) inner += '/';
      inner += segment;
    }
    parsed.target.store = store;
    parsed.target.path = inner;
    return parsed;
  }

  // A mirror must not copy into itself: for local targets, neither the source nor the target
  // may contain the other (compared after resolving symlinks where the paths exist).
  void check_overlap(const fs::path& source, const ParsedTarget& parsed, const std::string& path,
                     const Config& config) {
    fs::path target_dir;
    if (parsed.target.implicit_local()) {
      target_dir = parsed.target.path;
    } else {
      const StoreConfig* store = config.find_store(parsed.target.store);
      const auto* local = store ? std::get_if<LocalStoreConfig>(&store->backend) : nullptr;
      if (local == nullptr) return;
      target_dir = parsed.target.path.empty() ? local->root : local->root / parsed.target.path;
    }
    const fs::path real_source = resolve(source);
    const fs::path real_target = resolve(target_dir);
    std::string message;
    if (real_source == real_target) {
      message = "the target " + quote(target_dir.string()) + " is the source directory itself";
    } else if (is_within(real_target, real_source)) {
      message = "the target " + quote(target_dir.string()) + " is inside the source " +
                quote(source.string()) + " (the mirror would copy itself)";
    } else if (is_within(real_source, real_target)) {
      message = "the source " + quote(source.string()) + " is inside the target " +
                quote(target_dir.string()) +
                " (the mirror would delete or overwrite its own source)";
    } else {
      return;
    }
    if (real_source != source || real_target != target_dir) {
      message += "; after resolving symbolic links: source " + quote(real_source.string()) +
                 ", target " + quote(real_target.string());
    }
    report(parsed.value->position, path, std::move(message));
  }

  std::vector<std::string> read_globs(const JsonValue& value, const std::string& path) {
    std::vector<std::string> patterns;
    if (!expect_kind(value, Kind::array, path)) return patterns;
    for (std::size_t index = 0; index < value.items.size(); ++index) {
      const JsonValue& item = value.items[index];
      const std::string item_path = index_path(path, index);
      const std::string* text = string_value(item, item_path);
      if (text == nullptr) continue;
      if (auto problem = check_glob(*text)) {
        report(item.position, item_path, std::move(*problem));
        continue;
      }
      patterns.push_back(*text);
    }
    return patterns;
  }

  void read_preserve(const JsonValue& value, const std::string& path, PreserveSet& preserve) {
    if (!expect_kind(value, Kind::array, path)) return;
    static const Keys attributes = {"mtime", "mode"};
    PreserveSet chosen;
    for (std::size_t index = 0; index < value.items.size(); ++index) {
      const JsonValue& item = value.items[index];
      const std::string item_path = index_path(path, index);
      const auto attribute = enum_value(item, item_path, attributes);
      if (!attribute) continue;
      bool& flag = *attribute == 0 ? chosen.mtime : chosen.mode;
      if (flag) {
        report(item.position, item_path, quote(attributes[*attribute]) + " is listed twice");
      }
      flag = true;
    }
    preserve = chosen;
  }

  std::string origin_;
  std::vector<Problem> problems_;
  bool stores_valid_ = true;
  std::vector<std::string> store_names_;     // every key of "stores", valid or not
  std::vector<std::string> invalid_stores_;  // stores that had problems
};

}  // namespace

ConfigResult validate_config(const JsonValue& root, const std::string& origin) {
  return Validator(origin).run(root);
}

}  // namespace tetherd::config::detail

#include "config_validator.hpp"

#include <sys/socket.h>
#include <sys/un.h>

#include <cstddef>
#include <filesystem>
#include <optional>
#include <string>
#include <utility>

#include "json_path.hpp"
#include "rule_reader.hpp"
#include "store_reader.hpp"
#include "value_reader.hpp"

namespace tetherd::config::detail {
namespace {

using Kind = JsonValue::Kind;

const Keys root_keys = {"$schema", "log", "control_socket", "stores", "rules"};
const Keys log_keys = {"file", "level"};

void read_log(ValueReader& reader, const JsonValue& value, LogConfig& log) {
  const std::string path = "log";
  if (!reader.expect_kind(value, Kind::object, path)) return;
  const auto members = reader.read_object(value, path, log_keys, SecretHint::generic);
  if (const JsonMember* file = find_member(members, "file")) {
    if (auto file_path = reader.absolute_path(file->value, child_path(path, "file"))) {
      log.file = *file_path;
    }
  }
  if (const JsonMember* level = find_member(members, "level")) {
    static const Keys levels = {"trace", "debug", "info", "warn", "error"};
    if (auto index = reader.enum_value(level->value, child_path(path, "level"), levels)) {
      log.level = static_cast<LogLevel>(*index);
    }
  }
}

// The daemon binds the control socket by name: a name the kernel's sockaddr_un cannot hold
// (sun_path, NUL included) would stop `run` after the config was called valid.
std::optional<std::string> socket_path_problem(const std::filesystem::path& path) {
  constexpr std::size_t capacity = sizeof(sockaddr_un{}.sun_path);
  const std::size_t length = path.native().size();
  if (length < capacity) return std::nullopt;
  return "the control socket path is " + std::to_string(length) +
         " bytes long; a Unix socket path holds at most " + std::to_string(capacity - 1) +
         " bytes (choose a shorter one)";
}

}  // namespace

ConfigResult validate_config(const JsonValue& root, const std::string& origin) {
  ValueReader reader(origin);
  Config config;
  config.origin = origin;
  if (root.kind != Kind::object) {
    reader.report(root.position, "",
                  "the config must be a JSON object ({ ... }), got " + describe_value(root));
  } else {
    const Members members = reader.read_object(root, "", root_keys, SecretHint::generic);
    if (const JsonMember* schema = find_member(members, "$schema")) {
      reader.expect_kind(schema->value, Kind::string, child_path("", "$schema"));
    }
    if (const JsonMember* log = find_member(members, "log")) {
      read_log(reader, log->value, config.log);
    }
    if (const JsonMember* socket = find_member(members, "control_socket")) {
      if (auto path = reader.absolute_path(socket->value, "control_socket")) {
        if (auto problem = socket_path_problem(*path)) {
          reader.report(socket->value.position, "control_socket", std::move(*problem));
        } else {
          config.control_socket = *path;
        }
      }
    }
    // Stores first, wherever they are in the file: rules refer to them.
    StoreIndex stores;
    if (const JsonMember* stores_member = find_member(members, "stores")) {
      read_stores(reader, stores_member->value, config, stores);
    }
    if (const JsonMember* rules = find_member(members, "rules")) {
      read_rules(reader, rules->value, config, stores);
    } else {
      reader.report(root.position, "rules", "required key \"rules\" is missing");
    }
  }
  ConfigResult result;
  result.problems = reader.take_problems();
  if (result.problems.empty()) result.config = std::move(config);
  return result;
}

}  // namespace tetherd::config::detail

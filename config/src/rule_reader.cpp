#include "rule_reader.hpp"

#include <algorithm>
#include <filesystem>
#include <map>
#include <system_error>
#include <utility>
#include <variant>

#include "glob_check.hpp"
#include "json_path.hpp"
#include "path_checks.hpp"
#include "rule_conflicts.hpp"
#include "suggest.hpp"
#include "tetherd/config/path_overlap.hpp"

namespace tetherd::config::detail {
namespace {

namespace fs = std::filesystem;
using Kind = JsonValue::Kind;

const Keys rule_keys = {
    "name",     "source",       "target",   "include",  "exclude",           "delete",
    "delay_ms", "initial_sync", "preserve", "symlinks", "max_delete_percent"};

struct ParsedTarget {
  Target target;
  const JsonValue* value = nullptr;
};

class RuleReader {
 public:
  RuleReader(ValueReader& reader, const StoreIndex& index) : reader_(reader), index_(index) {}

  void read_rules(const JsonValue& value, Config& config) {
    const std::string path = "rules";
    if (!reader_.expect_kind(value, Kind::array, path)) return;
    std::map<std::string, TextPosition, std::less<>> names;
    std::vector<RuleSite> sites;  // of the rules in config.rules
    for (std::size_t index = 0; index < value.items.size(); ++index) {
      const JsonValue& item = value.items[index];
      const std::string rule_path = index_path(path, index);
      const std::size_t problems_before = reader_.problem_count();
      std::optional<TextPosition> target_position;  // set once the target is read
      auto rule = read_rule(item, rule_path, config, names, target_position);
      if (!rule || !target_position || reader_.problem_count() != problems_before) continue;
      // Whether the target is there is a question about this machine, asked of a rule that
      // is otherwise right (as the questions across rules are).
      const std::string target_path = child_path(rule_path, "target");
      check_target_directory(rule->target, *target_position, target_path, config);
      if (reader_.problem_count() != problems_before) continue;
      config.rules.push_back(std::move(*rule));
      sites.push_back(RuleSite{*target_position, target_path});
    }
    check_rule_conflicts(reader_, config, sites);
  }

  std::optional<Rule> read_rule(const JsonValue& value, const std::string& path,
                                const Config& config,
                                std::map<std::string, TextPosition, std::less<>>& names,
                                std::optional<TextPosition>& target_position) {
    if (!reader_.expect_kind(value, Kind::object, path)) return std::nullopt;
    const auto members = reader_.read_object(value, path, rule_keys, SecretHint::generic);
    reader_.require(value, members, path, {"name", "source", "target"});
    Rule rule;

    if (const JsonMember* name = find_member(members, "name")) {
      const std::string name_path = child_path(path, "name");
      if (const std::string* text = reader_.string_value(name->value, name_path)) {
        if (!valid_name(*text)) {
          reader_.report(name->value.position, name_path,
                         "invalid rule name " + describe_value(name->value) + ": use " +
                             std::string(name_rule));
        } else if (const auto first = names.find(*text); first != names.end()) {
          reader_.report(name->value.position, name_path,
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
    if (const JsonMember* source = find_member(members, "source")) {
      const std::string source_path = child_path(path, "source");
      if (auto directory = reader_.absolute_path(source->value, source_path)) {
        source_ok = check_source_directory(source->value, source_path, *directory);
        rule.source = *directory;
      }
    }

    std::optional<ParsedTarget> target;
    if (const JsonMember* target_member = find_member(members, "target")) {
      target = read_target(target_member->value, child_path(path, "target"), config);
      if (target) {
        rule.target = target->target;
        target_position = target_member->value.position;
      }
    }
    if (source_ok && target)
      check_overlap(rule.source, *target, child_path(path, "target"), config);

    for (const char* list_name : {"include", "exclude"}) {
      if (const JsonMember* list = find_member(members, list_name)) {
        auto patterns = read_globs(list->value, child_path(path, list_name));
        (std::string_view(list_name) == "include" ? rule.include : rule.exclude) =
            std::move(patterns);
      }
    }

    if (const JsonMember* mode = find_member(members, "delete")) {
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
        reader_.report(mode->value.position, delete_path, std::move(message));
      }
    }
    if (const JsonMember* delay = find_member(members, "delay_ms")) {
      if (auto number =
              reader_.integer_value(delay->value, child_path(path, "delay_ms"), 0, max_delay_ms)) {
        rule.delay_ms = static_cast<std::uint32_t>(*number);
      }
    }
    if (const JsonMember* initial = find_member(members, "initial_sync")) {
      if (auto flag = reader_.bool_value(initial->value, child_path(path, "initial_sync"))) {
        rule.initial_sync = *flag;
      }
    }
    if (const JsonMember* preserve = find_member(members, "preserve")) {
      read_preserve(preserve->value, child_path(path, "preserve"), rule.preserve);
    }
    if (const JsonMember* symlinks = find_member(members, "symlinks")) {
      static const Keys modes = {"copy", "follow", "skip"};
      if (auto index = reader_.enum_value(symlinks->value, child_path(path, "symlinks"), modes)) {
        rule.symlinks = static_cast<SymlinkMode>(*index);
      }
    }
    if (const JsonMember* percent = find_member(members, "max_delete_percent")) {
      if (auto number = reader_.integer_value(percent->value,
                                              child_path(path, "max_delete_percent"), 0, 100)) {
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
      reader_.report(value.position, path,
                     "cannot check the source directory " + quote(directory.string()) + ": " +
                         error.message());
      return false;
    }
    if (!fs::exists(status)) {
      reader_.report(value.position, path,
                     "the source directory " + quote(directory.string()) + " does not exist");
      return false;
    }
    if (!fs::is_directory(status)) {
      reader_.report(value.position, path,
                     "the source " + quote(directory.string()) + " is not a directory");
      return false;
    }
    return true;
  }

  std::optional<ParsedTarget> read_target(const JsonValue& value, const std::string& path,
                                          const Config& config) {
    const std::string* text = reader_.string_value(value, path);
    if (text == nullptr) return std::nullopt;
    ParsedTarget parsed;
    parsed.value = &value;
    if (text->front() == '/') {
      parsed.target.path = normalize_absolute(*text).string();
      return parsed;
    }
    const std::size_t colon = text->find(':');
    if (colon == std::string::npos) {
      reader_.report(value.position, path,
                     "expected STORE:PATH (a store from \"stores\") or an absolute path, got " +
                         describe_value(value));
      return std::nullopt;
    }
    const std::string store = text->substr(0, colon);
    if (!index_.valid) return std::nullopt;  // "stores" itself is wrong: reported there
    if (config.find_store(store) == nullptr) {
      if (std::find(index_.invalid.begin(), index_.invalid.end(), store) != index_.invalid.end()) {
        return std::nullopt;  // the store exists but has problems, reported there
      }
      std::string message = "unknown store " + quote(store);
      Keys candidates(index_.names.begin(), index_.names.end());
      if (auto suggestion = suggest(store, candidates)) {
        message += " (did you mean " + quote(*suggestion) + "?)";
      } else if (index_.names.empty()) {
        message +=
            " (no stores are defined in \"stores\"; for a local directory give its "
            "absolute path)";
      } else {
        message += " (defined: " + join_keys(candidates) + ")";
      }
      reader_.report(value.position, path, std::move(message));
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
        reader_.report(
            value.position, path,
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
  // may contain the other, judged by what the paths are (path_overlap.hpp).
  void check_overlap(const fs::path& source, const ParsedTarget& parsed, const std::string& path,
                     const Config& config) {
    const std::optional<fs::path> target_dir = config.local_directory(parsed.target);
    if (!target_dir) return;
    if (auto problem = source_target_overlap(source, *target_dir)) {
      reader_.report(parsed.value->position, path, std::move(*problem));
    }
  }

  // `run` opens a local target's directory (a bare path, or a local store's root) and will
  // not start without it: it makes directories inside a target, never the target itself,
  // which may be a disk not mounted yet (filling the disk beneath instead). So the config
  // is refused here, where `check` says so.
  void check_target_directory(const Target& target, TextPosition position, const std::string& path,
                              const Config& config) {
    fs::path directory;
    std::string what;
    if (target.implicit_local()) {
      directory = target.path;
      what = "the target directory " + quote(directory.string());
    } else {
      const StoreConfig* store = config.find_store(target.store);
      const auto* local = store ? std::get_if<LocalStoreConfig>(&store->backend) : nullptr;
      if (local == nullptr) return;
      directory = local->root;
      what = "the root " + quote(directory.string()) + " of store " + quote(store->name);
    }
    std::error_code error;
    const fs::file_status status = fs::status(directory, error);
    if (error && error != std::errc::no_such_file_or_directory) {
      reader_.report(position, path, "cannot check " + what + ": " + error.message());
      return;
    }
    if (fs::is_directory(status)) return;
    if (fs::exists(status)) {
      reader_.report(position, path, what + " is not a directory");
      return;
    }
    std::string message = what + " does not exist";
    std::error_code parent_error;
    if (!fs::exists(directory.parent_path(), parent_error)) {
      message += ", nor does its parent " + quote(directory.parent_path().string());
    }
    message +=
        "; create it first (tetherd makes directories inside a target, never the target "
        "itself: it may be a disk not mounted yet)";
    reader_.report(position, path, std::move(message));
  }

  std::vector<std::string> read_globs(const JsonValue& value, const std::string& path) {
    std::vector<std::string> patterns;
    if (!reader_.expect_kind(value, Kind::array, path)) return patterns;
    for (std::size_t index = 0; index < value.items.size(); ++index) {
      const JsonValue& item = value.items[index];
      const std::string item_path = index_path(path, index);
      const std::string* text = reader_.string_value(item, item_path);
      if (text == nullptr) continue;
      if (auto problem = check_glob(*text)) {
        reader_.report(item.position, item_path, std::move(*problem));
        continue;
      }
      patterns.push_back(*text);
    }
    return patterns;
  }

  void read_preserve(const JsonValue& value, const std::string& path, PreserveSet& preserve) {
    if (!reader_.expect_kind(value, Kind::array, path)) return;
    static const Keys attributes = {"mtime", "mode"};
    PreserveSet chosen;
    for (std::size_t index = 0; index < value.items.size(); ++index) {
      const JsonValue& item = value.items[index];
      const std::string item_path = index_path(path, index);
      const auto attribute = reader_.enum_value(item, item_path, attributes);
      if (!attribute) continue;
      bool& flag = *attribute == 0 ? chosen.mtime : chosen.mode;
      if (flag) {
        reader_.report(item.position, item_path,
                       quote(attributes[*attribute]) + " is listed twice");
      }
      flag = true;
    }
    preserve = chosen;
  }

 private:
  ValueReader& reader_;
  const StoreIndex& index_;
};

}  // namespace

void read_rules(ValueReader& reader, const JsonValue& value, Config& config,
                const StoreIndex& index) {
  RuleReader(reader, index).read_rules(value, config);
}

}  // namespace tetherd::config::detail

// load_config/parse_config on the real filesystem: the values a valid config produces,
// source/target overlap (with symbolic links), every problem at once, file errors, UTF-8,
// large inputs.

#include "tetherd/config/load_config.hpp"

#include <doctest/doctest.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <variant>

#include "config_test_support.hpp"

namespace tetherd::config {
namespace {

namespace fs = std::filesystem;
using testing::problems_of;
using testing::replace_all;
using testing::ScratchDir;

TEST_CASE("a full config produces the values it names, with defaults for the rest") {
  ScratchDir scratch;
  const std::string text = replace_all(R"({
  "$schema": "file:///usr/share/tetherd/tetherd.schema.json",
  "log":   { "file": "/var/log/tetherd//events.jsonl", "level": "debug" },
  "control_socket": "/run/tetherd/control.sock",
  "stores": {
    "backup":  { "type": "local", "root": "@DIR@/srv/backup/" },
    "scratch": { "type": "local", "root": "/srv/scratch", "durable": false },
    "offsite": { "type": "sftp", "host": "backup.example.net", "user": "sync",
                 "key_file": "/etc/tetherd/id_ed25519", "known_hosts": "/etc/tetherd/known_hosts",
                 "root": "data" },
    "bucket":  { "type": "s3", "endpoint": "https://s3.example.net", "region": "eu-west-1",
                 "bucket": "photos", "credentials_file": "/etc/tetherd/s3.credentials",
                 "prefix": "ann/" }
  },
  "rules": [
    { "name": "photos", "source": "@DIR@/pictures/", "target": "bucket:ann//2024/./x/",
      "include": ["**/*.jpg", "**/*.raw"], "exclude": ["**/.cache/**", "**/*.tmp"],
      "delete": "running", "delay_ms": 0, "initial_sync": false,
      "preserve": ["mode"], "symlinks": "skip", "max_delete_percent": 50 },
    { "name": "docs", "source": "@DIR@/docs", "target": "@DIR@/srv/mirror/../mirror2/docs/" },
    { "name": "d2", "source": "@DIR@/docs", "target": "backup:", "delete": false },
    { "name": "d3", "source": "@DIR@/docs", "target": "offsite:/abs", "delete": "startup",
      "symlinks": "follow", "preserve": [] }
  ]
})",
                                       "@DIR@", scratch.path().string());
  scratch.make_dir("pictures");
  scratch.make_dir("docs");
  scratch.make_dir("srv/backup");  // local targets exist (tetherd never makes them)
  scratch.make_dir("srv/mirror2/docs");
  const std::string dir = scratch.path().string();
  const ConfigResult result = parse_config(text, "full.json");
  CHECK(problems_of(text) == "");
  REQUIRE(result.ok());
  const Config& config = *result.config;
  CHECK(config.origin == "full.json");
  CHECK(config.log.file == "/var/log/tetherd/events.jsonl");
  CHECK(config.log.level == LogLevel::Debug);
  CHECK(config.control_socket == "/run/tetherd/control.sock");

  REQUIRE(config.stores.size() == 4);
  CHECK(config.stores[0].name == "backup");
  CHECK(store_type_name(config.stores[0]) == "local");
  CHECK(std::get<LocalStoreConfig>(config.stores[0].backend).root == dir + "/srv/backup");
  CHECK(std::get<LocalStoreConfig>(config.stores[0].backend).durable);
  CHECK(config.stores[1].name == "scratch");
  CHECK_FALSE(std::get<LocalStoreConfig>(config.stores[1].backend).durable);
  const auto& sftp = std::get<SftpStoreConfig>(config.stores[2].backend);
  CHECK(sftp.host == "backup.example.net");
  CHECK(sftp.port == 22);
  CHECK(sftp.user == "sync");
  CHECK(sftp.key_file == "/etc/tetherd/id_ed25519");
  CHECK(sftp.known_hosts == "/etc/tetherd/known_hosts");
  CHECK(sftp.root == "~/data");  // relative to the login directory, as the SFTP store spells it
  CHECK(sftp.passphrase_file.empty());
  CHECK(sftp.host_key_fingerprint.empty());
  CHECK(sftp.connections == 2);
  CHECK(sftp.timeout == std::chrono::milliseconds(30'000));
  const auto& s3 = std::get<S3StoreConfig>(config.stores[3].backend);
  CHECK(s3.endpoint == "https://s3.example.net");
  CHECK(s3.region == "eu-west-1");
  CHECK(s3.bucket == "photos");
  CHECK(s3.credentials_file == "/etc/tetherd/s3.credentials");
  CHECK(s3.prefix == "ann/");
  CHECK(s3.profile.empty());  // $AWS_PROFILE, else "default"
  CHECK(s3.path_style);
  CHECK(s3.ca_file.empty());
  CHECK(s3.connections == 8);
  CHECK(config.find_store("bucket") == &config.stores[3]);
  CHECK(config.find_store("nope") == nullptr);

  REQUIRE(config.rules.size() == 4);
  const Rule& photos = config.rules[0];
  CHECK(photos.name == "photos");
  CHECK(photos.source == scratch.path() / "pictures");
  CHECK(photos.target.store == "bucket");
  CHECK(photos.target.path == "ann/2024/x");
  CHECK_FALSE(photos.target.implicit_local());
  CHECK(photos.include == std::vector<std::string>{"**/*.jpg", "**/*.raw"});
  CHECK(photos.exclude == std::vector<std::string>{"**/.cache/**", "**/*.tmp"});
  CHECK(photos.delete_mode == DeleteMode::Running);
  CHECK(photos.delay_ms == 0);
  CHECK_FALSE(photos.initial_sync);
  CHECK(photos.preserve == PreserveSet{.mtime = false, .mode = true});
  CHECK(photos.symlinks == SymlinkMode::Skip);
  CHECK(photos.max_delete_percent == 50);

  const Rule& docs = config.rules[1];  // every default
  CHECK(docs.target.implicit_local());
  CHECK(docs.target.path == dir + "/srv/mirror2/docs");
  CHECK(docs.include.empty());
  CHECK(docs.exclude.empty());
  CHECK(docs.delete_mode == DeleteMode::Always);
  CHECK(docs.delay_ms == 200);
  CHECK(docs.initial_sync);
  CHECK(docs.preserve == PreserveSet{.mtime = true, .mode = true});
  CHECK(docs.symlinks == SymlinkMode::Copy);
  CHECK(docs.max_delete_percent == 100);

  CHECK(config.rules[2].target.store == "backup");
  CHECK(config.rules[2].target.path == "");
  CHECK(config.rules[2].delete_mode == DeleteMode::Never);
  CHECK(config.rules[3].target.path == "abs");
  CHECK(config.rules[3].delete_mode == DeleteMode::Startup);
  CHECK(config.rules[3].symlinks == SymlinkMode::Follow);
  CHECK(config.rules[3].preserve == PreserveSet{});

  CHECK(to_string(DeleteMode::Always) == "true");
  CHECK(to_string(SymlinkMode::Follow) == "follow");
  CHECK(to_string(LogLevel::Warn) == "warn");
}

TEST_CASE("a target must not overlap its own source (local targets, symlinks resolved)") {
  ScratchDir scratch;
  const fs::path source = scratch.make_dir("src");
  scratch.make_dir("src/inner");
  scratch.make_dir("elsewhere/x");
  scratch.make_dir("src-copy");
  fs::create_directory_symlink(source, scratch.path() / "link-to-src");
  fs::create_directory_symlink(scratch.path() / "elsewhere", scratch.path() / "src-alias-target");
  const std::string dir = scratch.path().string();
  const auto check_target = [&](const std::string& target) {
    const std::string text = replace_all(replace_all(R"({"stores": {
  "parent": {"type": "local", "root": "@DIR@"},
  "inside": {"type": "local", "root": "@DIR@/src/inner"},
  "far": {"type": "s3", "endpoint": "https://s", "region": "r", "bucket": "b12",
          "credentials_file": "/c"}},
 "rules": [{"name": "r", "source": "@DIR@/src",
  "target": "@TARGET@"}]})",
                                                     "@TARGET@", target),
                                         "@DIR@", dir);
    return problems_of(text);
  };
  const std::string prefix = "t.json:7:13: rules[0].target: ";
  CHECK(check_target(dir + "/src/mirror") == prefix + "the target \"" + dir +
                                                 "/src/mirror\" is inside the source \"" + dir +
                                                 "/src\" (the mirror would copy itself)\n");
  CHECK(check_target(dir) == prefix + "the source \"" + dir + "/src\" is inside the target \"" +
                                 dir +
                                 "\" (the mirror would delete or overwrite its own source)\n");
  CHECK(check_target(dir + "/src/") ==
        prefix + "the target \"" + dir + "/src\" is the source directory itself\n");
  CHECK(check_target(dir + "/link-to-src/copy") ==
        prefix + "the target \"" + dir + "/link-to-src/copy\" is inside the source \"" + dir +
            "/src\" (the mirror would copy itself); after resolving symbolic links: source \"" +
            dir + "/src\", target \"" + dir + "/src/copy\"\n");
  CHECK(check_target("parent:src/sub") == prefix + "the target \"" + dir +
                                              "/src/sub\" is inside the source \"" + dir +
                                              "/src\" (the mirror would copy itself)\n");
  CHECK(check_target("inside:") == prefix + "the target \"" + dir +
                                       "/src/inner\" is inside the source \"" + dir +
                                       "/src\" (the mirror would copy itself)\n");
  // Not overlapping: a sibling, a name that merely shares a prefix, a remote store.
  CHECK(check_target(dir + "/elsewhere") == "");
  CHECK(check_target(dir + "/src-copy") == "");
  CHECK(check_target(dir + "/src-alias-target/x") == "");
  CHECK(check_target("parent:mirror") == "");
  CHECK(check_target("far:src") == "");
}

TEST_CASE("every problem is reported at once, in file order") {
  ScratchDir scratch;
  const std::string text = replace_all(R"({
  "log": { "file": "relative.log", "levle": "info" },
  "stores": {
    "backup": { "type": "local", "root": "@DIR@" },
    "offsite": { "type": "sftp", "host": "h", "port": 70000, "user": "u", "password": "x",
                 "key_file": "/k", "known_hosts": "/kh", "root": "/data" }
  },
  "rules": [
    { "name": "photos", "target": "bakup:ann", "delete": "sometimes", "source": "@DIR@/src" },
    { "name": "photos", "target": "backup:src/sub", "exlude": [], "source": "@DIR@/src" },
    { "name": "x", "target": "/m", "source": "@DIR@/missing" }
  ]
})",
                                       "@DIR@", scratch.path().string());
  scratch.make_dir("src");
  const std::string dir = scratch.path().string();
  CHECK(problems_of(text) ==
        "t.json:2:20: log.file: expected an absolute path (starting with '/'), got "
        "\"relative.log\"\n"
        "t.json:2:36: log.levle: unknown key \"levle\" (did you mean \"level\"?)\n"
        "t.json:5:55: stores.offsite.port: expected an integer from 1 to 65535, got 70000\n"
        "t.json:5:75: stores.offsite.password: \"password\" looks like a secret; secrets never go "
        "in the config file: give the path of the SSH private key in \"key_file\"\n"
        "t.json:9:35: rules[0].target: unknown store \"bakup\" (did you mean \"backup\"?)\n"
        "t.json:9:58: rules[0].delete: expected true, false, \"startup\" or \"running\", got "
        "\"sometimes\"\n"
        "t.json:10:15: rules[1].name: duplicate rule name \"photos\" (first used at line 9, column "
        "15)\n"
        "t.json:10:35: rules[1].target: the target \"" +
            dir + "/src/sub\" is inside the source \"" + dir +
            "/src\" (the mirror would copy itself)\n"
            "t.json:10:53: rules[1].exlude: unknown key \"exlude\" (did you mean \"exclude\"?)\n"
            "t.json:11:46: rules[2].source: the source directory \"" +
            dir + "/missing\" does not exist\n");
  const ConfigResult result = parse_config(text, "t.json");
  CHECK_FALSE(result.ok());
  CHECK_FALSE(result.unreadable);
  CHECK(result.problems.size() == 10);
}

TEST_CASE("load_config: file problems are 'unreadable'; contents are validated") {
  ScratchDir scratch;
  const fs::path source = scratch.make_dir("src");
  const fs::path target = scratch.make_dir("dst");

  const ConfigResult missing = load_config(scratch.path() / "missing.json");
  CHECK(missing.unreadable);
  CHECK_FALSE(missing.ok());
  REQUIRE(missing.problems.size() == 1);
  CHECK(missing.problems[0].to_string() ==
        (scratch.path() / "missing.json").string() +
            ": cannot read the config file: No such file or directory");

  const ConfigResult directory = load_config(source);
  CHECK(directory.unreadable);
  REQUIRE(directory.problems.size() == 1);
  CHECK(directory.problems[0].message == "cannot read the config file: it is a directory");

  const fs::path empty = scratch.write("empty.json", "");
  const ConfigResult empty_result = load_config(empty);
  CHECK_FALSE(empty_result.unreadable);
  REQUIRE(empty_result.problems.size() == 1);
  CHECK(empty_result.problems[0].to_string() ==
        empty.string() + ":1:1: the file is empty; expected a JSON value");

  const fs::path valid = scratch.write(
      "valid.json", "\xEF\xBB\xBF{\"rules\": [{\"name\": \"r\", \"source\": \"" + source.string() +
                        "\", \"target\": \"" + target.string() + "\"}]}\r\n");
  const ConfigResult valid_result = load_config(valid);
  REQUIRE(valid_result.ok());
  CHECK(valid_result.config->origin == valid.string());
  CHECK(valid_result.config->rules.at(0).source == source);
}

TEST_CASE("UTF-8 in strings: raw and escaped forms, positions after them") {
  ScratchDir scratch;
  const fs::path source = scratch.make_dir("fotos-é-😀");
  ScratchDir targets;
  targets.make_dir("a");
  targets.make_dir("b");
  targets.make_dir("c");
  // The same directory written raw and with \u escapes (including a surrogate pair).
  const std::string text = replace_all(replace_all(R"({"rules": [
  {"name": "raw", "source": "@DIR@/fotos-é-😀", "target": "@DST@/a"},
  {"name": "esc", "source": "@DIR@/fotos-\u00e9-\ud83d\ude00", "target": "@DST@/b"},
  {"name": "ünïcödé", "target": "@DST@/c", "source": "@DIR@"}]})",
                                                   "@DIR@", scratch.path().string()),
                                       "@DST@", targets.path().string());
  const ConfigResult result = parse_config(text, "t.json");
  // Rule names are ASCII; the position is right after multi-byte characters on the line.
  CHECK(problems_of(text) ==
        "t.json:4:12: rules[2].name: invalid rule name \"ünïcödé\": use 1 to 64 characters: "
        "letters, digits, '_', '-' and '.'\n");
  const std::string fixed = replace_all(text, "ünïcödé", "u");
  const ConfigResult fixed_result = parse_config(fixed, "t.json");
  REQUIRE(fixed_result.ok());
  CHECK(fixed_result.config->rules[0].source == source);
  CHECK(fixed_result.config->rules[1].source == source);

  // Column counting after non-ASCII text on the same line.
  CHECK(problems_of("{\"rules\": [], \"é😀\": 1, \"ü\": 2}") ==
        "t.json:1:15: [\"é😀\"]: unknown key \"é😀\" (allowed: $schema, log, control_socket, "
        "stores, rules)\n"
        "t.json:1:24: [\"ü\"]: unknown key \"ü\" (allowed: $schema, log, control_socket, stores, "
        "rules)\n");
}

TEST_CASE("a large valid config (thousands of patterns) loads") {
  ScratchDir scratch;
  const fs::path source = scratch.make_dir("src");
  const fs::path target = scratch.make_dir("dst");
  std::string text = "{\"rules\": [{\"name\": \"big\", \"source\": \"" + source.string() +
                     "\", \"target\": \"" + target.string() + "\", \"exclude\": [";
  constexpr int patterns = 20000;
  for (int i = 0; i < patterns; ++i) {
    if (i > 0) text += ",\n";
    text += "\"**/generated-" + std::to_string(i) + "/*.tmp\"";
  }
  text += "]}]}";
  REQUIRE(text.size() < max_config_bytes);
  const ConfigResult result = parse_config(text, "big.json");
  REQUIRE(result.ok());
  CHECK(result.config->rules[0].exclude.size() == patterns);
  CHECK(result.config->rules[0].exclude.back() == "**/generated-19999/*.tmp");

  // A problem on the last of those lines is still located exactly.
  const std::string broken = replace_all(text, "\"**/generated-19999/*.tmp\"", "\"a//b\"");
  const auto problems = problems_of(broken);
  CHECK(problems.rfind("t.json:20000:1: rules[0].exclude[19999]: invalid glob \"a//b\"", 0) == 0);
}

}  // namespace
}  // namespace tetherd::config

// Validation of a well-formed JSON document: every problem, with the exact line:column of the
// offending key or value and its JSON path, all reported at once.

#include <doctest/doctest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "config_test_support.hpp"

namespace tetherd::config {
namespace {

using testing::problems_of;
using testing::replace_all;
using testing::ScratchDir;

struct ValidationCase {
  const char* name;
  std::string text;      // @SRC@ becomes an existing directory
  std::string expected;  // every problem, one per line
};

TEST_CASE("each validation reports its exact position, JSON path and message") {
  ScratchDir scratch;
  const std::string source = scratch.make_dir("src").string();
  const std::vector<ValidationCase> cases = {
      {"root must be an object", "[]",
       "t.json:1:1: the config must be a JSON object ({ ... }), got an array\n"},
      {"rules is required", "{}", "t.json:1:1: rules: required key \"rules\" is missing\n"},
      {"rules must be an array", R"({"rules": {}})",
       "t.json:1:11: rules: expected an array, got an object\n"},
      {"unknown key with a suggestion", R"({"rules": [], "rule": 1})",
       "t.json:1:15: rule: unknown key \"rule\" (did you mean \"rules\"?)\n"},
      {"unknown key without a suggestion", R"({"rules": [], "zzz": 1})",
       "t.json:1:15: zzz: unknown key \"zzz\" (allowed: $schema, log, control_socket, stores, "
       "rules)\n"},
      {"duplicate key", "{\"rules\": [],\n \"rules\": []}",
       "t.json:2:2: rules: duplicate key \"rules\" (first given at line 1, column 2)\n"},
      {"$schema must be a string", R"({"$schema": 1, "rules": []})",
       "t.json:1:13: $schema: expected a string, got 1\n"},
      {"log", "{\n  \"rules\": [],\n  \"log\": {\"level\": \"warning\", \"file\": \"x\"}\n}",
       "t.json:3:20: log.level: expected \"trace\", \"debug\", \"info\", \"warn\" or \"error\", "
       "got "
       "\"warning\" (did you mean \"warn\"?)\n"
       "t.json:3:39: log.file: expected an absolute path (starting with '/'), got \"x\"\n"},
      {"log must be an object", R"({"rules": [], "log": "info"})",
       "t.json:1:22: log: expected an object, got \"info\"\n"},
      {"control socket", R"({"rules": [], "control_socket": "run/x.sock"})",
       "t.json:1:33: control_socket: expected an absolute path (starting with '/'), got "
       "\"run/x.sock\"\n"},
      {"stores",
       "{\n"
       "  \"stores\": {\n"
       "    \"a\": { \"type\": \"ftp\" },\n"
       "    \"b\": { \"root\": \"/x\" },\n"
       "    \"c\": { \"type\": \"local\" },\n"
       "    \"d\": { \"type\": \"local\", \"root\": \"/x\", \"bucket\": \"y\" },\n"
       "    \"e\": { \"type\": \"s3\", \"endpoint\": \"s3.example.net\", \"region\": \"\",\n"
       "           \"bucket\": \"B\", \"credentials_file\": \"c\", \"prefix\": \"/p\",\n"
       "           \"secret_key\": \"k\" },\n"
       "    \"f g\": { \"type\": \"local\", \"root\": \"/x\" },\n"
       "    \"a\": { \"type\": \"local\", \"root\": \"/x\" }\n"
       "  },\n"
       "  \"rules\": []\n"
       "}",
       "t.json:3:20: stores.a.type: expected \"local\", \"sftp\" or \"s3\", got \"ftp\" (did you "
       "mean \"sftp\"?)\n"
       "t.json:4:10: stores.b.type: required key \"type\" is missing (one of \"local\", \"sftp\", "
       "\"s3\")\n"
       "t.json:5:10: stores.c.root: required key \"root\" is missing\n"
       "t.json:6:43: stores.d.bucket: key \"bucket\" does not apply to a store of type \"local\" "
       "(allowed: type, root, durable)\n"
       "t.json:7:38: stores.e.endpoint: expected a URL like \"https://s3.example.net\", got "
       "\"s3.example.net\"\n"
       "t.json:7:66: stores.e.region: must not be empty\n"
       "t.json:8:22: stores.e.bucket: invalid bucket name \"B\": use 3 to 63 characters: "
       "lower-case letters, digits, '.' and '-', starting and ending with a letter or digit\n"
       "t.json:8:47: stores.e.credentials_file: expected an absolute path (starting with '/'), "
       "got \"c\"\n"
       "t.json:8:62: stores.e.prefix: a key prefix must not start with '/', got \"/p\"\n"
       "t.json:9:12: stores.e.secret_key: \"secret_key\" looks like a secret; secrets never go in "
       "the config file: put the access keys in the file named by \"credentials_file\"\n"
       "t.json:10:5: stores[\"f g\"]: invalid store name \"f g\": use 1 to 64 characters: "
       "letters, digits, '_', '-' and '.'\n"
       "t.json:11:5: stores.a: duplicate store name \"a\" (first given at line 3, column 5)\n"},
      {"sftp store",
       "{\n"
       "  \"stores\": {\n"
       "    \"s\": { \"type\": \"sftp\", \"host\": \"u@h\", \"port\": 0, \"user\": 7,\n"
       "           \"password\": \"p\", \"key_file\": \"/k\", \"root\": \"/\" }\n"
       "  },\n"
       "  \"rules\": []\n"
       "}",
       "t.json:3:10: stores.s: required key \"known_hosts\" or \"host_key_fingerprint\" is "
       "missing: the server's host key is checked against one of them (never trusted on first "
       "use)\n"
       "t.json:3:36: stores.s.host: expected a host name or address (no spaces, '/', ':' or '@'; "
       "put the user in \"user\" and the port in \"port\"), got \"u@h\"\n"
       "t.json:3:51: stores.s.port: expected an integer from 1 to 65535, got 0\n"
       "t.json:3:62: stores.s.user: expected a string, got 7\n"
       "t.json:4:12: stores.s.password: \"password\" looks like a secret; secrets never go in the "
       "config file: give the path of the SSH private key in \"key_file\"\n"},
      {"a secret outside stores", R"({"rules": [], "api_token": "x"})",
       "t.json:1:15: api_token: \"api_token\" looks like a secret; secrets never go in the config "
       "file: put them in a store's \"key_file\" (SFTP) or \"credentials_file\" (S3)\n"},
      {"rule fields",
       "{\n"
       "  \"rules\": [\n"
       "    { \"name\": \"a b\", \"target\": \"/m\", \"delete\": \"sometimes\",\n"
       "      \"delay_ms\": -1, \"initial_sync\": \"yes\", \"symlinks\": \"hardlink\",\n"
       "      \"max_delete_percent\": 101, \"preserve\": [\"mtime\", \"owner\", \"mtime\"],\n"
       "      \"include\": \"*.jpg\", \"exclude\": [\"ok\", 3, \"a/[bc\", \"\"], \"exlude\": [] }\n"
       "  ]\n"
       "}",
       "t.json:3:5: rules[0].source: required key \"source\" is missing\n"
       "t.json:3:15: rules[0].name: invalid rule name \"a b\": use 1 to 64 characters: letters, "
       "digits, '_', '-' and '.'\n"
       "t.json:3:48: rules[0].delete: expected true, false, \"startup\" or \"running\", got "
       "\"sometimes\"\n"
       "t.json:4:19: rules[0].delay_ms: expected an integer from 0 to 3600000, got -1\n"
       "t.json:4:39: rules[0].initial_sync: expected a boolean, got \"yes\"\n"
       "t.json:4:58: rules[0].symlinks: expected \"copy\", \"follow\" or \"skip\", got "
       "\"hardlink\"\n"
       "t.json:5:29: rules[0].max_delete_percent: expected an integer from 0 to 100, got 101\n"
       "t.json:5:56: rules[0].preserve[1]: expected \"mtime\" or \"mode\", got \"owner\"\n"
       "t.json:5:65: rules[0].preserve[2]: \"mtime\" is listed twice\n"
       "t.json:6:18: rules[0].include: expected an array, got \"*.jpg\"\n"
       "t.json:6:45: rules[0].exclude[1]: expected a string, got 3\n"
       "t.json:6:48: rules[0].exclude[2]: invalid glob \"a/[bc\": unterminated '[' (no closing "
       "']') at byte offset 2\n"
       "t.json:6:57: rules[0].exclude[3]: must not be empty\n"
       "t.json:6:62: rules[0].exlude: unknown key \"exlude\" (did you mean \"exclude\"?)\n"},
      {"durable: a boolean, on local stores only",
       "{\"stores\": {\"a\": {\"type\": \"local\", \"root\": \"/a\", \"durable\": \"no\"},\n"
       " \"b\": {\"type\": \"s3\", \"endpoint\": \"https://s3.example.net\", \"region\": \"r\",\n"
       " \"bucket\": \"photos\", \"credentials_file\": \"/c\", \"durable\": false}},\n"
       " \"rules\": []}",
       "t.json:1:61: stores.a.durable: expected a boolean, got \"no\"\n"
       "t.json:3:48: stores.b.durable: key \"durable\" does not apply to a store of type \"s3\" "
       "(allowed: type, endpoint, region, bucket, credentials_file, profile, prefix, path_style, "
       "ca_file, connections, multipart_threshold)\n"},
      {"delete given as a quoted boolean",
       "{\"rules\": [{\"name\": \"r\", \"target\": \"/m\", \"delete\": \"true\",\n"
       " \"source\": \"@SRC@\"}]}",
       "t.json:1:52: rules[0].delete: expected true, false, \"startup\" or \"running\", got "
       "\"true\" (write true without quotes)\n"},
      {"delete typo",
       "{\"rules\": [{\"name\": \"r\", \"target\": \"/m\", \"delete\": \"runing\",\n"
       " \"source\": \"@SRC@\"}]}",
       "t.json:1:52: rules[0].delete: expected true, false, \"startup\" or \"running\", got "
       "\"runing\" (did you mean \"running\"?)\n"},
      {"integers: fractions, huge values, integral floats",
       "{\"rules\": [{\"name\": \"r\", \"target\": \"/m\", \"delay_ms\": 2.5,\n"
       " \"max_delete_percent\": 99999999999999999999999, \"source\": \"@SRC@\"},\n"
       " {\"name\": \"s\", \"target\": \"/n\", \"delay_ms\": 1e2, \"max_delete_percent\": 5.0,\n"
       " \"source\": \"@SRC@\"}]}",
       "t.json:1:54: rules[0].delay_ms: expected an integer from 0 to 3600000, got 2.5 (not a "
       "whole number)\n"
       "t.json:2:24: rules[0].max_delete_percent: expected an integer from 0 to 100, got "
       "99999999999999999999999\n"
       "t.json:3:26: rules[1].target: the target directory \"/n\" does not exist; create it "
       "first (tetherd makes directories inside a target, never the target itself: it may be a "
       "disk not mounted yet)\n"},
      {"positions inside nested arrays spread over lines",
       "{\"rules\": [{\"name\": \"r\", \"target\": \"/m\",\n"
       "  \"include\": [\n"
       "    \"ok\",\n"
       "      \"a//b\"\n"
       "  ],\n"
       "  \"preserve\": [\n"
       "    [\n"
       "      \"mtime\"\n"
       "    ]\n"
       "  ], \"source\": \"@SRC@\"}]}",
       "t.json:4:7: rules[0].include[1]: invalid glob \"a//b\": empty path segment ('//' or a "
       "segment with nothing in it) at byte offset 2\n"
       "t.json:7:5: rules[0].preserve[0]: expected \"mtime\" or \"mode\", got an array\n"},
      {"rule must be an object", "{\"rules\": [\n  1,\n  [\"x\"]\n]}",
       "t.json:2:3: rules[0]: expected an object, got 1\n"
       "t.json:3:3: rules[1]: expected an object, got an array\n"},
      {"duplicate rule names",
       "{\"rules\": [\n"
       "  {\"name\": \"r\", \"target\": \"/m1\", \"source\": \"@SRC@\"},\n"
       "  {\"name\": \"r\", \"target\": \"/m2\", \"source\": \"@SRC@\"}\n"
       "]}",
       "t.json:2:27: rules[0].target: the target directory \"/m1\" does not exist; create it "
       "first (tetherd makes directories inside a target, never the target itself: it may be a "
       "disk not mounted yet)\n"
       "t.json:3:12: rules[1].name: duplicate rule name \"r\" (first used at line 2, column 12)\n"},
      {"targets",
       "{\"stores\": {\"backup\": {\"type\": \"local\", \"root\": \"/b\"}},\n"
       " \"rules\": [\n"
       "  {\"name\": \"a\", \"target\": \"bakup:x\", \"source\": \"@SRC@\"},\n"
       "  {\"name\": \"b\", \"target\": \"nowhere:x\", \"source\": \"@SRC@\"},\n"
       "  {\"name\": \"c\", \"target\": \"relative/dir\", \"source\": \"@SRC@\"},\n"
       "  {\"name\": \"d\", \"target\": \"backup:a/../../etc\", \"source\": \"@SRC@\"},\n"
       "  {\"name\": \"e\", \"target\": \"\", \"source\": \"@SRC@\"},\n"
       "  {\"name\": \"f\", \"target\": [\"/m\"], \"source\": \"@SRC@\"}\n"
       "]}",
       "t.json:3:27: rules[0].target: unknown store \"bakup\" (did you mean \"backup\"?)\n"
       "t.json:4:27: rules[1].target: unknown store \"nowhere\" (defined: backup)\n"
       "t.json:5:27: rules[2].target: expected STORE:PATH (a store from \"stores\") or an "
       "absolute path, got \"relative/dir\"\n"
       "t.json:6:27: rules[3].target: the path inside the store must not contain \"..\", got "
       "\"backup:a/../../etc\"\n"
       "t.json:7:27: rules[4].target: must not be empty\n"
       "t.json:8:27: rules[5].target: expected a string, got an array\n"},
      {"a target naming a store when no stores exist",
       "{\"rules\": [{\"name\": \"a\", \"target\": \"backup:x\",\n \"source\": \"@SRC@\"}]}",
       "t.json:1:36: rules[0].target: unknown store \"backup\" (no stores are defined in "
       "\"stores\"; for a local directory give its absolute path)\n"},
      {"a target naming a store that has problems is not reported twice",
       "{\"stores\": {\"backup\": {\"type\": \"local\"}},\n"
       " \"rules\": [{\"name\": \"a\", \"target\": \"backup:x\", \"source\": \"@SRC@\"}]}",
       "t.json:1:23: stores.backup.root: required key \"root\" is missing\n"},
      {"sources",
       "{\"rules\": [\n"
       "  {\"name\": \"a\", \"target\": \"/m1\", \"source\": \"relative\"},\n"
       "  {\"name\": \"b\", \"target\": \"/m2\", \"source\": \"/nonexistent/tetherd-test\"},\n"
       "  {\"name\": \"c\", \"target\": \"/m3\", \"source\": \"/dev/null\"}\n"
       "]}",
       "t.json:2:44: rules[0].source: expected an absolute path (starting with '/'), got "
       "\"relative\"\n"
       "t.json:3:44: rules[1].source: the source directory \"/nonexistent/tetherd-test\" does not "
       "exist\n"
       "t.json:4:44: rules[2].source: the source \"/dev/null\" is not a directory\n"},
  };
  for (const ValidationCase& test : cases) {
    CAPTURE(test.name);
    CHECK(problems_of(replace_all(test.text, "@SRC@", source)) == test.expected);
  }
}

TEST_CASE("a control socket path longer than sun_path is refused at its position") {
  const std::string long_path = "/run/" + std::string(103, 's');  // 108 bytes
  CHECK(long_path.size() == 108);
  const std::string text = R"({"control_socket": ")" + long_path + R"(", "rules": []})";
  CHECK(problems_of(text) ==
        "t.json:1:20: control_socket: the control socket path is 108 bytes long; a Unix "
        "socket path holds at most 107 bytes (choose a shorter one)\n");
  const std::string fits = "/run/" + std::string(102, 's');  // 107 bytes and the NUL
  CHECK(problems_of(R"({"control_socket": ")" + fits + R"(", "rules": []})") == "");
}

}  // namespace
}  // namespace tetherd::config

// The keys of SFTP and S3 stores beyond the basics: host key pinning, passphrase files,
// connection counts, timeouts, credential profiles, addressing style and CA bundles. Values
// as the stores want them, and precise errors.

#include <doctest/doctest.h>

#include <chrono>
#include <string>
#include <variant>

#include "config_test_support.hpp"

namespace tetherd::config {
namespace {

using testing::problems_of;
using testing::replace_all;

constexpr const char* kFingerprint = "SHA256:uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s";

// One SFTP store "s" with @KEYS@ appended after the required keys (no known_hosts).
std::string sftp_config(const std::string& keys) {
  return replace_all(R"({"stores": {"s": {"type": "sftp", "host": "h", "user": "u",
  "key_file": "/k", "root": "/srv", @KEYS@}}, "rules": []})",
                     "@KEYS@", keys);
}

// One S3 store "b" with @KEYS@ appended after the required keys.
std::string s3_config(const std::string& keys) {
  return replace_all(R"({"stores": {"b": {"type": "s3", "endpoint": "https://s3.example.net",
  "region": "r", "bucket": "photos", "credentials_file": "/c", @KEYS@}}, "rules": []})",
                     "@KEYS@", keys);
}

SftpStoreConfig sftp_of(const std::string& text) {
  const ConfigResult result = parse_config(text, "t.json");
  REQUIRE(result.ok());
  REQUIRE(result.config->stores.size() == 1);
  return std::get<SftpStoreConfig>(result.config->stores[0].backend);
}

S3StoreConfig s3_of(const std::string& text) {
  const ConfigResult result = parse_config(text, "t.json");
  REQUIRE(result.ok());
  REQUIRE(result.config->stores.size() == 1);
  return std::get<S3StoreConfig>(result.config->stores[0].backend);
}

TEST_CASE("sftp: every new key is read") {
  const SftpStoreConfig sftp = sftp_of(sftp_config(
      R"("passphrase_file": "/etc/tetherd//pass", "known_hosts": "/etc/tetherd/known_hosts",
      "host_key_fingerprint": ")" +
      std::string(kFingerprint) + R"(", "connections": 16, "timeout_ms": 600000)"));
  CHECK(sftp.passphrase_file == "/etc/tetherd/pass");
  CHECK(sftp.known_hosts == "/etc/tetherd/known_hosts");
  CHECK(sftp.host_key_fingerprint == kFingerprint);
  CHECK(sftp.connections == 16);
  CHECK(sftp.timeout == std::chrono::milliseconds(600'000));
}

TEST_CASE("sftp: a pinned fingerprint alone is enough, known_hosts alone too") {
  const SftpStoreConfig pinned =
      sftp_of(sftp_config(R"("host_key_fingerprint": ")" + std::string(kFingerprint) + R"(")"));
  CHECK(pinned.known_hosts.empty());
  CHECK(pinned.host_key_fingerprint == kFingerprint);
  const SftpStoreConfig listed = sftp_of(sftp_config(R"("known_hosts": "/kh")"));
  CHECK(listed.known_hosts == "/kh");
  CHECK(listed.host_key_fingerprint.empty());
  CHECK(listed.connections == 2);
  CHECK(listed.timeout == std::chrono::milliseconds(30'000));
}

TEST_CASE("sftp: one trailing '=' of a fingerprint is tolerated and dropped") {
  const SftpStoreConfig sftp =
      sftp_of(sftp_config(R"("host_key_fingerprint": ")" + std::string(kFingerprint) + R"(=")"));
  CHECK(sftp.host_key_fingerprint == kFingerprint);
}

TEST_CASE("sftp: without known_hosts or a fingerprint the store is refused, naming both") {
  CHECK(problems_of(sftp_config(R"("port": 22)")) ==
        "t.json:1:18: stores.s: required key \"known_hosts\" or \"host_key_fingerprint\" is "
        "missing: the server's host key is checked against one of them (never trusted on first "
        "use)\n");
}

TEST_CASE("sftp: malformed fingerprints") {
  const std::string rule =
      "expected \"SHA256:\" followed by 43 base64 characters, as `ssh-keygen -l -f KEY` prints "
      "it, got ";
  const auto problem = [](const std::string& fingerprint) {
    return problems_of(sftp_config(R"("host_key_fingerprint": ")" + fingerprint + R"(")"));
  };
  const std::string at = "t.json:2:61: stores.s.host_key_fingerprint: ";
  const std::string digest = std::string(kFingerprint).substr(7);
  CHECK(problem(digest) == at + rule + "\"" + digest + "\"\n");  // no prefix
  CHECK(problem("sha256:" + digest) == at + rule + "\"sha256:" + digest + "\"\n");
  CHECK(problem("SHA256:" + digest.substr(1)) ==
        at + rule + "\"SHA256:" + digest.substr(1) + "\"\n");  // 42 characters
  CHECK(problem("SHA256:" + digest + "==") == at + rule + "\"SHA256:" + digest + "==\"\n");
  std::string with_dash = "SHA256:" + digest;
  with_dash[10] = '-';  // base64url is not what ssh-keygen prints
  CHECK(problem(with_dash) == at + rule + "\"" + with_dash + "\"\n");
  // The last character of 32 bytes in base64 has its two low bits clear.
  std::string stray_bits = "SHA256:" + digest;
  stray_bits.back() = 't';
  CHECK(problem(stray_bits) == at + rule + "\"" + stray_bits + "\"\n");
  CHECK(problem("MD5:16:27:ac:a5:76:28:2d:36:63:1b:56:4d:eb:df:a6:48") ==
        at + rule +
            "\"MD5:16:27:ac:a5:76:28:2d:36:63:1b:56:4d:eb:df:a6:48\" (MD5 fingerprints are not "
            "accepted)\n");
}

TEST_CASE("sftp: connections, timeout and file keys are range- and type-checked") {
  CHECK(problems_of(sftp_config(R"("known_hosts": "/kh", "connections": 0, "timeout_ms": 999,
  "passphrase_file": "pass")")) ==
        "t.json:2:74: stores.s.connections: expected an integer from 1 to 16, got 0\n"
        "t.json:2:91: stores.s.timeout_ms: expected an integer from 1000 to 600000, got 999\n"
        "t.json:3:22: stores.s.passphrase_file: expected an absolute path (starting with '/'), "
        "got \"pass\"\n");
  CHECK(
      problems_of(sftp_config(R"("known_hosts": "/kh", "connections": 17, "timeout_ms": "30s")")) ==
      "t.json:2:74: stores.s.connections: expected an integer from 1 to 16, got 17\n"
      "t.json:2:92: stores.s.timeout_ms: expected an integer from 1000 to 600000, got \"30s\"\n");
}

TEST_CASE("sftp: roots as the store accepts them") {
  const auto root_of = [](const std::string& root) {
    return sftp_of(
               replace_all(sftp_config(R"("known_hosts": "/kh")"), "\"/srv\"", "\"" + root + "\""))
        .root;
  };
  CHECK(root_of("/srv/backup") == "/srv/backup");
  CHECK(root_of("~") == "~");
  CHECK(root_of("~/backup") == "~/backup");
  CHECK(root_of("backup/x") == "~/backup/x");
  CHECK(
      problems_of(replace_all(sftp_config(R"("known_hosts": "/kh")"), "\"/srv\"", "\"~ann/x\"")) ==
      "t.json:2:29: stores.s.root: expected an absolute path, or one relative to the login "
      "directory (\"~/x\" or \"x\"); other users' directories (\"~user\") are not supported, "
      "got \"~ann/x\"\n");
}

TEST_CASE("sftp: an IPv6 host loses its brackets; malformed hosts are refused") {
  const auto config_with_host = [](const std::string& host) {
    return replace_all(sftp_config(R"("known_hosts": "/kh")"), "\"host\": \"h\"",
                       "\"host\": \"" + host + "\"");
  };
  CHECK(sftp_of(config_with_host("[::1]")).host == "::1");
  CHECK(sftp_of(config_with_host("[fe80::1%eth0]")).host == "fe80::1%eth0");
  CHECK(sftp_of(config_with_host("192.0.2.7")).host == "192.0.2.7");
  const std::string message =
      "expected a host name or address (no spaces, '/', ':' or '@'; put the user in \"user\" "
      "and the port in \"port\"), got ";
  CHECK(problems_of(config_with_host("[]")) ==
        "t.json:1:43: stores.s.host: " + message + "\"[]\"\n");
  CHECK(problems_of(config_with_host("[h]")) ==
        "t.json:1:43: stores.s.host: " + message + "\"[h]\"\n");
  CHECK(problems_of(config_with_host("h:22")) ==
        "t.json:1:43: stores.s.host: " + message + "\"h:22\"\n");
}

TEST_CASE("s3: every new key is read, with defaults otherwise") {
  const S3StoreConfig s3 = s3_of(s3_config(
      R"("profile": "backup", "path_style": false, "ca_file": "/etc/ssl/my-ca.pem", "connections": 64)"));
  CHECK(s3.profile == "backup");
  CHECK_FALSE(s3.path_style);
  CHECK(s3.ca_file == "/etc/ssl/my-ca.pem");
  CHECK(s3.connections == 64);
  const S3StoreConfig plain = s3_of(s3_config(R"("prefix": "")"));
  CHECK(plain.profile.empty());
  CHECK(plain.path_style);
  CHECK(plain.ca_file.empty());
  CHECK(plain.connections == 8);
  CHECK(plain.multipart_threshold == (std::uint64_t{64} << 20));
  CHECK(s3_of(s3_config(R"("multipart_threshold": 5242880)")).multipart_threshold == 5u << 20);
}

TEST_CASE("s3: credentials_file may be left out (the environment, then ~/.aws/credentials)") {
  const std::string config =
      R"({"stores": {"b": {"type": "s3", "endpoint": "https://s3.example.net",
  "region": "r", "bucket": "photos"}}, "rules": []})";
  CHECK(problems_of(config).empty());
}

TEST_CASE("s3: multipart_threshold is between the smallest part and the largest PUT") {
  CHECK(problems_of(s3_config(R"("multipart_threshold": 1000)")) ==
        "t.json:2:87: stores.b.multipart_threshold: expected an integer from 5242880 to "
        "5368709120, got 1000\n");
}

TEST_CASE("s3: the new keys are type- and range-checked") {
  CHECK(problems_of(s3_config(
            R"("profile": "", "path_style": "yes", "ca_file": "ca.pem", "connections": 65)")) ==
        "t.json:2:75: stores.b.profile: must not be empty\n"
        "t.json:2:93: stores.b.path_style: expected a boolean, got \"yes\"\n"
        "t.json:2:111: stores.b.ca_file: expected an absolute path (starting with '/'), got "
        "\"ca.pem\"\n"
        "t.json:2:136: stores.b.connections: expected an integer from 1 to 64, got 65\n");
  CHECK(problems_of(s3_config(R"("profile": "[prod]", "connections": 0)")) ==
        "t.json:2:75: stores.b.profile: expected a profile name (a section of the credentials "
        "file, without brackets), got \"[prod]\"\n"
        "t.json:2:100: stores.b.connections: expected an integer from 1 to 64, got 0\n");
}

TEST_CASE("keys of the other remote type, and passphrase_file, are named as misplaced") {
  CHECK(problems_of(s3_config(R"("passphrase_file": "/p", "timeout_ms": 1000)")) ==
        "t.json:2:64: stores.b.passphrase_file: key \"passphrase_file\" does not apply to a "
        "store of type \"s3\" (allowed: type, endpoint, region, bucket, credentials_file, "
        "profile, prefix, path_style, ca_file, connections, multipart_threshold)\n"
        "t.json:2:89: stores.b.timeout_ms: key \"timeout_ms\" does not apply to a store of type "
        "\"s3\" (allowed: type, endpoint, region, bucket, credentials_file, profile, prefix, "
        "path_style, ca_file, connections, multipart_threshold)\n");
}

TEST_CASE("store configs compare by value") {
  const std::string text = sftp_config(R"("known_hosts": "/kh")");
  const ConfigResult first = parse_config(text, "a.json");
  const ConfigResult second = parse_config(text, "b.json");
  REQUIRE(first.ok());
  REQUIRE(second.ok());
  CHECK(first.config->stores == second.config->stores);
  SftpStoreConfig changed = std::get<SftpStoreConfig>(first.config->stores[0].backend);
  CHECK(changed == std::get<SftpStoreConfig>(second.config->stores[0].backend));
  changed.timeout = std::chrono::milliseconds(1'000);
  CHECK_FALSE(changed == std::get<SftpStoreConfig>(second.config->stores[0].backend));
  S3StoreConfig s3;
  S3StoreConfig other = s3;
  CHECK(s3 == other);
  other.profile = "backup";
  CHECK_FALSE(s3 == other);
  CHECK(LocalStoreConfig{"/a"} == LocalStoreConfig{"/a"});
  CHECK_FALSE(LocalStoreConfig{"/a"} == LocalStoreConfig{"/a", false});
}

}  // namespace
}  // namespace tetherd::config

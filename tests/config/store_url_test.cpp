// parse_target_url: command-line targets as local paths, sftp:// and s3:// URLs, and the
// errors for everything else.

#include "tetherd/config/store_url.hpp"

#include <doctest/doctest.h>
#include <pwd.h>
#include <unistd.h>

#include <string>
#include <variant>

namespace tetherd::config {
namespace {

// The parsed remote store of `argument`, which must be a valid remote target.
StoreConfig store_of(std::string_view argument) {
  const TargetUrlResult result = parse_target_url(argument);
  INFO("argument: ", std::string(argument), ", error: ", result.error);
  REQUIRE(result.target);
  CHECK(result.error.empty());
  REQUIRE(result.target->store);
  CHECK(result.target->path.empty());
  return *result.target->store;
}

SftpStoreConfig sftp_of(std::string_view argument) {
  return std::get<SftpStoreConfig>(store_of(argument).backend);
}

std::string error_of(std::string_view argument) {
  const TargetUrlResult result = parse_target_url(argument);
  CHECK_FALSE(result.target);
  return result.error;
}

std::string login_name() {
  const passwd* entry = ::getpwuid(::geteuid());
  REQUIRE(entry != nullptr);
  return entry->pw_name;
}

TEST_CASE("target urls: no scheme means a local path, taken as given") {
  for (const char* argument :
       {"/srv/backup", "./a:b", "relative/dir", "host:path", "/x/http://y", "./s3://b", "C:"}) {
    const TargetUrlResult result = parse_target_url(argument);
    INFO(argument);
    REQUIRE(result.target);
    CHECK_FALSE(result.target->store);
    CHECK(result.target->path == argument);
    CHECK(result.error.empty());
  }
}

TEST_CASE("target urls: a full sftp URL") {
  const StoreConfig store = store_of("sftp://sync@backup.example.net:2222/srv/backup");
  CHECK(store.name == "sftp://sync@backup.example.net:2222");
  const auto& sftp = std::get<SftpStoreConfig>(store.backend);
  CHECK(sftp.user == "sync");
  CHECK(sftp.host == "backup.example.net");
  CHECK(sftp.port == 2222);
  CHECK(sftp.root == "/srv/backup");
  CHECK(sftp.key_file.empty());  // the caller's to fill in
  CHECK(sftp.known_hosts.empty());
  CHECK(sftp.host_key_fingerprint.empty());
  CHECK(sftp.connections == 2);
}

TEST_CASE("target urls: sftp defaults, the current user and the login directory") {
  const StoreConfig store = store_of("sftp://backup.example.net");
  CHECK(store.name == "sftp://" + login_name() + "@backup.example.net:22");
  const auto& sftp = std::get<SftpStoreConfig>(store.backend);
  CHECK(sftp.user == login_name());
  CHECK(sftp.port == 22);
  CHECK(sftp.root == "~");
  CHECK(sftp_of("SFTP://u@h/~").root == "~");
  CHECK(sftp_of("sftp://u@h/~/").root == "~/");
  CHECK(sftp_of("sftp://u@h/~/backup/x").root == "~/backup/x");
  CHECK(sftp_of("sftp://u@h/").root == "/");
  CHECK(sftp_of("sftp://u@h:22/").port == 22);
}

TEST_CASE("target urls: IPv6 hosts and percent-decoding") {
  const StoreConfig store = store_of("sftp://u@[::1]:2200/srv");
  CHECK(store.name == "sftp://u@[::1]:2200");
  const auto& sftp = std::get<SftpStoreConfig>(store.backend);
  CHECK(sftp.host == "::1");
  CHECK(sftp.port == 2200);
  CHECK(sftp_of("sftp://u@[fe80::1]/x").host == "fe80::1");
  CHECK(sftp_of("sftp://u@[fe80::1]/x").port == 22);
  const SftpStoreConfig decoded = sftp_of("sftp://ann%40corp@h/srv/my%20backup%2Fx%25");
  CHECK(decoded.user == "ann@corp");
  CHECK(decoded.root == "/srv/my backup/x%");
}

TEST_CASE("target urls: bad sftp URLs say what is wrong") {
  CHECK(error_of("sftp://u@h:0/x") ==
        "invalid SFTP URL \"sftp://u@h:0/x\": the port must be a number from 1 to 65535, not "
        "\"0\"");
  CHECK(error_of("sftp://u@h:65536/x").find("from 1 to 65535, not \"65536\"") != std::string::npos);
  CHECK(error_of("sftp://u@h:ssh/x").find("not \"ssh\"") != std::string::npos);
  CHECK(error_of("sftp://u@h:/x") ==
        "invalid SFTP URL \"sftp://u@h:/x\": the port must be a number from 1 to 65535, not "
        "\"\"");
  CHECK(error_of("sftp://u@/x") == "invalid SFTP URL \"sftp://u@/x\": no host");
  CHECK(error_of("sftp:///x") == "invalid SFTP URL \"sftp:///x\": no host");
  CHECK(error_of("sftp://@h/x") == "invalid SFTP URL \"sftp://@h/x\": empty user before '@'");
  CHECK(error_of("sftp://u:pw@h/x") ==
        "invalid SFTP URL \"sftp://u:pw@h/x\": no password in the URL (SFTP stores log in with "
        "a key)");
  CHECK(error_of("sftp://u@::1/x") ==
        "invalid SFTP URL \"sftp://u@::1/x\": an IPv6 address goes in brackets, as in "
        "sftp://[::1]:22/path");
  CHECK(error_of("sftp://u@h::1/x") ==
        "invalid SFTP URL \"sftp://u@h::1/x\": an IPv6 address goes in brackets, as in "
        "sftp://[::1]:22/path");
  CHECK(error_of("sftp://u@[::1/x") ==
        "invalid SFTP URL \"sftp://u@[::1/x\": '[' without ']' around the host");
  CHECK(error_of("sftp://u@[::1]x/p") ==
        "invalid SFTP URL \"sftp://u@[::1]x/p\": expected ':port' after ']'");
  CHECK(error_of("sftp://u@[h]/p") ==
        "invalid SFTP URL \"sftp://u@[h]/p\": \"[h]\" is not a host name or address (an IPv6 "
        "address goes in brackets)");
  CHECK(error_of("sftp://u@h/a%2") ==
        "invalid SFTP URL \"sftp://u@h/a%2\": bad percent-encoding in the path");
  CHECK(error_of("sftp://u@h/a%00b") ==
        "invalid SFTP URL \"sftp://u@h/a%00b\": bad percent-encoding in the path");
  CHECK(error_of("sftp://u%zz@h/a") ==
        "invalid SFTP URL \"sftp://u%zz@h/a\": bad percent-encoding in the user");
  CHECK(error_of("sftp://u@h/a?b") ==
        "invalid SFTP URL \"sftp://u@h/a?b\": '?' and '#' are not allowed (percent-encode them "
        "in the path)");
  CHECK(error_of("sftp://u@h/~ann/x") ==
        "invalid SFTP URL \"sftp://u@h/~ann/x\": other users' directories (\"~user\") are not "
        "supported; use an absolute path or \"/~/path\" for the login directory");
}

TEST_CASE("target urls: s3 buckets and prefixes") {
  StoreConfig store = store_of("s3://photos");
  CHECK(store.name == "s3://photos");
  auto s3 = std::get<S3StoreConfig>(store.backend);
  CHECK(s3.bucket == "photos");
  CHECK(s3.prefix.empty());
  CHECK(s3.endpoint.empty());  // the caller's to fill in
  CHECK(s3.region.empty());
  CHECK(s3.credentials_file.empty());
  CHECK(s3.profile.empty());
  store = store_of("s3://photos/ann/2024%20trip/");
  CHECK(store.name == "s3://photos");
  s3 = std::get<S3StoreConfig>(store.backend);
  CHECK(s3.prefix == "ann/2024 trip/");
  CHECK(std::get<S3StoreConfig>(store_of("S3://my.bucket-1/").backend).prefix.empty());
}

TEST_CASE("target urls: bad s3 URLs say what is wrong") {
  CHECK(error_of("s3://") == "invalid S3 URL \"s3://\": no bucket");
  CHECK(error_of("s3:///prefix") == "invalid S3 URL \"s3:///prefix\": no bucket");
  CHECK(error_of("s3://Photos/x") ==
        "invalid S3 URL \"s3://Photos/x\": bad bucket name \"Photos\": use 3 to 63 characters: "
        "lower-case letters, digits, '.' and '-', starting and ending with a letter or digit");
  CHECK(error_of("s3://key@photos").find("bad bucket name \"key@photos\"") != std::string::npos);
  CHECK(error_of("s3://photos//x") ==
        "invalid S3 URL \"s3://photos//x\": the key prefix must not start with '/'");
  CHECK(error_of("s3://photos/a%zz") ==
        "invalid S3 URL \"s3://photos/a%zz\": bad percent-encoding in the prefix");
}

TEST_CASE("target urls: other schemes are refused, naming the supported ones") {
  CHECK(error_of("ftp://host/x") ==
        "unsupported target \"ftp://host/x\": scheme \"ftp://\" is not one tetherd speaks; give "
        "sftp://[user@]host[:port]/path, s3://bucket/prefix, or a local path");
  CHECK(error_of("HTTP://host/x").find("scheme \"http://\"") != std::string::npos);
  CHECK(error_of("file:///srv/x").find("scheme \"file://\"") != std::string::npos);
  CHECK(error_of("") ==
        "the target is empty: give sftp://[user@]host[:port]/path, s3://bucket/prefix, or a "
        "local path");
}

}  // namespace
}  // namespace tetherd::config

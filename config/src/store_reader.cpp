#include "store_reader.hpp"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <utility>

#include "json_path.hpp"
#include "remote_checks.hpp"

namespace tetherd::config::detail {
namespace {

using Kind = JsonValue::Kind;

const Keys local_keys = {"type", "root", "durable"};
const Keys sftp_keys = {"type",        "host",
                        "port",        "user",
                        "key_file",    "passphrase_file",
                        "known_hosts", "host_key_fingerprint",
                        "root",        "create_root",
                        "connections", "timeout_ms"};
const Keys s3_keys = {
    "type",   "endpoint",   "region",  "bucket",      "credentials_file",   "profile",
    "prefix", "path_style", "ca_file", "connections", "multipart_threshold"};

// Limits of the tuning keys: a few sessions per server are plenty for SFTP (each carries many
// requests in flight); S3 requests are one per connection, so more are useful there.
constexpr std::int64_t max_sftp_connections = 16;
constexpr std::int64_t max_s3_connections = 64;
// S3 parts are 5 MiB at least, and a single PUT carries 5 GiB at most.
constexpr std::int64_t min_multipart_threshold = std::int64_t{5} << 20;
constexpr std::int64_t max_multipart_threshold = std::int64_t{5} << 30;
constexpr std::int64_t min_timeout_ms = 1'000;
constexpr std::int64_t max_timeout_ms = 600'000;

class StoreReader {
 public:
  StoreReader(ValueReader& reader, StoreIndex& index) : reader_(reader), index_(index) {}

  void read_stores(const JsonValue& value, Config& config) {
    const std::string path = "stores";
    if (!reader_.expect_kind(value, Kind::object, path)) {
      index_.valid = false;
      return;
    }
    std::map<std::string, TextPosition, std::less<>> seen;
    for (const JsonMember& member : value.members) {
      const std::string store_path = child_path(path, member.key);
      if (const auto first = seen.find(member.key); first != seen.end()) {
        reader_.report(member.key_position, store_path,
                       "duplicate store name " + quote(member.key) + " (first given at line " +
                           std::to_string(first->second.line) + ", column " +
                           std::to_string(first->second.column) + ")");
        continue;
      }
      seen.emplace(member.key, member.key_position);
      index_.names.emplace_back(member.key);
      bool ok = true;
      if (!valid_name(member.key)) {
        reader_.report(
            member.key_position, store_path,
            "invalid store name " + quote(member.key) + ": use " + std::string(name_rule));
        ok = false;
      }
      auto store = read_store(member.value, store_path);
      if (store && ok) {
        store->name = member.key;
        config.stores.push_back(std::move(*store));
      } else {
        index_.invalid.emplace_back(member.key);
      }
    }
  }

  std::optional<StoreConfig> read_store(const JsonValue& value, const std::string& path) {
    if (!reader_.expect_kind(value, Kind::object, path)) return std::nullopt;
    const std::size_t problems_before = reader_.problem_count();
    static const Keys types = {"local", "sftp", "s3"};
    std::optional<std::size_t> type;
    for (const JsonMember& member : value.members) {
      if (member.key == "type") {
        type = reader_.enum_value(member.value, child_path(path, "type"), types);
        break;
      }
    }
    const bool has_type = std::any_of(value.members.begin(), value.members.end(),
                                      [](const JsonMember& m) { return m.key == "type"; });
    if (!has_type) {
      reader_.report(value.position, child_path(path, "type"),
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
      reader_.read_object(value, path, all, SecretHint::generic);
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
    if (reader_.problem_count() != problems_before) return std::nullopt;
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
        reader_.read_object(value, path, local_keys, SecretHint::generic, &others, "local");
    reader_.require(value, members, path, {"root"});
    LocalStoreConfig local;
    if (const JsonMember* root = find_member(members, "root")) {
      if (auto root_path = reader_.absolute_path(root->value, child_path(path, "root"))) {
        local.root = *root_path;
      }
    }
    if (const JsonMember* durable = find_member(members, "durable")) {
      if (auto flag = reader_.bool_value(durable->value, child_path(path, "durable"))) {
        local.durable = *flag;
      }
    }
    return local;
  }

  SftpStoreConfig read_sftp_store(const JsonValue& value, const std::string& path) {
    static const Keys others = other_keys(sftp_keys);
    const auto members =
        reader_.read_object(value, path, sftp_keys, SecretHint::sftp, &others, "sftp");
    reader_.require(value, members, path, {"host", "user", "key_file", "root"});
    if (!find_member(members, "known_hosts") && !find_member(members, "host_key_fingerprint")) {
      reader_.report(value.position, path,
                     "required key \"known_hosts\" or \"host_key_fingerprint\" is missing: the "
                     "server's host key is checked against one of them (never trusted on first "
                     "use)");
    }
    SftpStoreConfig sftp;
    if (const JsonMember* host = find_member(members, "host")) {
      const std::string host_path = child_path(path, "host");
      if (const std::string* text = reader_.string_value(host->value, host_path)) {
        if (auto bare = sftp_host(*text)) {
          sftp.host = std::move(*bare);
        } else {
          reader_.report(
              host->value.position, host_path,
              "expected a host name or address (no spaces, '/', ':' or '@'; put the user in "
              "\"user\" and the port in \"port\"), got " +
                  describe_value(host->value));
        }
      }
    }
    if (const JsonMember* port = find_member(members, "port")) {
      if (auto number = reader_.integer_value(port->value, child_path(path, "port"), 1, 65535)) {
        sftp.port = static_cast<std::uint16_t>(*number);
      }
    }
    if (const JsonMember* user = find_member(members, "user")) {
      if (const std::string* text = reader_.string_value(user->value, child_path(path, "user"))) {
        sftp.user = *text;
      }
    }
    read_path(members, path, "key_file", sftp.key_file);
    read_path(members, path, "passphrase_file", sftp.passphrase_file);
    read_path(members, path, "known_hosts", sftp.known_hosts);
    if (const JsonMember* pinned = find_member(members, "host_key_fingerprint")) {
      const std::string pinned_path = child_path(path, "host_key_fingerprint");
      if (const std::string* text = reader_.string_value(pinned->value, pinned_path)) {
        if (auto fingerprint = sha256_fingerprint(*text)) {
          sftp.host_key_fingerprint = std::move(*fingerprint);
        } else {
          std::string message = "expected " + std::string(fingerprint_rule) + ", got " +
                                describe_value(pinned->value);
          if (text->starts_with("MD5:")) message += " (MD5 fingerprints are not accepted)";
          reader_.report(pinned->value.position, pinned_path, std::move(message));
        }
      }
    }
    if (const JsonMember* root = find_member(members, "root")) {
      const std::string root_path = child_path(path, "root");
      if (const std::string* text = reader_.string_value(root->value, root_path)) {
        if (auto server_root = sftp_root(*text)) {
          sftp.root = std::move(*server_root);
        } else {
          reader_.report(root->value.position, root_path,
                         "expected an absolute path, or one relative to the login directory "
                         "(\"~/x\" or \"x\"); other users' directories (\"~user\") are not "
                         "supported, got " +
                             describe_value(root->value));
        }
      }
    }
    if (const JsonMember* create_root = find_member(members, "create_root")) {
      if (auto flag = reader_.bool_value(create_root->value, child_path(path, "create_root"))) {
        sftp.create_root = *flag;
      }
    }
    if (const JsonMember* connections = find_member(members, "connections")) {
      if (auto number = reader_.integer_value(connections->value, child_path(path, "connections"),
                                              1, max_sftp_connections)) {
        sftp.connections = static_cast<int>(*number);
      }
    }
    if (const JsonMember* timeout = find_member(members, "timeout_ms")) {
      if (auto number = reader_.integer_value(timeout->value, child_path(path, "timeout_ms"),
                                              min_timeout_ms, max_timeout_ms)) {
        sftp.timeout = std::chrono::milliseconds(*number);
      }
    }
    return sftp;
  }

  S3StoreConfig read_s3_store(const JsonValue& value, const std::string& path) {
    static const Keys others = other_keys(s3_keys);
    const auto members = reader_.read_object(value, path, s3_keys, SecretHint::s3, &others, "s3");
    reader_.require(value, members, path, {"endpoint", "region", "bucket"});
    S3StoreConfig s3;
    if (const JsonMember* endpoint = find_member(members, "endpoint")) {
      const std::string endpoint_path = child_path(path, "endpoint");
      if (const std::string* text = reader_.string_value(endpoint->value, endpoint_path)) {
        const std::string_view view = *text;
        const std::size_t scheme = view.rfind("https://", 0) == 0  ? 8
                                   : view.rfind("http://", 0) == 0 ? 7
                                                                   : 0;
        if (scheme == 0 || view.size() == scheme || view[scheme] == '/' ||
            view.find_first_of(" \t") != std::string_view::npos) {
          reader_.report(endpoint->value.position, endpoint_path,
                         "expected a URL like \"https://s3.example.net\", got " +
                             describe_value(endpoint->value));
        } else {
          s3.endpoint = *text;
        }
      }
    }
    if (const JsonMember* region = find_member(members, "region")) {
      if (const std::string* text =
              reader_.string_value(region->value, child_path(path, "region"))) {
        s3.region = *text;
      }
    }
    if (const JsonMember* bucket = find_member(members, "bucket")) {
      const std::string bucket_path = child_path(path, "bucket");
      if (const std::string* text = reader_.string_value(bucket->value, bucket_path)) {
        if (!valid_bucket(*text)) {
          reader_.report(bucket->value.position, bucket_path,
                         "invalid bucket name " + describe_value(bucket->value) + ": " +
                             std::string(bucket_rule));
        } else {
          s3.bucket = *text;
        }
      }
    }
    read_path(members, path, "credentials_file", s3.credentials_file);
    if (const JsonMember* profile = find_member(members, "profile")) {
      const std::string profile_path = child_path(path, "profile");
      if (const std::string* text = reader_.string_value(profile->value, profile_path)) {
        // A section name: "[name]" in the credentials file, so no brackets or line breaks.
        if (text->find_first_of("[]\r\n") != std::string::npos) {
          reader_.report(profile->value.position, profile_path,
                         "expected a profile name (a section of the credentials file, without "
                         "brackets), got " +
                             describe_value(profile->value));
        } else {
          s3.profile = *text;
        }
      }
    }
    if (const JsonMember* prefix = find_member(members, "prefix")) {
      const std::string prefix_path = child_path(path, "prefix");
      if (const std::string* text = reader_.string_value(prefix->value, prefix_path, true)) {
        if (!text->empty() && text->front() == '/') {
          reader_.report(
              prefix->value.position, prefix_path,
              "a key prefix must not start with '/', got " + describe_value(prefix->value));
        } else {
          s3.prefix = *text;
        }
      }
    }
    if (const JsonMember* path_style = find_member(members, "path_style")) {
      if (auto flag = reader_.bool_value(path_style->value, child_path(path, "path_style"))) {
        s3.path_style = *flag;
      }
    }
    read_path(members, path, "ca_file", s3.ca_file);
    if (const JsonMember* connections = find_member(members, "connections")) {
      if (auto number = reader_.integer_value(connections->value, child_path(path, "connections"),
                                              1, max_s3_connections)) {
        s3.connections = static_cast<int>(*number);
      }
    }
    if (const JsonMember* threshold = find_member(members, "multipart_threshold")) {
      if (auto number =
              reader_.integer_value(threshold->value, child_path(path, "multipart_threshold"),
                                    min_multipart_threshold, max_multipart_threshold)) {
        s3.multipart_threshold = static_cast<std::uint64_t>(*number);
      }
    }
    return s3;
  }

  /// Reads optional key `key` of `members` as an absolute path into `out`.
  void read_path(const Members& members, const std::string& path, std::string_view key,
                 std::filesystem::path& out) {
    if (const JsonMember* member = find_member(members, key)) {
      if (auto file = reader_.absolute_path(member->value, child_path(path, key))) out = *file;
    }
  }

 private:
  ValueReader& reader_;
  StoreIndex& index_;
};

}  // namespace

void read_stores(ValueReader& reader, const JsonValue& value, Config& config, StoreIndex& index) {
  StoreReader(reader, index).read_stores(value, config);
}

}  // namespace tetherd::config::detail

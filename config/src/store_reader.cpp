#include "store_reader.hpp"

#include <algorithm>
#include <map>
#include <utility>

#include "json_path.hpp"

namespace tetherd::config::detail {
namespace {

using Kind = JsonValue::Kind;

const Keys local_keys = {"type", "root", "durable"};
const Keys sftp_keys = {"type", "host", "port", "user", "key_file", "known_hosts", "root"};
const Keys s3_keys = {"type", "endpoint", "region", "bucket", "credentials_file", "prefix"};

bool valid_bucket(std::string_view bucket) {
  if (bucket.size() < 3 || bucket.size() > 63) return false;
  const auto edge = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  if (!edge(bucket.front()) || !edge(bucket.back())) return false;
  return std::all_of(bucket.begin(), bucket.end(),
                     [&](char c) { return edge(c) || c == '.' || c == '-'; });
}

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
    reader_.require(value, members, path, {"host", "user", "key_file", "known_hosts", "root"});
    SftpStoreConfig sftp;
    if (const JsonMember* host = find_member(members, "host")) {
      const std::string host_path = child_path(path, "host");
      if (const std::string* text = reader_.string_value(host->value, host_path)) {
        if (text->find_first_of(" \t/:@") != std::string::npos &&
            !(text->front() == '[' && text->back() == ']')) {
          reader_.report(
              host->value.position, host_path,
              "expected a host name or address (no spaces, '/', ':' or '@'; put the user in "
              "\"user\" and the port in \"port\"), got " +
                  describe_value(host->value));
        } else {
          sftp.host = *text;
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
    if (const JsonMember* key_file = find_member(members, "key_file")) {
      if (auto file = reader_.absolute_path(key_file->value, child_path(path, "key_file"))) {
        sftp.key_file = *file;
      }
    }
    if (const JsonMember* known_hosts = find_member(members, "known_hosts")) {
      if (auto file = reader_.absolute_path(known_hosts->value, child_path(path, "known_hosts"))) {
        sftp.known_hosts = *file;
      }
    }
    if (const JsonMember* root = find_member(members, "root")) {
      if (const std::string* text = reader_.string_value(root->value, child_path(path, "root"))) {
        sftp.root = *text;
      }
    }
    return sftp;
  }

  S3StoreConfig read_s3_store(const JsonValue& value, const std::string& path) {
    static const Keys others = other_keys(s3_keys);
    const auto members = reader_.read_object(value, path, s3_keys, SecretHint::s3, &others, "s3");
    reader_.require(value, members, path, {"endpoint", "region", "bucket", "credentials_file"});
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
                         "invalid bucket name " + describe_value(bucket->value) +
                             ": use 3 to 63 characters: lower-case letters, digits, '.' and '-', "
                             "starting and ending with a letter or digit");
        } else {
          s3.bucket = *text;
        }
      }
    }
    if (const JsonMember* credentials = find_member(members, "credentials_file")) {
      if (auto file =
              reader_.absolute_path(credentials->value, child_path(path, "credentials_file"))) {
        s3.credentials_file = *file;
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
    return s3;
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

#include "remote_target.hpp"

#include <pwd.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <system_error>

namespace tetherd::daemon {

namespace {

namespace fs = std::filesystem;

fs::path home_directory() {
  if (const char* home = std::getenv("HOME"); home != nullptr && *home != '\0') return home;
  if (const passwd* entry = ::getpwuid(::geteuid()); entry != nullptr && entry->pw_dir != nullptr)
    return entry->pw_dir;
  return {};
}

std::string absolute(const std::string& path) {
  std::error_code error;
  const fs::path made = fs::absolute(path, error);
  return error ? path : made.lexically_normal().string();
}

bool file_exists(const fs::path& path) {
  std::error_code error;
  return fs::exists(path, error);
}

RemoteStoreJson sftp_json(const config::SftpStoreConfig& sftp, const RemoteTargetOptions& options) {
  nlohmann::json store = {
      {"type", "sftp"},
      {"host", sftp.host.find(':') != std::string::npos ? "[" + sftp.host + "]" : sftp.host},
      {"port", sftp.port},
      {"user", sftp.user},
      {"root", sftp.root},
      // As a local DST is: the directory the command names is made when missing.
      {"create_root", true}};
  const fs::path ssh = home_directory() / ".ssh";
  std::string key_file = options.key_file;
  if (key_file.empty()) {
    for (const char* name : {"id_ed25519", "id_ecdsa", "id_rsa"}) {
      if (file_exists(ssh / name)) {
        key_file = (ssh / name).string();
        break;
      }
    }
  }
  if (key_file.empty()) {
    return {std::nullopt,
            "no private key: give --key-file (none of ~/.ssh/id_ed25519, id_ecdsa, "
            "id_rsa exists)"};
  }
  store["key_file"] = absolute(key_file);
  if (!options.passphrase_file.empty())
    store["passphrase_file"] = absolute(options.passphrase_file);
  if (!options.host_key_fingerprint.empty())
    store["host_key_fingerprint"] = options.host_key_fingerprint;
  std::string known_hosts = options.known_hosts;
  if (known_hosts.empty() && options.host_key_fingerprint.empty()) {
    if (!file_exists(ssh / "known_hosts")) {
      return {std::nullopt,
              "the server's host key cannot be checked: give --known-hosts FILE or "
              "--host-key-fingerprint SHA256:... (~/.ssh/known_hosts does not exist)"};
    }
    known_hosts = (ssh / "known_hosts").string();
  }
  if (!known_hosts.empty()) store["known_hosts"] = absolute(known_hosts);
  return {std::move(store), {}};
}

RemoteStoreJson s3_json(const config::S3StoreConfig& s3, const RemoteTargetOptions& options) {
  if (options.endpoint.empty()) {
    return {std::nullopt,
            "an s3:// target needs --endpoint URL (for example "
            "https://s3.eu-west-1.amazonaws.com)"};
  }
  nlohmann::json store = {{"type", "s3"},
                          {"endpoint", options.endpoint},
                          {"region", options.region.empty() ? "us-east-1" : options.region},
                          {"bucket", s3.bucket}};
  // Without --credentials-file the store looks as the AWS CLI does: the environment's
  // keys, then ~/.aws/credentials.
  if (!options.credentials_file.empty()) {
    store["credentials_file"] = absolute(options.credentials_file);
  }
  if (!s3.prefix.empty()) store["prefix"] = s3.prefix;
  if (!options.profile.empty()) store["profile"] = options.profile;
  return {std::move(store), {}};
}

}  // namespace

RemoteStoreJson remote_store_json(const config::StoreConfig& store,
                                  const RemoteTargetOptions& options) {
  if (const auto* sftp = std::get_if<config::SftpStoreConfig>(&store.backend)) {
    return sftp_json(*sftp, options);
  }
  if (const auto* s3 = std::get_if<config::S3StoreConfig>(&store.backend)) {
    return s3_json(*s3, options);
  }
  return {std::nullopt, "not a remote store"};
}

}  // namespace tetherd::daemon

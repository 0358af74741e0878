#pragma once

// The validated configuration: plain values, filled in by load_config()/parse_config()
// (load_config.hpp). Every field has been checked; defaults are applied. The JSON format is
// described in packaging/man/tetherd.json.5 and config/tetherd.schema.json.

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace tetherd::config {

/// A directory on this machine.
struct LocalStoreConfig {
  std::filesystem::path root;  ///< absolute, lexically normalized
  /// "durable" (default true): every change is on the disk before the target shows it
  /// (data) and before it is reported (names). false: the kernel writes it back when it
  /// chooses, as `cp` and `rsync` leave it; after a power loss the next start lists the
  /// whole target again (README "Durability").
  bool durable = true;

  friend bool operator==(const LocalStoreConfig&, const LocalStoreConfig&) = default;
};

/// An SFTP server. Authentication is by private key only; the host key must match
/// `known_hosts` or the pinned `host_key_fingerprint` (at least one is given: never
/// trust-on-first-use). The fields carry what stores::SftpStoreOptions needs, same names.
struct SftpStoreConfig {
  std::string host;  ///< name or address; an IPv6 address without its brackets ("::1")
  std::uint16_t port = 22;
  std::string user;
  std::filesystem::path key_file;         ///< absolute path of the private key
  std::filesystem::path passphrase_file;  ///< absolute; its first line unlocks the key; empty: none
  std::filesystem::path known_hosts;  ///< absolute path of an OpenSSH known_hosts file, or empty
  /// "SHA256:" and 43 base64 characters (no '=' padding), as `ssh-keygen -l` prints it;
  /// empty: none pinned.
  std::string host_key_fingerprint;
  /// Directory on the server: absolute ("/srv/x"), or "~" / "~/x" for the login directory
  /// and below it. A relative root in the file ("x") is stored as "~/x".
  std::string root;
  /// Whether a missing root (and the directories above it) is created when the store opens;
  /// otherwise a missing root is an error (a server disk not mounted must not be filled in).
  bool create_root = false;
  int connections = 2;  ///< most SSH sessions open at once, 1..16
  /// A session with requests outstanding and nothing received for this long fails; also
  /// bounds the TCP connect. 1 s .. 10 min.
  std::chrono::milliseconds timeout{30'000};

  friend bool operator==(const SftpStoreConfig&, const SftpStoreConfig&) = default;
};

/// An S3-compatible bucket. Keys come from `credentials_file` (never from the config).
struct S3StoreConfig {
  std::string endpoint;  ///< "https://host[:port]" (or http://)
  std::string region;
  std::string bucket;
  /// Absolute; AWS shared-credentials format. Empty: the environment's keys, else the
  /// shared-credentials file, as the AWS CLI looks (stores::find_s3_credentials).
  std::filesystem::path credentials_file;
  /// The section of the credentials file to use; empty: $AWS_PROFILE, else "default".
  std::string profile;
  std::string prefix;  ///< key prefix inside the bucket; may be empty
  /// true: http://host/bucket/key; false: virtual-hosted, http://bucket.host/key.
  bool path_style = true;
  std::filesystem::path ca_file;  ///< absolute CA bundle for https; empty: the system's
  int connections = 8;            ///< most HTTP requests in flight at once, 1..64
  /// Files larger than this go up in a multipart upload (parts uploaded in parallel);
  /// 5 MiB .. 5 GiB.
  std::uint64_t multipart_threshold = std::uint64_t{64} << 20;

  friend bool operator==(const S3StoreConfig&, const S3StoreConfig&) = default;
};

/// A named store from the "stores" object.
struct StoreConfig {
  std::string name;
  std::variant<LocalStoreConfig, SftpStoreConfig, S3StoreConfig> backend;

  friend bool operator==(const StoreConfig&, const StoreConfig&) = default;
};

/// "local", "sftp" or "s3".
std::string_view store_type_name(const StoreConfig& store);

/// When a rule deletes on the target what is gone from the source (lsyncd meanings).
enum class DeleteMode {
  Always,   ///< JSON true: at startup reconciliation and while running
  Never,    ///< JSON false: never delete on the target
  Startup,  ///< "startup": only during the startup reconciliation
  Running,  ///< "running": only for deletions seen while running
};
std::string_view to_string(DeleteMode mode);

/// What a rule does with a symbolic link found in the source.
enum class SymlinkMode {
  Copy,    ///< "copy" (default): recreate the link itself (same target text) on the store;
           ///< stores without symlink support skip it and log a warning
  Follow,  ///< "follow": mirror the file or directory the link points to
  Skip,    ///< "skip": ignore symbolic links
};
std::string_view to_string(SymlinkMode mode);

/// Metadata kept on the target besides contents.
struct PreserveSet {
  bool mtime = false;
  bool mode = false;
  friend bool operator==(const PreserveSet&, const PreserveSet&) = default;
};

/// Where a rule mirrors to.
struct Target {
  /// The named store, or empty when the config gave a bare absolute path (an implicit local
  /// store rooted at `path`).
  std::string store;
  /// For a named store: the directory inside the store, relative, '/'-separated, normalized
  /// (no "." or ".." segments, no leading or trailing '/'); empty means the store's root.
  /// For an implicit local store: the absolute, lexically normalized directory.
  std::string path;

  bool implicit_local() const { return store.empty(); }
};

struct Rule {
  std::string name;
  std::filesystem::path source;  ///< absolute, lexically normalized, an existing directory
  Target target;
  std::vector<std::string> include;  ///< glob patterns (core/glob.hpp); empty: everything
  std::vector<std::string> exclude;
  DeleteMode delete_mode = DeleteMode::Always;
  std::uint32_t delay_ms = 200;  ///< coalescing delay, 0..max_delay_ms
  bool initial_sync = true;
  PreserveSet preserve{.mtime = true, .mode = true};  // like rsync -a
  SymlinkMode symlinks = SymlinkMode::Copy;
  /// The startup reconciliation refuses to delete more than this share of the target's
  /// entries (0..100; 100 disables the guard).
  int max_delete_percent = 100;
};

inline constexpr std::uint32_t max_delay_ms = 3'600'000;  // one hour

enum class LogLevel { Trace, Debug, Info, Warn, Error };
std::string_view to_string(LogLevel level);

struct LogConfig {
  std::filesystem::path file;  ///< absolute; empty: no log file
  LogLevel level = LogLevel::Info;
};

struct Config {
  /// Where the config came from (file path, or the origin name given to parse_config).
  std::string origin;
  LogConfig log;
  std::filesystem::path control_socket;  ///< absolute; empty: the built-in default
  std::vector<StoreConfig> stores;       ///< in file order
  std::vector<Rule> rules;               ///< in file order

  /// The store named `name`, or nullptr.
  const StoreConfig* find_store(std::string_view name) const;
  /// The directory on this machine that `target` names: the path of a bare absolute path, a
  /// local store's root joined with the path inside it. Nothing for a remote (or unknown)
  /// store.
  std::optional<std::filesystem::path> local_directory(const Target& target) const;
};

}  // namespace tetherd::config

#pragma once

// Building blocks of the SFTP store's operations, each a few requests on one session:
// stat, readlink, status-only requests, the confinement walk, creating parents, reading
// and removing directories. Callbacks run on the loop thread.
//
// Confinement. SFTP resolves paths on the server and follows symlinks in every component
// but the last (v3 has no openat and no O_NOFOLLOW). So before an operation touches a key,
// walk() lstats every component below the root, and check_parents() refuses a symlink (or
// file) among the parents with NotADirectory; the last component is judged by each
// operation (rename, remove and lstat never follow it; open for writing only ever targets
// a fresh temporary name). Residual race: someone with write access to the tree on the
// server could swap a checked directory for a symlink between the walk and the action;
// closing that would need openat-style requests that SFTP v3 lacks. Nobody but this
// store is expected to write into its root.

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sftp_session.hpp"
#include "tetherd/core/store.hpp"

namespace tetherd::stores::sftp {

using SessionPtr = std::shared_ptr<Session>;
template <typename T>
using Then = std::function<void(core::Result<T>)>;

/// Temporary files of writes: "<prefix><token>.<n>" in the target's directory. Reserved.
inline constexpr std::string_view kTempPrefix = ".tetherd-sftp.";
inline bool is_temp_name(std::string_view name) {
  return name.substr(0, kTempPrefix.size()) == kTempPrefix;
}

/// The server path of `relative` ("a/b", "" for the root) below the session's root.
std::string server_path(const Session& session, std::string_view relative);
/// The directory part of a server path.
std::string parent_path(const std::string& path);

/// A request answered by SSH_FX_OK or a failure status.
void call_status(const SessionPtr& session, std::uint8_t type, std::string body, Then<void> done);
void extended_status(const SessionPtr& session, std::string_view name, std::string body,
                     Then<void> done);
/// lstat: nullopt for SSH_FX_NO_SUCH_FILE.
void lstat(const SessionPtr& session, const std::string& path, Then<std::optional<FileAttrs>> done);
void readlink(const SessionPtr& session, const std::string& path, Then<std::string> done);
/// Opens a file; the handle.
void open_file(const SessionPtr& session, const std::string& path, std::uint32_t flags,
               const FileAttrs& attrs, Then<std::string> done);
/// Closes a handle, not waiting for (or caring about) the answer.
void close_quietly(const SessionPtr& session, const std::string& handle);

core::EntryType entry_type(const FileAttrs& attrs);
/// The EntryInfo of `key` from its attributes (whole-second mtime).
core::EntryInfo describe(const core::StoreKey& key, const FileAttrs& attrs);

/// The lstat of every component of `key` below the root, shallowest first (one round
/// trip: the requests are sent together). nullopt where a component is missing.
using Walk = std::vector<std::optional<FileAttrs>>;
void walk(const SessionPtr& session, const core::StoreKey& key, Then<Walk> done);
/// Judges the parents of `key` in a walk: NotADirectory for a non-directory (a symlink
/// included); a missing one is NotFound unless `create`. Returns how many parents exist.
core::Result<std::size_t> check_parents(const core::StoreKey& key, const Walk& walk, bool create);
/// Creates the directories of `key`'s first `until` components from index `from` on, in
/// order (mode 0755); a directory that appeared meanwhile is fine, anything else there is
/// NotADirectory.
void make_dirs(const SessionPtr& session, const core::StoreKey& key, std::size_t from,
               std::size_t until, Then<void> done);

struct DirEntry {
  std::string name;
  FileAttrs attrs;
  std::optional<std::string> link_target;  ///< symlinks
};
/// The entries of a directory ("." and ".." dropped; temporary files only with
/// `include_temps`), sorted by name bytes (unsigned), symlink targets read.
void read_dir(const SessionPtr& session, const std::string& path, bool include_temps,
              Then<std::vector<DirEntry>> done);
/// Removes everything below `path` and then the directory, never following symlinks.
void remove_tree(const SessionPtr& session, const std::string& path, Then<void> done);

}  // namespace tetherd::stores::sftp

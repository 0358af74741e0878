// The SFTP store: opening, the metadata operations (stat, move, remove, mkdir, rmdir,
// set_attrs, symlink, readlink), closing, and the sweep of leftover temporary files.
// Writes are in sftp_write.cpp, reads and listings in sftp_read.cpp.

#include <algorithm>
#include <limits>
#include <random>

#include "sftp_store_impl.hpp"

namespace tetherd::stores {

using namespace core;
using namespace sftp;

namespace sftp {

namespace {

StoreError error(Errc code, std::string detail = {}) {
  return StoreError::make(code, std::move(detail));
}

/// SSH_FXP_SETSTAT without following a final symlink (OpenSSH 8.3 and later).
constexpr std::string_view kLsetstat = "lsetstat@openssh.com";

StoreError cancelled() {
  return error(Errc::Cancelled, "operation cancelled");
}

/// with_session + walk + check_parents: `then` gets the session, the walk and how many
/// parents exist (all of them unless `create`).
template <typename T>
void walked(SftpStore& store, const OperationRef& op, Callback<T> done, const StoreKey& key,
            bool create, std::function<void(const SessionPtr&, const Walk&, std::size_t)> then) {
  store.with_session<T>(op, done, [op, done, key, create, then](const SessionPtr& session) {
    walk(session, key, [session, op, done, key, create, then](Result<Walk> walked) {
      if (op->cancel_requested()) return done(cancelled());
      if (!walked) return done(walked.error());
      auto parents = check_parents(key, *walked, create);
      if (!parents) return done(parents.error());
      then(session, *walked, *parents);
    });
  });
}

/// The key's own lstat in a walk, when all its parents exist.
const std::optional<FileAttrs>& own(const Walk& walk) {
  return walk.back();
}

}  // namespace

FileAttrs attrs_for(std::optional<TimePoint> mtime, std::optional<std::uint32_t> mode) {
  FileAttrs attrs;
  if (mtime) {
    // SFTP v3 carries times as uint32 seconds: 1970-01-01 to 2106-02-07. Outside that a
    // time is clamped to the nearest end (never wrapped), and the store reports the value
    // it stored (a write's EntryInfo, stat), so a comparison with the source can see it.
    auto seconds = std::chrono::floor<std::chrono::seconds>(mtime->time_since_epoch()).count();
    attrs.flags |= FileAttrs::kTimes;
    attrs.mtime = static_cast<std::uint32_t>(
        std::clamp<std::int64_t>(seconds, 0, std::numeric_limits<std::uint32_t>::max()));
    attrs.atime = attrs.mtime;
  }
  if (mode) {
    attrs.flags |= FileAttrs::kPermissions;
    attrs.permissions = *mode & 07777;
  }
  return attrs;
}

SftpStore::SftpStore(Executor& executor, SftpStoreOptions options,
                     std::shared_ptr<const SessionSettings> settings, CapabilitySet capabilities,
                     std::shared_ptr<Pool> pool)
    : Store(executor, options.name, std::move(capabilities)),
      options_(std::move(options)),
      settings_(std::move(settings)),
      pool_(std::move(pool)) {
  std::random_device random;
  char token[17];
  std::snprintf(token, sizeof token, "%08x%08x", random(), random());
  token_ = token;
}

std::string SftpStore::temp_name() {
  return std::string(kTempPrefix) + token_ + "." + std::to_string(next_temp_++);
}

void SftpStore::on_connected(const SessionPtr& session) {
  for (const auto& path : orphans_) {
    std::string orphan = path;
    call_status(session, kRemove, Writer().str(orphan).take(),
                [weak = std::weak_ptr<Store>(shared_from_this()), orphan](Result<void> removed) {
                  auto store = std::static_pointer_cast<SftpStore>(weak.lock());
                  if (!store) return;
                  if (removed || removed.error().code == Errc::NotFound) {
                    store->orphans_.erase(orphan);
                  }
                });
  }
  if (!swept_) {
    swept_ = true;
    sweep(session, session->root());
  }
}

void SftpStore::sweep(const SessionPtr& session, const std::string& path) {
  // Temporary files of this process carry its token and are left alone; everything else
  // with the prefix is a leftover of an interrupted process. Symlinks are not followed
  // (read_dir's entries are lstat'ed).
  std::weak_ptr<Store> weak = shared_from_this();
  read_dir(session, path, true, [weak, session, path](Result<std::vector<DirEntry>> entries) {
    auto store = std::static_pointer_cast<SftpStore>(weak.lock());
    if (!store || !entries || store->closed()) return;  // best effort; retried next open
    for (const auto& entry : *entries) {
      std::string child = path + "/" + entry.name;
      if (is_temp_name(entry.name)) {
        if (entry.name.find(store->token_) == std::string::npos && !entry.attrs.is_dir()) {
          call_status(session, kRemove, Writer().str(child).take(), [](Result<void>) {});
        }
      } else if (entry.attrs.is_dir()) {
        store->sweep(session, child);
      }
    }
  });
}

std::optional<StoreError> SftpStore::reject_key(const StoreKey& key) const {
  if (key.any_segment(is_temp_name)) {
    return error(Errc::InvalidPath, "names starting with '" + std::string(kTempPrefix) +
                                        "' are reserved for the store's temporary files");
  }
  return std::nullopt;
}

Resolution SftpStore::do_resolve(const StoreKey& key) const {
  std::string root = options_.root;
  std::string path = key.is_root() ? root : (root.ends_with('/') ? root : root + "/") + key.str();
  return {"sftp",
          "sftp://" + options_.user + "@" + options_.host + ":" + std::to_string(options_.port) +
              (path.starts_with('/') ? "" : "/") + path,
          "every component below the root is lstat'ed before use; symlinks are never followed"};
}

void SftpStore::do_close(Callback<void> done) {
  pool_->close();
  done(success());
}

void SftpStore::do_stat(const StoreKey& key, const OperationRef& op, Callback<EntryInfo> done) {
  if (key.is_root()) {
    return with_session<EntryInfo>(op, done, [done](const SessionPtr& session) {
      lstat(session, session->root(), [done](Result<std::optional<FileAttrs>> attrs) {
        if (!attrs) return done(attrs.error());
        if (!*attrs) return done(error(Errc::NotFound, "the store root vanished"));
        done(describe(StoreKey::root(), **attrs));
      });
    });
  }
  walked<EntryInfo>(*this, op, done, key, false,
                    [key, done](const SessionPtr& session, const Walk& walk, std::size_t) {
                      if (!own(walk)) return done(error(Errc::NotFound));
                      EntryInfo info = describe(key, *own(walk));
                      if (info.type != EntryType::Symlink) return done(info);
                      sftp::readlink(session, server_path(*session, key.str()),
                                     [info, done](Result<std::string> target) mutable {
                                       if (!target) return done(target.error());
                                       info.link_target = std::move(*target);
                                       done(info);
                                     });
                    });
}

void SftpStore::do_copy(const StoreKey&, const StoreKey&, bool, const OperationRef&,
                        Callback<void> done) {
  // COPY is not declared (SFTP v3 copies only through this process), so the front refuses
  // every copy before it gets here.
  done(error(Errc::CapabilityNotSupported, "SFTP store has no server-side copy"));
}

void SftpStore::do_move(const StoreKey& from, const StoreKey& to, bool overwrite,
                        const OperationRef& op, Callback<void> done) {
  // Cancellation is polled up to the rename (the point of no return), which is one step.
  walked<void>(
      *this, op, done, from, false,
      [=](const SessionPtr& session, const Walk& source, std::size_t) {
        if (!own(source)) return done(error(Errc::NotFound));
        if (from == to) return done(success());
        if (to.is_within(from)) {
          return done(error(Errc::InvalidPath, "cannot move a directory into itself"));
        }
        const FileAttrs from_attrs = *own(source);
        walk(session, to, [=](Result<Walk> target) {
          if (op->cancel_requested()) return done(cancelled());
          if (!target) return done(target.error());
          auto parents = check_parents(to, *target, true);
          if (!parents) return done(parents.error());
          const bool complete = *parents + 1 == to.depth();
          const bool exists = complete && own(*target).has_value();
          const FileAttrs existing = exists ? *own(*target) : FileAttrs{};
          auto rename = [=] {
            if (op->cancel_requested()) return done(cancelled());
            std::string old_path = server_path(*session, from.str());
            std::string new_path = server_path(*session, to.str());
            auto finish = [=](Result<void> result) {
              if (result || overwrite || result.error().code != Errc::IoError) return done(result);
              // The plain rename refuses an existing target with SSH_FX_FAILURE.
              lstat(session, new_path, [done, result](Result<std::optional<FileAttrs>> attrs) {
                if (attrs && *attrs) return done(error(Errc::AlreadyExists));
                done(result);
              });
            };
            if (overwrite) {
              extended_status(session, "posix-rename@openssh.com",
                              Writer().str(old_path).str(new_path).take(), finish);
            } else {
              call_status(session, kRename, Writer().str(old_path).str(new_path).take(), finish);
            }
          };
          if (exists) {
            if (!overwrite) return done(error(Errc::AlreadyExists));
            if (existing.is_dir() && !from_attrs.is_dir()) return done(error(Errc::IsDirectory));
            if (!existing.is_dir() && from_attrs.is_dir()) return done(error(Errc::NotADirectory));
            if (existing.is_dir()) {
              return read_dir(session, server_path(*session, to.str()), true,
                              [=](Result<std::vector<DirEntry>> entries) {
                                if (!entries) return done(entries.error());
                                if (!entries->empty()) return done(error(Errc::DirectoryNotEmpty));
                                rename();
                              });
            }
            return rename();
          }
          make_dirs(session, to, *parents, to.depth() - 1, [=](Result<void> made) {
            if (!made) return done(made.error());
            rename();
          });
        });
      });
}

void SftpStore::do_remove(const StoreKey& key, bool missing_ok, const OperationRef& op,
                          Callback<void> done) {
  Callback<void> finish = [done, missing_ok](Result<void> result) {
    if (!result && missing_ok && result.error().code == Errc::NotFound) return done(success());
    done(std::move(result));
  };
  walked<void>(*this, op, finish, key, false,
               [key, finish](const SessionPtr& session, const Walk& walk, std::size_t) {
                 if (!own(walk)) return finish(error(Errc::NotFound));
                 if (own(walk)->is_dir()) return finish(error(Errc::IsDirectory));
                 call_status(session, kRemove,
                             Writer().str(server_path(*session, key.str())).take(), finish);
               });
}

void SftpStore::do_mkdir(const StoreKey& key, MkdirOptions options, const OperationRef& op,
                         Callback<void> done) {
  walked<void>(
      *this, op, done, key, true,
      [key, options, done](const SessionPtr& session, const Walk& walk, std::size_t parents) {
        std::string path = server_path(*session, key.str());
        auto set_mode = [session, path, options, done](Result<void> made) {
          if (!made || !options.mode) return done(made);
          // Explicitly: the server's mkdir is subject to its umask.
          call_status(session, kSetstat,
                      Writer().str(path).attrs(attrs_for(std::nullopt, options.mode)).take(), done);
        };
        const bool complete = parents + 1 == key.depth();
        if (complete && own(walk)) {
          if (!own(walk)->is_dir()) return done(error(Errc::AlreadyExists));
          return set_mode(success());
        }
        make_dirs(session, key, parents, key.depth(), set_mode);
      });
}

void SftpStore::do_rmdir(const StoreKey& key, bool recursive, const OperationRef& op,
                         Callback<void> done) {
  walked<void>(*this, op, done, key, false,
               [key, recursive, done](const SessionPtr& session, const Walk& walk, std::size_t) {
                 if (!own(walk)) return done(error(Errc::NotFound));
                 if (!own(walk)->is_dir()) return done(error(Errc::NotADirectory));
                 std::string path = server_path(*session, key.str());
                 if (recursive) return remove_tree(session, path, done);
                 call_status(session, kRmdir, Writer().str(path).take(),
                             [session, path, done](Result<void> removed) {
                               if (removed || removed.error().code != Errc::IoError) {
                                 return done(removed);
                               }
                               // SSH_FX_FAILURE: full (the usual reason) or something else.
                               read_dir(session, path, true,
                                        [done, removed](Result<std::vector<DirEntry>> entries) {
                                          if (entries && !entries->empty()) {
                                            return done(error(Errc::DirectoryNotEmpty));
                                          }
                                          done(removed);
                                        });
                             });
               });
}

void SftpStore::do_set_attrs(const StoreKey& key, Attrs attrs, const OperationRef& op,
                             Callback<void> done) {
  walked<void>(*this, op, done, key, false,
               [key, attrs, done](const SessionPtr& session, const Walk& walk, std::size_t) {
                 if (!own(walk)) return done(error(Errc::NotFound));
                 const std::string path = server_path(*session, key.str());
                 if (own(walk)->is_link()) {
                   // SSH_FXP_SETSTAT follows symlinks: it would change the link's target.
                   // lsetstat@openssh.com (same body) does not, and sets a link's times;
                   // a link's mode is refused as the local store refuses it (Linux keeps
                   // none).
                   if (attrs.mode) {
                     return done(error(Errc::PermissionDenied,
                                       "a symbolic link has no mode of its own to set"));
                   }
                   if (!session->has_extension(kLsetstat)) {
                     return done(error(Errc::PermissionDenied,
                                       "cannot set attributes of a symbolic link: the SFTP "
                                       "server lacks lsetstat@openssh.com"));
                   }
                   return extended_status(
                       session, kLsetstat,
                       Writer().str(path).attrs(attrs_for(attrs.mtime, std::nullopt)).take(), done);
                 }
                 call_status(session, kSetstat,
                             Writer().str(path).attrs(attrs_for(attrs.mtime, attrs.mode)).take(),
                             done);
               });
}

void SftpStore::do_symlink(const StoreKey& key, std::string target, const OperationRef& op,
                           Callback<void> done) {
  walked<void>(
      *this, op, done, key, true,
      [key, target, done](const SessionPtr& session, const Walk& walk, std::size_t parents) {
        if (parents + 1 == key.depth() && own(walk)) return done(error(Errc::AlreadyExists));
        make_dirs(session, key, parents, key.depth() - 1, [=](Result<void> made) {
          if (!made) return done(made.error());
          std::string path = server_path(*session, key.str());
          Writer body;
          if (session->symlink_reversed()) {
            body.str(target).str(path);
          } else {
            body.str(path).str(target);
          }
          call_status(session, kSymlink, body.take(), [session, path, done](Result<void> made) {
            if (made || made.error().code != Errc::IoError) return done(made);
            lstat(session, path, [done, made](Result<std::optional<FileAttrs>> attrs) {
              if (attrs && *attrs) return done(error(Errc::AlreadyExists));
              done(made);
            });
          });
        });
      });
}

void SftpStore::do_readlink(const StoreKey& key, const OperationRef& op,
                            Callback<std::string> done) {
  walked<std::string>(*this, op, done, key, false,
                      [key, done](const SessionPtr& session, const Walk& walk, std::size_t) {
                        if (!own(walk)) return done(error(Errc::NotFound));
                        if (!own(walk)->is_link()) {
                          return done(error(Errc::InvalidPath, "not a symbolic link"));
                        }
                        sftp::readlink(session, server_path(*session, key.str()), done);
                      });
}

}  // namespace sftp

CancelOpen open_sftp_store(Executor& executor, SftpStoreOptions options, Callback<StorePtr> done) {
  auto refuse = [&executor, &options, &done](Errc code, std::string detail) -> CancelOpen {
    auto failure = StoreError::make(code, std::move(detail));
    failure.store = options.name;
    failure.operation = Operation::Open;
    executor.post([done, failure] { done(failure); });
    return [] {};
  };
  auto* uv = dynamic_cast<UvExecutor*>(&executor);
  if (!uv) return refuse(Errc::InvalidPath, "the SFTP store needs the libuv executor (UvExecutor)");
  if (options.host.empty()) return refuse(Errc::InvalidPath, "no host");
  if (options.user.empty()) return refuse(Errc::InvalidPath, "no user");
  if (options.key_file.empty()) return refuse(Errc::InvalidPath, "no key_file");
  if (options.port <= 0 || options.port > 65535) return refuse(Errc::InvalidPath, "bad port");
  if (options.root.empty() || (options.root[0] != '/' && options.root.rfind("~", 0) != 0)) {
    return refuse(Errc::InvalidPath, "root must be absolute or start with '~/'");
  }
  if (options.known_hosts.empty() && options.host_key_fingerprint.empty()) {
    return refuse(Errc::InvalidPath,
                  "a known_hosts file or a host_key_fingerprint is needed: host keys are "
                  "never trusted on first use");
  }
  if (options.connections < 1) options.connections = 1;
  auto settings = std::make_shared<SessionSettings>();
  settings->host = options.host;
  settings->port = options.port;
  settings->user = options.user;
  settings->key_file = options.key_file;
  settings->passphrase_file = options.passphrase_file;
  settings->known_hosts = options.known_hosts;
  settings->fingerprint = options.host_key_fingerprint;
  settings->root = options.root;
  settings->create_root = options.create_root;
  settings->timeout = options.timeout;
  auto session = std::make_shared<Session>(*uv, settings);
  // Set once connect's callback has run: from then on the session may be the pool's, and
  // cancelling the open must not close it.
  auto answered = std::make_shared<bool>(false);
  session->connect([&executor, options, settings, session, done, answered](Result<void> connected) {
    *answered = true;
    if (!connected) {
      auto failure = connected.error();
      failure.store = options.name;
      failure.operation = Operation::Open;
      return done(failure);
    }
    if (!session->has_extension("posix-rename@openssh.com")) {
      session->shutdown(StoreError::make(Errc::Unavailable, "store not opened"));
      auto failure = StoreError::make(
          Errc::CapabilityNotSupported,
          "the SFTP server lacks posix-rename@openssh.com, needed for atomic overwrites");
      failure.store = options.name;
      failure.operation = Operation::Open;
      return done(failure);
    }
    CapabilitySet capabilities{
        Capability::Read,       Capability::Write,         Capability::AtomicWrite,
        Capability::Delete,     Capability::List,          Capability::Move,
        Capability::AtomicMove, Capability::AtomicReplace, Capability::Metadata,
        Capability::SetMtime,   Capability::SetMode,       Capability::Symlink,
        Capability::Mkdir,      Capability::ExplicitDirs,  Capability::NoClobberCreate,
        Capability::LazyRead};
    if (session->has_extension("fsync@openssh.com")) capabilities.add(Capability::Durable);
    capabilities.mtime_precision = std::chrono::seconds(1);
    capabilities.mtime_range = core::CapabilitySet::MtimeRange{0, 0xFFFFFFFFll};
    auto* uv = static_cast<UvExecutor*>(&executor);
    auto pool = std::make_shared<Pool>(*uv, settings, options.connections);
    auto store = std::make_shared<SftpStore>(executor, options, settings, capabilities, pool);
    std::weak_ptr<Store> weak = store;
    pool->on_connected = [weak](const SessionPtr& connected_session) {
      if (auto alive = std::static_pointer_cast<SftpStore>(weak.lock())) {
        alive->on_connected(connected_session);
      }
    };
    pool->adopt(session);
    done(StorePtr(store));
  });
  std::weak_ptr<Session> connecting = session;
  return [connecting, answered] {
    if (*answered) return;
    // Connect's callback then runs on a later turn with this error (Session::shutdown).
    if (auto alive = connecting.lock()) alive->shutdown(cancelled());
  };
}

}  // namespace tetherd::stores

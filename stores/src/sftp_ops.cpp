#include "sftp_ops.hpp"

#include <algorithm>

namespace tetherd::stores::sftp {

using core::Errc;
using core::StoreError;

namespace {

StoreError error(Errc code, std::string detail) {
  return StoreError::make(code, std::move(detail));
}

/// The failure a non-OK STATUS reply (or an unexpected reply) stands for.
StoreError reply_error(const Reply& reply, std::string_view expected) {
  std::string message;
  if (auto status = reply_status(reply, &message)) return status_error(*status, message);
  return protocol_error("unexpected reply " + std::to_string(reply.type) + " to " +
                        std::string(expected));
}

}  // namespace

std::string server_path(const Session& session, std::string_view relative) {
  const std::string& root = session.root();
  if (relative.empty()) return root;
  if (root == "/") return "/" + std::string(relative);
  return root + "/" + std::string(relative);
}

std::string parent_path(const std::string& path) {
  auto slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

void call_status(const SessionPtr& session, std::uint8_t type, std::string body, Then<void> done) {
  session->request(type, std::move(body), [done](core::Result<Reply> reply) {
    if (!reply) return done(reply.error());
    std::string message;
    auto status = reply_status(*reply, &message);
    if (status && *status == kOk) return done(core::success());
    done(reply_error(*reply, "a request"));
  });
}

void extended_status(const SessionPtr& session, std::string_view name, std::string body,
                     Then<void> done) {
  call_status(session, kExtended, Writer().str(name).take() + body, std::move(done));
}

void lstat(const SessionPtr& session, const std::string& path,
           Then<std::optional<FileAttrs>> done) {
  session->request(kLstat, Writer().str(path).take(), [done](core::Result<Reply> reply) {
    if (!reply) return done(reply.error());
    if (reply->type == kAttrs) {
      Reader reader(reply->body);
      FileAttrs attrs = reader.attrs();
      if (reader.failed()) return done(protocol_error("bad SSH_FXP_ATTRS"));
      return done(std::optional<FileAttrs>(attrs));
    }
    auto status = reply_status(*reply);
    if (status && *status == kNoSuchFile) return done(std::optional<FileAttrs>());
    done(reply_error(*reply, "lstat"));
  });
}

void readlink(const SessionPtr& session, const std::string& path, Then<std::string> done) {
  session->request(kReadlink, Writer().str(path).take(), [done](core::Result<Reply> reply) {
    if (!reply) return done(reply.error());
    if (reply->type != kName) return done(reply_error(*reply, "readlink"));
    Reader reader(reply->body);
    std::uint32_t count = reader.u32();
    std::string target = reader.str();
    if (reader.failed() || count < 1) return done(protocol_error("bad SSH_FXP_NAME"));
    done(target);
  });
}

void open_file(const SessionPtr& session, const std::string& path, std::uint32_t flags,
               const FileAttrs& attrs, Then<std::string> done) {
  session->request(kOpen, Writer().str(path).u32(flags).attrs(attrs).take(),
                   [done](core::Result<Reply> reply) {
                     if (!reply) return done(reply.error());
                     if (reply->type != kHandle) return done(reply_error(*reply, "open"));
                     Reader reader(reply->body);
                     std::string handle = reader.str();
                     if (reader.failed()) return done(protocol_error("bad SSH_FXP_HANDLE"));
                     done(handle);
                   });
}

void close_quietly(const SessionPtr& session, const std::string& handle) {
  if (session->ready()) session->request(kClose, Writer().str(handle).take(), [](auto) {});
}

core::EntryType entry_type(const FileAttrs& attrs) {
  if (attrs.is_dir()) return core::EntryType::Directory;
  if (attrs.is_link()) return core::EntryType::Symlink;
  if (attrs.is_file()) return core::EntryType::File;
  return core::EntryType::Other;
}

core::EntryInfo describe(const core::StoreKey& key, const FileAttrs& attrs) {
  core::EntryInfo info;
  info.key = key;
  info.type = entry_type(attrs);
  if (info.type != core::EntryType::Directory && (attrs.flags & FileAttrs::kSize)) {
    info.size = attrs.size;
  }
  if (attrs.flags & FileAttrs::kTimes) {
    info.mtime = core::TimePoint(std::chrono::seconds(attrs.mtime));
  }
  if (attrs.flags & FileAttrs::kPermissions) info.mode = attrs.permissions & 07777;
  return info;
}

void walk(const SessionPtr& session, const core::StoreKey& key, Then<Walk> done) {
  auto segments = key.segments();
  struct State {
    Walk walk;
    std::size_t remaining = 0;
    std::optional<StoreError> failure;
  };
  auto state = std::make_shared<State>();
  state->walk.resize(segments.size());
  state->remaining = segments.size();
  if (segments.empty()) return done(Walk{});
  std::string relative;
  for (std::size_t i = 0; i < segments.size(); ++i) {
    if (i) relative += '/';
    relative += segments[i];
    lstat(session, server_path(*session, relative),
          [state, i, done](core::Result<std::optional<FileAttrs>> attrs) {
            if (!attrs) {
              if (!state->failure) state->failure = attrs.error();
            } else {
              state->walk[i] = *attrs;
            }
            if (--state->remaining > 0) return;
            if (state->failure) return done(*state->failure);
            done(std::move(state->walk));
          });
  }
}

core::Result<std::size_t> check_parents(const core::StoreKey& key, const Walk& walk, bool create) {
  auto segments = key.segments();
  std::string relative;
  for (std::size_t i = 0; i + 1 < segments.size(); ++i) {
    if (i) relative += '/';
    relative += segments[i];
    if (!walk[i]) {
      if (create) return i;
      return error(Errc::NotFound,
                   "parent directory '" + core::printable(relative) + "' does not exist");
    }
    if (!walk[i]->is_dir()) {
      return error(Errc::NotADirectory, "'" + core::printable(relative) + "' is not a directory" +
                                            (walk[i]->is_link() ? " (a symbolic link)" : ""));
    }
  }
  return segments.empty() ? std::size_t{0} : segments.size() - 1;
}

void make_dirs(const SessionPtr& session, const core::StoreKey& key, std::size_t from,
               std::size_t until, Then<void> done) {
  if (from >= until) return done(core::success());
  auto segments = key.segments();
  std::string relative;
  for (std::size_t i = 0; i <= from; ++i) {
    if (i) relative += '/';
    relative += segments[i];
  }
  std::string path = server_path(*session, relative);
  FileAttrs attrs;
  attrs.flags = FileAttrs::kPermissions;
  attrs.permissions = 0755;
  call_status(
      session, kMkdir, Writer().str(path).attrs(attrs).take(),
      [session, key, from, until, done, path, relative](core::Result<void> made) {
        auto next = [session, key, from, until, done] {
          make_dirs(session, key, from + 1, until, done);
        };
        if (made) return next();
        if (made.error().code != Errc::IoError) return done(made.error());
        // SSH_FX_FAILURE: most likely it exists (made by a concurrent write); look.
        auto failure = made.error();
        lstat(session, path,
              [next, done, failure, relative](core::Result<std::optional<FileAttrs>> attrs) {
                if (!attrs) return done(attrs.error());
                if (*attrs && (*attrs)->is_dir()) return next();
                if (*attrs) {
                  return done(error(Errc::NotADirectory,
                                    "'" + core::printable(relative) + "' is not a directory"));
                }
                done(failure);
              });
      });
}

namespace {

struct DirRead {
  SessionPtr session;
  std::string path;
  std::string handle;
  bool include_temps = false;
  std::vector<DirEntry> entries;
  Then<std::vector<DirEntry>> done;
};

void finish_dir(const std::shared_ptr<DirRead>& read) {
  std::sort(read->entries.begin(), read->entries.end(),
            [](const DirEntry& a, const DirEntry& b) { return a.name < b.name; });
  // Symlink targets, all requested at once.
  auto remaining = std::make_shared<std::size_t>(1);
  auto failure = std::make_shared<std::optional<StoreError>>();
  auto settle = [read, remaining, failure] {
    if (--*remaining > 0) return;
    if (*failure) return read->done(**failure);
    read->done(std::move(read->entries));
  };
  for (std::size_t i = 0; i < read->entries.size(); ++i) {
    if (!read->entries[i].attrs.is_link()) continue;
    ++*remaining;
    std::string child = read->path + "/" + read->entries[i].name;
    readlink(read->session, child, [read, i, failure, settle](core::Result<std::string> target) {
      if (target) {
        read->entries[i].link_target = std::move(*target);
      } else if (target.error().code != Errc::NotFound && !*failure) {
        *failure = target.error();  // NotFound: it vanished meanwhile; keep the entry
      }
      settle();
    });
  }
  settle();
}

void next_names(const std::shared_ptr<DirRead>& read) {
  read->session->request(kReaddir, Writer().str(read->handle).take(),
                         [read](core::Result<Reply> reply) {
                           if (!reply) return read->done(reply.error());
                           if (reply->type == kName) {
                             Reader reader(reply->body);
                             std::uint32_t count = reader.u32();
                             for (std::uint32_t i = 0; i < count && !reader.failed(); ++i) {
                               DirEntry entry;
                               entry.name = reader.str();
                               reader.str();  // longname, for humans
                               entry.attrs = reader.attrs();
                               if (reader.failed()) break;
                               if (entry.name == "." || entry.name == "..") continue;
                               if (!read->include_temps && is_temp_name(entry.name)) continue;
                               read->entries.push_back(std::move(entry));
                             }
                             if (reader.failed()) {
                               close_quietly(read->session, read->handle);
                               return read->done(protocol_error("bad SSH_FXP_NAME"));
                             }
                             return next_names(read);
                           }
                           close_quietly(read->session, read->handle);
                           auto status = reply_status(*reply);
                           if (status && *status == kEof) return finish_dir(read);
                           read->done(reply_error(*reply, "readdir"));
                         });
}

}  // namespace

void read_dir(const SessionPtr& session, const std::string& path, bool include_temps,
              Then<std::vector<DirEntry>> done) {
  auto read = std::make_shared<DirRead>();
  read->session = session;
  read->path = path;
  read->include_temps = include_temps;
  read->done = std::move(done);
  session->request(kOpendir, Writer().str(path).take(), [read](core::Result<Reply> reply) {
    if (!reply) return read->done(reply.error());
    if (reply->type != kHandle) return read->done(reply_error(*reply, "opendir"));
    Reader reader(reply->body);
    read->handle = reader.str();
    if (reader.failed()) return read->done(protocol_error("bad SSH_FXP_HANDLE"));
    next_names(read);
  });
}

void remove_tree(const SessionPtr& session, const std::string& path, Then<void> done) {
  read_dir(session, path, true, [session, path, done](core::Result<std::vector<DirEntry>> entries) {
    if (!entries) return done(entries.error());
    auto remaining = std::make_shared<std::size_t>(1);
    auto failure = std::make_shared<std::optional<StoreError>>();
    auto settle = [session, path, done, remaining, failure] {
      if (--*remaining > 0) return;
      if (*failure) return done(**failure);
      call_status(session, kRmdir, Writer().str(path).take(), done);
    };
    auto record = [failure, settle](core::Result<void> removed) {
      if (!removed && removed.error().code != Errc::NotFound && !*failure) {
        *failure = removed.error();
      }
      settle();
    };
    for (const auto& entry : *entries) {
      ++*remaining;
      std::string child = path + "/" + entry.name;
      if (entry.attrs.is_dir()) {
        remove_tree(session, child, record);
      } else {
        call_status(session, kRemove, Writer().str(child).take(), record);
      }
    }
    settle();
  });
}

}  // namespace tetherd::stores::sftp

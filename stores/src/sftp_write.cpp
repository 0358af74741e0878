// Writes of the SFTP store. Atomic: a temporary file in the target's directory, written
// with up to kInFlight SSH_FXP_WRITE requests outstanding (the data is pulled from the
// source as acknowledgements free slots), fsync@openssh.com when DURABLE, attributes set
// on the handle, closed, then renamed over the key: posix-rename@openssh.com replaces,
// the plain v3 rename (OpenSSH: link + unlink) refuses an existing target, which makes
// overwrite=false atomic. Not atomic: the key itself is opened (O_EXCL without overwrite)
// and written in place, a symlink there replaced rather than followed. A failure or
// cancellation before the rename removes what the write created (not atomic: the key,
// whose old content the open truncated); when the connection is lost that is left to the
// reconnect.

#include "sftp_store_impl.hpp"

namespace tetherd::stores::sftp {

using namespace core;

namespace {

constexpr std::size_t kChunk = 32 * 1024;  // well below every server's packet limit
constexpr int kInFlight = 16;

StoreError error(Errc code, std::string detail = {}) {
  return StoreError::make(code, std::move(detail));
}

struct WriteJob : std::enable_shared_from_this<WriteJob> {
  std::shared_ptr<SftpStore> store;
  SessionPtr session;
  StoreKey key;
  ByteSourcePtr source;
  WriteOptions options;
  OperationRef op;
  Callback<EntryInfo> done;

  std::string final_path;
  std::string file_path;  // what we write: the temporary file, or final_path
  std::string handle;
  bool created = false;    // file_path exists because of us
  bool committed = false;  // the rename was sent: no more cancellation
  bool finished = false;
  bool opening = false;       // the SSH_FXP_OPEN is outstanding: its answer owns the cleanup
  bool replace_link = false;  // not atomic: a symlink at the key is removed before the open
  bool link_removed = false;  // ... and was: the open is exclusive
  bool reading = false;
  bool source_done = false;
  int in_flight = 0;
  std::uint64_t offset = 0;

  void start() {
    auto job = shared_from_this();
    op->set_cancel_hook([weak = std::weak_ptr<WriteJob>(job)] {
      if (auto job = weak.lock()) job->fail(error(Errc::Cancelled, "operation cancelled"));
    });
    if (finished) return;
    walk(session, key, [job](Result<Walk> walked) {
      if (job->finished) return;
      if (!walked) return job->fail(walked.error());
      auto parents = check_parents(job->key, *walked, true);
      if (!parents) return job->fail(parents.error());
      if (*parents + 1 == job->key.depth() && walked->back()) {
        const FileAttrs& existing = *walked->back();
        if (existing.is_dir()) return job->fail(error(Errc::IsDirectory));
        if (!job->options.overwrite) return job->fail(error(Errc::AlreadyExists));
        job->replace_link = existing.is_link();
      }
      make_dirs(job->session, job->key, *parents, job->key.depth() - 1, [job](Result<void> made) {
        if (job->finished) return;
        if (!made) return job->fail(made.error());
        job->open();
      });
    });
  }

  void open() {
    final_path = server_path(*session, key.str());
    std::uint32_t flags = kOpenWrite | kOpenCreate | kOpenTruncate;
    if (options.atomic) {
      file_path = parent_path(final_path) + "/" + store->temp_name();
      flags |= kOpenExclusive;
    } else {
      file_path = final_path;
      if (replace_link) return remove_link();
      if (!options.overwrite || link_removed) flags |= kOpenExclusive;
    }
    FileAttrs attrs;
    attrs.flags = FileAttrs::kPermissions;
    attrs.permissions = 0600;  // until the final mode is set, nobody else reads it
    auto job = shared_from_this();
    opening = true;
    open_file(session, file_path, flags, attrs, [job](Result<std::string> handle) {
      // From here on fail() cleans up by itself: it must, since this answer is the one it
      // waits for while opening (a refused open, or a connection lost under it, reports).
      job->opening = false;
      if (!handle) {
        const auto code = handle.error().code;
        if (job->options.atomic && (code == Errc::Unavailable || code == Errc::Timeout)) {
          // The answer was lost with the connection, not refused: the server may have
          // created the temporary file all the same. It is ours: removed on reconnect.
          job->store->orphaned(job->file_path);
        }
        if (job->finished) return job->cleanup();  // failed or cancelled meanwhile
        auto failure = handle.error();
        if (!job->options.atomic && !job->options.overwrite && failure.code == Errc::IoError) {
          failure = error(Errc::AlreadyExists);  // O_EXCL on an existing key
        }
        return job->fail(failure);
      }
      job->handle = *handle;
      job->created = true;
      if (job->finished) return job->cleanup();  // cancelled while opening
      job->pump();
    });
  }

  /// Not atomic, a symlink at the key: SSH_FXP_OPEN would follow it (v3 has no
  /// O_NOFOLLOW) and write wherever it points, outside the root perhaps. The link is
  /// removed instead (as the local store replaces it), and the key then opened with O_EXCL,
  /// which never follows a link planted meanwhile (the open fails instead).
  void remove_link() {
    replace_link = false;
    auto job = shared_from_this();
    call_status(session, kRemove, Writer().str(final_path).take(), [job](Result<void> removed) {
      if (job->finished) return;
      if (!removed && removed.error().code != Errc::NotFound) return job->fail(removed.error());
      job->link_removed = true;
      job->open();
    });
  }

  void pump() {
    while (!finished && !reading && !source_done && in_flight < kInFlight) {
      reading = true;
      auto job = shared_from_this();
      source->read(kChunk, [job](Result<Bytes> chunk) { job->on_chunk(std::move(chunk)); });
    }
  }

  void on_chunk(Result<Bytes> chunk) {
    reading = false;
    if (finished) return;
    if (op->cancel_requested()) return fail(error(Errc::Cancelled, "operation cancelled"));
    if (!chunk) return fail(chunk.error());
    if (chunk->empty()) {
      source_done = true;
      return maybe_commit();
    }
    std::string body = Writer().str(handle).u64(offset).take();
    Writer data;
    data.str(std::string_view(reinterpret_cast<const char*>(chunk->data()), chunk->size()));
    body += data.bytes();
    offset += chunk->size();
    ++in_flight;
    auto job = shared_from_this();
    call_status(session, kWrite, std::move(body), [job](Result<void> written) {
      --job->in_flight;
      if (job->finished) return;
      if (!written) {
        auto failure = written.error();
        if (failure.code == Errc::IoError) {
          failure.detail += failure.detail.empty() ? "" : "; ";
          failure.detail += "write refused by the server (its disk may be full)";
        }
        return job->fail(failure);
      }
      job->pump();
      job->maybe_commit();
    });
    pump();
  }

  void maybe_commit() {
    if (finished || !source_done || in_flight > 0 || reading) return;
    auto job = shared_from_this();
    auto after_sync = [job](Result<void> synced) {
      if (job->finished) return;
      if (!synced) return job->fail(synced.error());
      FileAttrs attrs = attrs_for(job->options.mtime, job->options.mode.value_or(0644));
      call_status(job->session, kFsetstat, Writer().str(job->handle).attrs(attrs).take(),
                  [job](Result<void> set) {
                    if (job->finished) return;
                    if (!set) return job->fail(set.error());
                    job->close_and_rename();
                  });
    };
    if (store->durable()) {
      extended_status(session, "fsync@openssh.com", Writer().str(handle).take(), after_sync);
    } else {
      after_sync(success());
    }
  }

  void close_and_rename() {
    auto job = shared_from_this();
    std::string closing = handle;
    handle.clear();
    call_status(session, kClose, Writer().str(closing).take(), [job](Result<void> closed) {
      if (job->finished) return;
      if (!closed) return job->fail(closed.error());
      if (!job->options.atomic) return job->report();
      if (job->op->cancel_requested()) return job->fail(error(Errc::Cancelled));
      job->committed = true;
      auto renamed = [job](Result<void> result) {
        if (job->finished) return;
        if (result) {
          job->created = false;  // the temporary file is the key now
          return job->report();
        }
        job->committed = false;
        if (!job->options.overwrite && result.error().code == Errc::IoError) {
          // The plain rename refuses an existing target with SSH_FX_FAILURE.
          return lstat(job->session, job->final_path,
                       [job, result](Result<std::optional<FileAttrs>> attrs) {
                         if (attrs && *attrs) return job->fail(error(Errc::AlreadyExists));
                         job->fail(result.error());
                       });
        }
        job->fail(result.error());
      };
      Writer paths;
      paths.str(job->file_path).str(job->final_path);
      if (job->options.overwrite) {
        extended_status(job->session, "posix-rename@openssh.com", paths.take(), renamed);
      } else {
        call_status(job->session, kRename, paths.take(), renamed);
      }
    });
  }

  void report() {
    auto job = shared_from_this();
    created = false;
    committed = true;  // the data is in place: a cancel now changes nothing
    lstat(session, final_path, [job](Result<std::optional<FileAttrs>> attrs) {
      if (job->finished) return;
      job->finished = true;
      if (!attrs) return job->done(attrs.error());
      if (!*attrs) return job->done(error(Errc::NotFound, "the written file vanished"));
      job->done(describe(job->key, **attrs));
    });
  }

  /// Fails the write: its file is closed and removed before `done` runs.
  void fail(StoreError failure) {
    if (finished || committed) return;
    finished = true;
    pending_failure = std::move(failure);
    if (reading) source->cancel();
    // While opening, the open's answer does the cleanup (the handle is not known yet);
    // every other state cleans up, and reports, now.
    if (!opening) cleanup();
  }

  void cleanup() {
    auto job = shared_from_this();
    auto report_failure = [job](Result<void>) { job->done(job->pending_failure); };
    if (!handle.empty()) {
      close_quietly(session, handle);
      handle.clear();
    }
    if (!created) return report_failure(success());
    created = false;
    if (!session->ready()) {
      store->orphaned(file_path);  // removed on reconnect
      return report_failure(success());
    }
    call_status(session, kRemove, Writer().str(file_path).take(),
                [job, report_failure](Result<void> removed) {
                  if (!removed && removed.error().code != Errc::NotFound &&
                      (removed.error().code == Errc::Unavailable ||
                       removed.error().code == Errc::Timeout)) {
                    job->store->orphaned(job->file_path);
                  }
                  report_failure(success());
                });
  }

  StoreError pending_failure;
};

}  // namespace

void SftpStore::do_write(const StoreKey& key, ByteSourcePtr source, WriteOptions options,
                         const OperationRef& op, Callback<EntryInfo> done) {
  auto store = self();
  // At most kMaxWrites writes hold a file handle at once (the server's sftp-server has a
  // descriptor limit); the rest wait here in order.
  auto start = [store, key, source, options, op, done] {
    ++store->active_writes_;
    Callback<EntryInfo> finished = [store, done](Result<EntryInfo> result) {
      --store->active_writes_;
      if (!store->queued_writes_.empty()) {
        auto next = std::move(store->queued_writes_.front());
        store->queued_writes_.pop_front();
        store->executor().post(std::move(next));
      }
      done(std::move(result));
    };
    store->with_session<EntryInfo>(
        op, finished, [store, key, source, options, op, finished](const SessionPtr& session) {
          auto job = std::make_shared<WriteJob>();
          job->store = store;
          job->session = session;
          job->key = key;
          job->source = source;
          job->options = options;
          job->op = op;
          job->done = finished;
          job->start();
        });
  };
  if (active_writes_ < kMaxWrites) return start();
  queued_writes_.push_back(std::move(start));
}

}  // namespace tetherd::stores::sftp

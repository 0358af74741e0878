#include "tetherd/engine/source_file_source.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

namespace tetherd::daemon {
namespace {

core::StoreError changed_while_copying(const SourceEntry& state, std::string_view why) {
  core::StoreError error = core::StoreError::make(core::Errc::PreconditionFailed);
  error.store = "source";
  error.side = core::ErrorSide::source;
  error.key = state.path;
  error.detail = "changed while it was being copied (" + std::string(why) + ")";
  error.retryable = true;
  return error;
}

// The end-of-data check: `end` bytes were read and the data ended there. Only a file still
// in its opened state (same size, mtime, ctime) may end there. A file that grew shows a
// larger size here, so the copy cannot have stopped short of data that was already there
// when it looked (the check needs no read past the end).
std::optional<core::StoreError> check_end(int fd, const SourceEntry& expected, std::uint64_t end) {
  struct stat info {};
  if (::fstat(fd, &info) != 0) return source_error(errno, expected.path, "stat");
  SourceEntry now = expected;
  now.size = static_cast<std::uint64_t>(info.st_size);
  now.mtime_ns =
      static_cast<std::int64_t>(info.st_mtim.tv_sec) * 1'000'000'000 + info.st_mtim.tv_nsec;
  now.ctime_ns =
      static_cast<std::int64_t>(info.st_ctim.tv_sec) * 1'000'000'000 + info.st_ctim.tv_nsec;
  if (end < expected.size) return changed_while_copying(expected, "it shrank");
  if (end > expected.size || now.size > expected.size) {
    return changed_while_copying(expected, "it grew");
  }
  if (!now.same_state(expected)) return changed_while_copying(expected, "it was modified");
  return std::nullopt;
}

// Opens `expected.path` and checks that it is still in the examined state.
core::Result<OpenSourceFile> open_expected(const LocalSourceTree& tree,
                                           const SourceEntry& expected) {
  auto opened = tree.open_file(expected.path);
  if (!opened) return opened;
  if (!opened->state.same_state(expected) || opened->state.mode != expected.mode) {
    ::close(opened->fd);
    core::StoreError error = core::StoreError::make(core::Errc::PreconditionFailed);
    error.store = "source";
    error.side = core::ErrorSide::source;
    error.key = expected.path;
    error.detail = "changed since it was examined";
    error.retryable = true;
    return error;
  }
  return opened;
}

}  // namespace

core::Result<void> SourceFileSource::open_on_worker() {
  if (fd_ >= 0 || !tree_) return core::success();
  auto opened = open_expected(*tree_, state_);
  if (!opened) return std::move(opened).error();
  fd_ = opened->fd;
  state_ = std::move(opened->state);
  return core::success();
}

std::optional<core::ByteSource::FileRegion> SourceFileSource::file_region() const {
  if (fd_ < 0) return std::nullopt;
  return FileRegion{fd_, 0, state_.size};
}

core::Result<void> SourceFileSource::check_region_copied(std::uint64_t copied) const {
  if (auto error = check_end(fd_, state_, copied)) return *error;
  return core::success();
}

void SourceFileSource::release_region() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

SourceFileSource::SourceFileSource(core::Executor& executor, OpenSourceFile file)
    : executor_(executor), fd_(file.fd), state_(std::move(file.state)) {}

SourceFileSource::SourceFileSource(core::Executor& executor,
                                   std::shared_ptr<const LocalSourceTree> tree,
                                   SourceEntry expected)
    : executor_(executor), tree_(std::move(tree)), fd_(-1), state_(std::move(expected)) {}

SourceFileSource::~SourceFileSource() {
  if (fd_ >= 0) ::close(fd_);
}

void SourceFileSource::cancel() {
  cancelled_ = true;
}

void SourceFileSource::read(std::size_t max_bytes, core::Callback<core::Bytes> done) {
  if (cancelled_) failure_ = core::StoreError::make(core::Errc::Cancelled, "copy cancelled");
  if (failure_ || reading_) {
    core::StoreError error =
        failure_ ? *failure_ : core::StoreError::make(core::Errc::Protocol, "concurrent read");
    executor_.post([done = std::move(done), error = std::move(error)] { done(error); });
    return;
  }
  if (at_end_) {  // the end was verified together with the last data
    executor_.post([done = std::move(done)] { done(core::Bytes{}); });
    return;
  }
  reading_ = true;
  struct Job {
    core::Bytes data;
    std::optional<core::StoreError> error;
    bool at_end = false;
    std::optional<OpenSourceFile> opened;  ///< the file, when this read opened it
  };
  auto job = std::make_shared<Job>();
  auto self = std::static_pointer_cast<SourceFileSource>(shared_from_this());
  // Ask for one byte more than the rest of the file: a short read then proves the end,
  // and the end is verified in the same trip to the worker (one trip for a small file).
  const std::uint64_t rest = state_.size - std::min(offset_, state_.size);
  const std::size_t want = static_cast<std::size_t>(
      std::min<std::uint64_t>(std::max<std::size_t>(1, max_bytes), rest + 1));
  const LocalSourceTree* open_from = fd_ < 0 ? tree_.get() : nullptr;
  executor_.run_blocking(
      // Worker thread: touches only the descriptor, the job and immutable state (the tree
      // is kept alive by `self`).
      [job, fd = fd_, offset = offset_, want, expected = state_, open_from]() mutable {
        if (open_from) {
          auto opened = open_expected(*open_from, expected);
          if (!opened) {
            job->error = std::move(opened).error();
            return;
          }
          fd = opened->fd;
          job->opened = std::move(*opened);
        }
        job->data.resize(want);
        std::size_t filled = 0;
        while (filled < want) {
          const ssize_t n = ::pread(fd, job->data.data() + filled, want - filled,
                                    static_cast<off_t>(offset + filled));
          if (n < 0) {
            if (errno == EINTR) continue;
            job->error = source_error(errno, expected.path, "read");
            return;
          }
          if (n == 0) break;
          filled += static_cast<std::size_t>(n);
        }
        job->data.resize(filled);
        const std::uint64_t end = offset + filled;
        if (end > expected.size) {
          job->error = changed_while_copying(expected, "it grew");
          return;
        }
        if (filled < want) {  // end of data: only a file in its opened state may end here
          job->at_end = true;
          job->error = check_end(fd, expected, end);
        }
      },
      // Loop thread.
      [self, job, done = std::move(done)] {
        self->reading_ = false;
        if (job->opened) {
          self->fd_ = job->opened->fd;
          self->state_ = std::move(job->opened->state);
        }
        if (self->cancelled_) {
          self->failure_ = core::StoreError::make(core::Errc::Cancelled, "copy cancelled");
        } else if (job->error) {
          self->failure_ = job->error;
        }
        if (self->failure_) {
          done(*self->failure_);
          return;
        }
        self->offset_ += job->data.size();
        self->at_end_ = job->at_end;
        if (job->data.empty()) self->at_end_ = true;
        done(std::move(job->data));
      });
}

}  // namespace tetherd::daemon

#include "tetherd/stores/fd_byte_source.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "tetherd/stores/errno_map.hpp"

namespace tetherd::stores {

using namespace core;

FdByteSource::FdByteSource(Executor& executor, int fd, std::uint64_t offset, std::uint64_t length)
    : executor_(executor), fd_(fd), offset_(offset), length_(length) {}

FdByteSource::~FdByteSource() {
  if (fd_ >= 0) ::close(fd_);
}

Result<std::shared_ptr<FdByteSource>> FdByteSource::open(Executor& executor,
                                                         const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    auto error = errno_error(errno);
    error.key = path;
    return error;
  }
  struct stat info {};
  std::optional<StoreError> refused;
  if (::fstat(fd, &info) != 0) {
    refused = errno_error(errno);
  } else if (S_ISDIR(info.st_mode)) {
    refused = errno_error(EISDIR);
  } else if (!S_ISREG(info.st_mode)) {
    refused = StoreError::make(Errc::InvalidPath, "not a regular file");
  }
  if (refused) {
    ::close(fd);
    refused->key = path;
    return *refused;
  }
  return std::make_shared<FdByteSource>(executor, fd, 0, static_cast<std::uint64_t>(info.st_size));
}

void FdByteSource::read(std::size_t max_bytes, Callback<Bytes> done) {
  auto self = std::static_pointer_cast<FdByteSource>(shared_from_this());
  if (failed_ || cancelled_.load(std::memory_order_acquire) || position_ >= length_) {
    executor_.post([self, done = std::move(done)] {
      if (self->cancelled_.load(std::memory_order_acquire)) {
        return done(StoreError::make(Errc::Cancelled, "read cancelled"));
      }
      if (self->failed_) return done(self->failure_);
      done(Bytes{});
    });
    return;
  }
  std::uint64_t want = std::min<std::uint64_t>(max_bytes == 0 ? 1 : max_bytes, length_ - position_);
  auto chunk = std::make_shared<Bytes>(want);
  auto got = std::make_shared<long>(0);
  auto error_number = std::make_shared<int>(0);
  std::uint64_t at = offset_ + position_;
  int fd = fd_;
  executor_.run_blocking(
      [chunk, got, error_number, at, fd] {
        std::size_t filled = 0;
        while (filled < chunk->size()) {
          ssize_t n = ::pread(fd, chunk->data() + filled, chunk->size() - filled,
                              static_cast<off_t>(at + filled));
          if (n < 0 && errno == EINTR) continue;
          if (n < 0) {
            *error_number = errno;
            return;
          }
          if (n == 0) break;
          filled += static_cast<std::size_t>(n);
        }
        *got = static_cast<long>(filled);
      },
      [self, chunk, got, error_number, done = std::move(done)] {
        if (self->cancelled_.load(std::memory_order_acquire)) {
          return done(StoreError::make(Errc::Cancelled, "read cancelled"));
        }
        if (*error_number != 0) {
          self->failed_ = true;
          self->failure_ = errno_error(*error_number);
          return done(self->failure_);
        }
        chunk->resize(static_cast<std::size_t>(*got));
        if (chunk->empty()) {
          self->position_ = self->length_;  // the file shrank: end of data
        } else {
          self->position_ += chunk->size();
        }
        done(std::move(*chunk));
      });
}

}  // namespace tetherd::stores

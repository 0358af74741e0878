#include "hole_copy.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>
#include <optional>

#include "tetherd/stores/errno_map.hpp"

namespace tetherd::stores {

using namespace core;

namespace {

constexpr std::uint64_t kKernelStep = 64ull << 20;  // copy_file_range step (cancel checks)
constexpr std::size_t kCopyBuffer = 1 << 20;        // pread/pwrite buffer
constexpr std::size_t kDefaultBlock = 4096;         // where st_blksize says nothing useful

StoreError cancelled() {
  return StoreError::make(Errc::Cancelled, "operation cancelled");
}

// The read/write copy's buffer: one per thread, allocated on first use and never zeroed.
// (A vector resized per copy zeroed 1 MiB for every file: for small files copied across
// file systems, where copy_file_range answers EXDEV, that memset cost more than the copy,
// 3 s of CPU per 100,000 files.)
std::byte* copy_buffer() {
  thread_local const std::unique_ptr<std::byte[]> buffer(new std::byte[kCopyBuffer]);
  return buffer.get();
}

Result<void> pwrite_all(int fd, const std::byte* data, std::size_t size, std::uint64_t offset) {
  while (size > 0) {
    const ssize_t written = ::pwrite(fd, data, size, static_cast<off_t>(offset));
    if (written < 0 && errno == EINTR) continue;
    if (written < 0) return errno_error(errno);
    data += written;
    size -= static_cast<std::size_t>(written);
    offset += static_cast<std::uint64_t>(written);
  }
  return success();
}

bool all_zero(const std::byte* data, std::size_t size) {
  // The first byte is zero and every byte equals the next: memcmp runs vectorised, and a
  // block of data usually fails at its first byte.
  return size == 0 || (data[0] == std::byte{0} && std::memcmp(data, data + 1, size - 1) == 0);
}

// A run of data: bytes [begin, end) of the source.
struct Run {
  std::uint64_t begin = 0;
  std::uint64_t end = 0;
};

// The first run of data of `fd` in [from, end). nullopt: none, only holes up to `end`, or
// the file ends before (the caller asks its size). A file system that cannot say where
// its data is (lseek answers neither data nor ENXIO) has all of it taken as data.
std::optional<Run> next_data(int fd, std::uint64_t from, std::uint64_t end) {
  const off_t data = ::lseek(fd, static_cast<off_t>(from), SEEK_DATA);
  if (data < 0) {
    if (errno == ENXIO) return std::nullopt;
    return Run{from, end};
  }
  const auto begin = static_cast<std::uint64_t>(data);
  if (begin >= end) return std::nullopt;
  // Every file ends in a hole as SEEK_HOLE sees it (its end); an error leaves the rest data.
  const off_t hole = ::lseek(fd, data, SEEK_HOLE);
  const std::uint64_t stop = hole < 0 ? end : std::min(end, static_cast<std::uint64_t>(hole));
  return Run{begin, std::max(stop, begin + 1)};
}

// How the runs are copied; copy_file_range is given up where the first attempt is refused.
struct Method {
  bool copy_file_range = true;
  bool copied_in_kernel = false;  // copy_file_range copied something (so it works here)
};

// Copies bytes [begin, end) of `in` to `out` at [begin - shift, end - shift). Returns where
// it stopped: before `end` only when `in` ended there.
Result<std::uint64_t> copy_run(int in, int out, Run run, std::uint64_t shift, Method& method,
                               const OperationState* op) {
  std::uint64_t at = run.begin;
  while (at < run.end) {
    if (op && op->cancel_requested()) return cancelled();
    const std::uint64_t step = std::min<std::uint64_t>(run.end - at, kKernelStep);
    if (method.copy_file_range) {
      auto in_offset = static_cast<loff_t>(at);
      auto out_offset = static_cast<loff_t>(at - shift);
      const ssize_t n = ::copy_file_range(in, &in_offset, out, &out_offset, step, 0);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && !method.copied_in_kernel &&
          (errno == ENOSYS || errno == EXDEV || errno == EOPNOTSUPP || errno == EINVAL)) {
        method.copy_file_range = false;  // not here: read and write instead
        continue;
      }
      if (n < 0) return errno_error(errno);
      if (n == 0) break;  // the source shrank
      method.copied_in_kernel = true;
      at += static_cast<std::uint64_t>(n);
      continue;
    }
    std::byte* buffer = copy_buffer();
    const auto want = static_cast<std::size_t>(std::min<std::uint64_t>(step, kCopyBuffer));
    const ssize_t n = ::pread(in, buffer, want, static_cast<off_t>(at));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return errno_error(errno);
    if (n == 0) break;
    if (auto written = pwrite_all(out, buffer, static_cast<std::size_t>(n), at - shift); !written) {
      return written.error();
    }
    at += static_cast<std::uint64_t>(n);
  }
  return at;
}

}  // namespace

bool may_have_holes(const struct stat& info) noexcept {
  return static_cast<std::uint64_t>(info.st_blocks) * 512 <
         static_cast<std::uint64_t>(info.st_size);
}

Result<std::uint64_t> copy_data_keeping_holes(int in, std::uint64_t offset, std::uint64_t length,
                                              int out, bool walk_holes, bool allow_copy_file_range,
                                              const OperationState* op) {
  Method method{allow_copy_file_range};
  const std::uint64_t end = offset + length;
  std::uint64_t at = offset;       // the range is copied, data and holes, up to here
  std::uint64_t written = offset;  // `out` holds data up to here (less `offset`)
  while (at < end) {
    if (op && op->cancel_requested()) return cancelled();
    const std::optional<Run> run = walk_holes ? next_data(in, at, end) : Run{at, end};
    if (!run) {
      // Holes up to `end`, or the file ends first (it shrank): its size says which.
      struct stat info {};
      if (::fstat(in, &info) != 0) return errno_error(errno);
      at = std::clamp<std::uint64_t>(static_cast<std::uint64_t>(info.st_size), at, end);
      break;
    }
    auto stopped = copy_run(in, out, *run, offset, method, op);
    if (!stopped) return stopped.error();
    if (*stopped > run->begin) written = *stopped;
    at = *stopped;
    if (at < run->end) break;  // the source ended early
  }
  if (at > written) {
    // The range ends in a hole: give `out` its length without writing it.
    if (::ftruncate(out, static_cast<off_t>(at - offset)) != 0) return errno_error(errno);
  }
  return at - offset;
}

Result<void> HoleWriter::write(int fd, const std::byte* data, std::size_t size) {
  if (block_ == 0) {
    struct stat info {};
    const bool known = ::fstat(fd, &info) == 0 && info.st_blksize >= 512;
    block_ = known ? std::min<std::size_t>(static_cast<std::size_t>(info.st_blksize), kCopyBuffer)
                   : kDefaultBlock;
  }
  // Bytes [pending, at) of `data` are data not yet written; whole zero blocks are skipped.
  std::size_t pending = 0;
  std::size_t at = 0;
  while (at < size) {
    const std::uint64_t position = length_ + at;
    const std::size_t piece =
        static_cast<std::size_t>(std::min<std::uint64_t>(block_ - position % block_, size - at));
    if (piece == block_ && all_zero(data + at, piece)) {
      if (at > pending) {
        if (auto r = pwrite_all(fd, data + pending, at - pending, length_ + pending); !r) return r;
        data_end_ = length_ + at;
      }
      pending = at + piece;
    }
    at += piece;
  }
  if (size > pending) {
    if (auto r = pwrite_all(fd, data + pending, size - pending, length_ + pending); !r) return r;
    data_end_ = length_ + size;
  }
  length_ += size;
  return success();
}

Result<void> HoleWriter::finish(int fd) {
  if (length_ <= data_end_) return success();
  if (::ftruncate(fd, static_cast<off_t>(length_)) != 0) return errno_error(errno);
  data_end_ = length_;
  return success();
}

}  // namespace tetherd::stores

#include "fd_line_sink.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <stdexcept>
#include <system_error>
#include <utility>

namespace tetherd::daemon {
namespace {

/// Opens (creating) the log file for appending; throws with the reason.
int open_log_file(const std::string& file) {
  const std::filesystem::path parent = std::filesystem::path(file).parent_path();
  if (!parent.empty()) {
    std::error_code ignored;  // open() below reports what matters
    std::filesystem::create_directories(parent, ignored);
  }
  // O_NOFOLLOW: a symbolic link planted at the log's path must not get the log appended
  // to whatever it points at. 0640: the log names files, which not every user may see.
  const int fd = ::open(file.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0640);
  if (fd < 0) {
    if (errno == ELOOP) throw std::runtime_error("it is a symbolic link, which is not followed");
    throw std::runtime_error(std::strerror(errno));
  }
  return fd;
}

}  // namespace

std::shared_ptr<FdLineSink> FdLineSink::open_file(const std::string& file) {
  return std::shared_ptr<FdLineSink>(new FdLineSink(open_log_file(file), file));
}

FdLineSink::~FdLineSink() {
  write_pending();
  if (owned_) ::close(fd_);
}

void FdLineSink::set_batching(bool on) {
  batching_ = on;
  if (!on) write_pending();
}

std::optional<std::string> FdLineSink::reopen() {
  if (!owned_) return std::nullopt;
  try {
    const int fresh = open_log_file(file_);
    ::close(fd_);
    fd_ = fresh;
  } catch (const std::exception& error) {
    return std::string(error.what());
  }
  return std::nullopt;
}

std::uint64_t FdLineSink::take_dropped() {
  if (background_) return background_->take_dropped();
  return std::exchange(dropped_, 0);
}

bool FdLineSink::take_recreated() {
  return std::exchange(recreated_, false);
}

void FdLineSink::sink_it_(const spdlog::details::log_msg& message) {
  spdlog::memory_buf_t formatted;
  formatter_->format(message, formatted);
  pending_.append(formatted.data(), formatted.size());
  if (!batching_ || pending_.size() >= kMaxPending) write_pending();
}

void FdLineSink::recreate_if_removed() {
  const auto now = std::chrono::steady_clock::now();
  if (now < next_removed_check_) return;
  next_removed_check_ = now + kRemovedCheckInterval;
  struct stat info {};
  if (::fstat(fd_, &info) != 0 || info.st_nlink != 0) return;
  // Removed (by hand, or with its directory): what is written would be lost with it.
  if (!reopen()) recreated_ = true;
}

void FdLineSink::drop_unwritten(std::size_t written) {
  const std::string_view done(pending_.data(), written);
  const std::size_t last_newline = done.rfind('\n');
  const std::size_t whole = last_newline == std::string_view::npos ? 0 : last_newline + 1;
  if (whole < written) {
    // A line was cut: remove its written part, so that the next line does not continue
    // it. Under O_APPEND the offset is the end of what this sink wrote; the file is cut
    // only while it still ends there (nobody truncated or appended to it meanwhile).
    const off_t end = ::lseek(fd_, 0, SEEK_CUR);
    struct stat info {};
    if (end >= 0 && ::fstat(fd_, &info) == 0 && S_ISREG(info.st_mode) && info.st_size == end) {
      const off_t good = end - static_cast<off_t>(written - whole);
      if (::ftruncate(fd_, good) != 0) {
        std::fprintf(stderr, "tetherd: cannot cut a partly written line off the event log %s: %s\n",
                     file_.c_str(), std::strerror(errno));
      }
    }
  }
  dropping_ += static_cast<std::uint64_t>(
      std::count(pending_.begin() + static_cast<std::ptrdiff_t>(whole), pending_.end(), '\n'));
  pending_.clear();
}

void FdLineSink::write_pending() {
  if (pending_.empty()) return;
  if (background_) {
    background_->submit(pending_);
    pending_.clear();
    return;
  }
  if (owned_) recreate_if_removed();
  std::size_t written = 0;
  while (written < pending_.size()) {
    const ssize_t count = ::write(fd_, pending_.data() + written, pending_.size() - written);
    if (count > 0) {
      written += static_cast<std::size_t>(count);
    } else if (count < 0 && errno == EINTR) {
      continue;
    } else if (count < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      pollfd ready{fd_, POLLOUT, 0};  // a descriptor set non-blocking: wait until it drains
      if (::poll(&ready, 1, -1) < 0 && errno != EINTR) break;
    } else {
      const int error_number = count < 0 ? errno : ENOSPC;
      if (!failing_ && !file_.empty()) {
        std::fprintf(stderr,
                     "tetherd: cannot write the event log %s: %s; its lines are lost "
                     "until writing works again\n",
                     file_.c_str(), std::strerror(error_number));
      }
      failing_ = true;
      drop_unwritten(written);
      return;
    }
  }
  if (failing_ && !file_.empty()) {
    std::fprintf(stderr, "tetherd: the event log %s is written again (%llu lines were lost)\n",
                 file_.c_str(), static_cast<unsigned long long>(dropping_));
  }
  if (failing_) dropped_ += std::exchange(dropping_, 0);
  failing_ = false;
  pending_.clear();
}

}  // namespace tetherd::daemon

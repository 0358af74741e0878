#include "fd_line_sink.hpp"

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <stdexcept>
#include <system_error>

namespace tetherd::daemon {

std::shared_ptr<FdLineSink> FdLineSink::open_file(const std::string& file) {
  const std::filesystem::path parent = std::filesystem::path(file).parent_path();
  if (!parent.empty()) {
    std::error_code ignored;  // open() below reports what matters
    std::filesystem::create_directories(parent, ignored);
  }
  const int fd = ::open(file.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0666);
  if (fd < 0) throw std::runtime_error(std::strerror(errno));
  return std::shared_ptr<FdLineSink>(new FdLineSink(fd, file));
}

FdLineSink::~FdLineSink() {
  write_pending();
  if (owned_) ::close(fd_);
}

void FdLineSink::set_batching(bool on) {
  batching_ = on;
  if (!on) write_pending();
}

void FdLineSink::sink_it_(const spdlog::details::log_msg& message) {
  spdlog::memory_buf_t formatted;
  formatter_->format(message, formatted);
  pending_.append(formatted.data(), formatted.size());
  if (!batching_ || pending_.size() >= kMaxPending) write_pending();
}

void FdLineSink::write_pending() {
  if (pending_.empty()) return;
  std::size_t written = 0;
  while (written < pending_.size()) {
    const ssize_t count = ::write(fd_, pending_.data() + written, pending_.size() - written);
    if (count > 0) {
      written += static_cast<std::size_t>(count);
    } else if (count < 0 && errno == EINTR) {
      continue;
    } else if (count < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      pollfd ready{fd_, POLLOUT, 0};  // a non-blocking stderr: wait until it drains
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
      pending_.clear();
      return;
    }
  }
  if (failing_ && !file_.empty()) {
    std::fprintf(stderr, "tetherd: the event log %s is written again\n", file_.c_str());
  }
  failing_ = false;
  pending_.clear();
}

}  // namespace tetherd::daemon

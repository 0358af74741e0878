#include "background_fd_writer.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <mutex>
#include <string>
#include <utility>

namespace tetherd::daemon {
namespace {

std::uint64_t count_lines(std::string_view text) {
  return static_cast<std::uint64_t>(std::count(text.begin(), text.end(), '\n'));
}

/// How the descriptor is written without blocking.
enum class Kind {
  own_nonblocking,  ///< a pipe, FIFO or terminal, through a non-blocking descriptor of our own
  socket,           ///< send(MSG_DONTWAIT)
  regular,          ///< a file: write(2) does not wait for a reader
  thread_only,      ///< nothing safe: every line goes through the thread
};

}  // namespace

struct BackgroundFdWriter::Shared {
  int fd = -1;        // the descriptor given
  int write_fd = -1;  // what is written: fd, or a non-blocking one of our own
  Kind kind = Kind::thread_only;
  std::size_t max_queued = kMaxQueued;
  std::mutex mutex;
  std::condition_variable wake;     // something queued, or stop
  std::condition_variable drained;  // the queue emptied and no write is under way
  std::string queue;
  bool writing = false;
  bool stop = false;
  std::uint64_t dropping = 0;  // lines lost in the failure under way
  std::uint64_t dropped = 0;   // lines lost in a failure that has ended, not yet taken

  ~Shared() {
    if (write_fd >= 0 && write_fd != fd) ::close(write_fd);
  }

  /// Writes what the descriptor takes without waiting: the bytes written, or -1 when it
  /// fails for good (a closed pipe).
  ssize_t write_now(std::string_view text) const {
    std::size_t written = 0;
    while (written < text.size()) {
      const char* data = text.data() + written;
      const std::size_t size = text.size() - written;
      const ssize_t count = kind == Kind::socket
                                ? ::send(write_fd, data, size, MSG_DONTWAIT | MSG_NOSIGNAL)
                                : ::write(write_fd, data, size);
      if (count > 0) {
        written += static_cast<std::size_t>(count);
      } else if (count < 0 && errno == EINTR) {
        continue;
      } else if (count < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        break;
      } else {
        return -1;
      }
    }
    return static_cast<ssize_t>(written);
  }

  /// Writes all of `text`, waiting as long as it takes (the thread). False on failure.
  bool write_all(std::string_view text) const {
    std::size_t written = 0;
    while (written < text.size()) {
      const ssize_t count = write_now(text.substr(written));
      if (count < 0) return false;
      written += static_cast<std::size_t>(count);
      if (written == text.size()) break;
      pollfd ready{write_fd, POLLOUT, 0};
      if (::poll(&ready, 1, -1) < 0 && errno != EINTR) return false;
      if (ready.revents & (POLLERR | POLLNVAL)) return false;
    }
    return true;
  }

  /// A write that succeeded ends a failure: its count is reported.
  void succeeded() {
    if (dropping > 0) dropped += std::exchange(dropping, 0);
  }
};

BackgroundFdWriter::BackgroundFdWriter(int fd, std::size_t max_queued)
    : shared_(std::make_shared<Shared>()) {
  Shared& shared = *shared_;
  shared.fd = fd;
  shared.write_fd = fd;
  shared.max_queued = max_queued;
  struct stat info {};
  if (::fstat(fd, &info) == 0) {
    if (S_ISREG(info.st_mode)) {
      shared.kind = Kind::regular;
    } else if (S_ISSOCK(info.st_mode)) {
      shared.kind = Kind::socket;
    } else if (S_ISFIFO(info.st_mode) || S_ISCHR(info.st_mode)) {
      // A description of our own: O_NONBLOCK on the shared one would change it for every
      // process that writes there too (the shell, the service manager).
      const std::string self = "/proc/self/fd/" + std::to_string(fd);
      const int own = ::open(self.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
      if (own >= 0) {
        shared.write_fd = own;
        shared.kind = Kind::own_nonblocking;
      }
    }
  }
  thread_ = std::thread(&BackgroundFdWriter::run, shared_);
}

BackgroundFdWriter::~BackgroundFdWriter() {
  {
    std::lock_guard lock(shared_->mutex);
    shared_->stop = true;
  }
  shared_->wake.notify_one();
  if (wait_drained(kExitPatience)) {
    thread_.join();
  } else {
    thread_.detach();  // it holds the shared state; the process's end ends it
  }
}

void BackgroundFdWriter::submit(std::string_view lines) {
  if (lines.empty()) return;
  std::unique_lock lock(shared_->mutex);
  Shared& shared = *shared_;
  if (shared.queue.empty() && !shared.writing && shared.kind != Kind::thread_only) {
    // Nothing waits: what the descriptor takes now goes now, in order. (The thread writes
    // only what is queued, so nobody else writes meanwhile.)
    const ssize_t written = shared.write_now(lines);
    if (written < 0) {
      shared.dropping += count_lines(lines);
      return;
    }
    lines.remove_prefix(static_cast<std::size_t>(written));
    if (lines.empty()) {
      shared.succeeded();
      return;
    }
  } else if (!shared.queue.empty() && shared.queue.size() + lines.size() > shared.max_queued) {
    shared.dropping += count_lines(lines);
    return;
  }
  shared.queue.append(lines);
  lock.unlock();
  shared.wake.notify_one();
}

std::uint64_t BackgroundFdWriter::take_dropped() {
  std::lock_guard lock(shared_->mutex);
  return std::exchange(shared_->dropped, 0);
}

bool BackgroundFdWriter::wait_drained(std::chrono::milliseconds patience) {
  std::unique_lock lock(shared_->mutex);
  return shared_->drained.wait_for(lock, patience,
                                   [this] { return shared_->queue.empty() && !shared_->writing; });
}

void BackgroundFdWriter::run(std::shared_ptr<Shared> shared) {
  std::unique_lock lock(shared->mutex);
  while (true) {
    shared->wake.wait(lock, [&] { return shared->stop || !shared->queue.empty(); });
    if (shared->queue.empty()) break;  // stopped, and nothing left
    std::string batch;
    batch.swap(shared->queue);
    shared->writing = true;
    lock.unlock();
    const bool written = shared->write_all(batch);
    lock.lock();
    shared->writing = false;
    if (!written) {
      shared->dropping += count_lines(batch);
    } else {
      shared->succeeded();
    }
    if (shared->queue.empty()) shared->drained.notify_all();
  }
  shared->drained.notify_all();
}

}  // namespace tetherd::daemon

#pragma once

// A stand-in for the service manager's end of $NOTIFY_SOCKET (and of journald's socket):
// a bound AF_UNIX datagram socket that collects what the daemon sends. Test helper.

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <optional>
#include <stdexcept>
#include <string>

namespace tetherd::test {

class DatagramSink {
 public:
  /// Binds a datagram socket at `path`.
  explicit DatagramSink(std::string path) : path_(std::move(path)) {
    fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0) throw std::runtime_error("socket: " + std::string(std::strerror(errno)));
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    if (path_.size() >= sizeof address.sun_path) throw std::runtime_error("path too long");
    std::memcpy(address.sun_path, path_.c_str(), path_.size() + 1);
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
      throw std::runtime_error("bind " + path_ + ": " + std::strerror(errno));
    }
  }
  ~DatagramSink() {
    ::close(fd_);
    ::unlink(path_.c_str());
  }
  DatagramSink(const DatagramSink&) = delete;
  DatagramSink& operator=(const DatagramSink&) = delete;

  const std::string& path() const noexcept { return path_; }
  int fd() const noexcept { return fd_; }

  /// The next datagram if one arrives within `wait_ms` (0: only one already queued).
  std::optional<std::string> receive(int wait_ms = 0) {
    pollfd ready{fd_, POLLIN, 0};
    if (::poll(&ready, 1, wait_ms) <= 0) return std::nullopt;
    std::string buffer(256 * 1024, '\0');
    const ssize_t got = ::recv(fd_, buffer.data(), buffer.size(), MSG_DONTWAIT);
    if (got < 0) return std::nullopt;
    buffer.resize(static_cast<std::size_t>(got));
    return buffer;
  }

 private:
  std::string path_;
  int fd_ = -1;
};

}  // namespace tetherd::test

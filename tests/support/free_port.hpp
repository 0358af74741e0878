#pragma once

// free_port(): a TCP port of 127.0.0.1 that nothing listens on at the moment of the call,
// for a test server started next. The kernel picks it (bind to port 0) and the socket is
// closed before returning, so the port is only likely free: another process may take it
// before the server binds it, and a server that then fails to start reports that.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <stdexcept>

namespace tetherd::test_support {

/// A port number (host order). Throws std::runtime_error when no port can be had.
inline int free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::runtime_error("no free port on 127.0.0.1: socket() failed");
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    ::close(fd);
    throw std::runtime_error("no free port on 127.0.0.1");
  }
  ::close(fd);
  return ntohs(address.sin_port);
}

}  // namespace tetherd::test_support

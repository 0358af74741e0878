#pragma once

// ScriptedHttpServer: a tiny HTTP/1.1 server on 127.0.0.1 for tests that need answers a
// real S3 server will not give on demand (throttling). Each request is handed to the
// script, which picks the answer. One connection at a time (keep-alive honoured), which is
// all a store sending one request at a time needs. It runs on a thread of its own, never
// on the loop under test; the requests it saw can be read at any time.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <functional>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace tetherd::test {

struct ScriptedRequest {
  std::string method;
  std::string target;  ///< path and query, as sent
  std::string body;
};

struct ScriptedAnswer {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
};

class ScriptedHttpServer {
 public:
  using Script = std::function<ScriptedAnswer(const ScriptedRequest&, std::size_t index)>;

  explicit ScriptedHttpServer(Script script) : script_(std::move(script)) {
    listener_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof address;
    if (listener_ < 0 ||
        ::bind(listener_, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
        ::listen(listener_, 8) != 0 ||
        ::getsockname(listener_, reinterpret_cast<sockaddr*>(&address), &length) != 0)
      throw std::runtime_error("ScriptedHttpServer: cannot listen on 127.0.0.1");
    port_ = ntohs(address.sin_port);
    thread_ = std::thread([this] { serve(); });
  }
  ~ScriptedHttpServer() {
    stopping_ = true;
    ::shutdown(listener_, SHUT_RDWR);  // wakes accept()
    {
      std::lock_guard lock(mutex_);
      if (connection_ >= 0) ::shutdown(connection_, SHUT_RDWR);  // wakes recv()
    }
    thread_.join();
    ::close(listener_);
  }
  ScriptedHttpServer(const ScriptedHttpServer&) = delete;
  ScriptedHttpServer& operator=(const ScriptedHttpServer&) = delete;

  std::string endpoint() const { return "http://127.0.0.1:" + std::to_string(port_); }
  std::vector<ScriptedRequest> requests() const {
    std::lock_guard lock(mutex_);
    return requests_;
  }

 private:
  void serve() {
    while (!stopping_) {
      const int fd = ::accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) return;
      {
        std::lock_guard lock(mutex_);
        connection_ = fd;
      }
      if (stopping_) ::shutdown(fd, SHUT_RDWR);
      std::string pending;
      while (handle_one(fd, pending)) {
      }
      {
        std::lock_guard lock(mutex_);
        connection_ = -1;
      }
      ::close(fd);
    }
  }

  /// Reads one request from `fd` and answers it; false once the connection is done.
  bool handle_one(int fd, std::string& pending) {
    std::size_t end;
    while ((end = pending.find("\r\n\r\n")) == std::string::npos)
      if (!receive(fd, pending)) return false;
    ScriptedRequest request;
    const std::string head = pending.substr(0, end);
    pending.erase(0, end + 4);
    const auto first_space = head.find(' ');
    const auto second_space = head.find(' ', first_space + 1);
    request.method = head.substr(0, first_space);
    request.target = head.substr(first_space + 1, second_space - first_space - 1);
    std::size_t content_length = 0;
    for (std::size_t at = head.find("\r\n"); at != std::string::npos;) {
      const auto next = head.find("\r\n", at + 2);
      const std::string line =
          head.substr(at + 2, next == std::string::npos ? std::string::npos : next - at - 2);
      const auto colon = line.find(':');
      std::string name = line.substr(0, colon);
      for (auto& c : name)
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      if (name == "content-length")
        content_length = std::strtoull(line.c_str() + colon + 1, nullptr, 10);
      at = next;
    }
    while (pending.size() < content_length)
      if (!receive(fd, pending)) return false;
    request.body = pending.substr(0, content_length);
    pending.erase(0, content_length);
    std::size_t index;
    {
      std::lock_guard lock(mutex_);
      index = requests_.size();
      requests_.push_back(request);
    }
    const ScriptedAnswer answer = script_(request, index);
    std::string out = "HTTP/1.1 " + std::to_string(answer.status) + " Scripted\r\n";
    for (const auto& [name, value] : answer.headers)
      out += name + ": " + value + "\r\n";
    // A HEAD answer announces a length but carries no body.
    out += "Content-Length: " + std::to_string(answer.body.size()) + "\r\n\r\n";
    if (request.method != "HEAD") out += answer.body;
    for (std::size_t sent = 0; sent < out.size();) {
      const auto n = ::send(fd, out.data() + sent, out.size() - sent, MSG_NOSIGNAL);
      if (n <= 0) return false;
      sent += static_cast<std::size_t>(n);
    }
    return true;
  }

  static bool receive(int fd, std::string& into) {
    char buffer[4096];
    const auto n = ::recv(fd, buffer, sizeof buffer, 0);
    if (n <= 0) return false;
    into.append(buffer, static_cast<std::size_t>(n));
    return true;
  }

  Script script_;
  int listener_ = -1;
  int port_ = 0;
  std::atomic<bool> stopping_{false};
  mutable std::mutex mutex_;
  int connection_ = -1;
  std::vector<ScriptedRequest> requests_;
  std::thread thread_;
};

}  // namespace tetherd::test

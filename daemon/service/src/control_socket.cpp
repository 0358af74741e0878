#include "tetherd/service/control_socket.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <nlohmann/json.hpp>
#include <vector>

#include "control_socket_place.hpp"

namespace tetherd::daemon {

namespace {

// The system-wide socket, for a daemon run as root without a session (the service).
constexpr const char* kSystemControlDirectory = "/run/tetherd";
constexpr const char* kSystemControlSocket = "/run/tetherd/control.sock";
constexpr int kBacklog = 16;

core::StoreError control_error(core::Errc code, std::string detail) {
  core::StoreError error = core::StoreError::make(code, std::move(detail));
  error.store = "control socket";
  return error;
}

}  // namespace

std::string default_control_socket(std::string_view explicit_path, std::string_view configured) {
  if (!explicit_path.empty()) return std::string(explicit_path);
  if (!configured.empty()) return std::string(configured);
  if (const char* runtime = std::getenv("XDG_RUNTIME_DIR"); runtime && *runtime) {
    return std::string(runtime) + "/tetherd.sock";
  }
  return kSystemControlSocket;
}

std::string client_control_socket(std::string_view explicit_path) {
  if (!explicit_path.empty()) return std::string(explicit_path);
  std::vector<std::string> candidates;
  if (const char* runtime = std::getenv("XDG_RUNTIME_DIR"); runtime && *runtime) {
    candidates.push_back(std::string(runtime) + "/tetherd.sock");
  }
  candidates.push_back(kSystemControlSocket);
  for (const auto& candidate : candidates) {
    struct stat info {};
    if (::stat(candidate.c_str(), &info) == 0 && S_ISSOCK(info.st_mode)) return candidate;
  }
  return candidates.front();
}

struct ControlServer::Connection {
  ControlServer* server = nullptr;
  uv_pipe_t pipe{};
  std::string buffer;
  std::shared_ptr<bool> open = std::make_shared<bool>(true);
  bool closing = false;
};

ControlServer::ControlServer(uv_loop_t* loop, Handler handler, Report report)
    : loop_(loop),
      handler_(std::move(handler)),
      report_(std::move(report)),
      alive_(std::make_shared<bool>(true)) {}

ControlServer::~ControlServer() {
  close();
  *alive_ = false;
}

core::Result<void> ControlServer::listen(const std::string& path) {
  if (path.size() >= sizeof(sockaddr_un{}.sun_path)) {
    return control_error(core::Errc::InvalidPath, "socket path too long: " + path);
  }
  if (path == kSystemControlSocket) {
    // systemd makes this directory for the service (RuntimeDirectory=); a daemon started
    // by hand (root, no XDG_RUNTIME_DIR) makes it itself. Failure: placing reports it.
    ::mkdir(kSystemControlDirectory, 0755);
  }
  auto placed = place_listening_socket(path, kBacklog);
  if (!placed) return placed.error();
  pipe_ = new uv_pipe_t{};
  uv_pipe_init(loop_, pipe_, 0);
  pipe_->data = this;
  path_ = path;  // from here on close() removes it
  int status = uv_pipe_open(pipe_, *placed);
  if (status != 0) ::close(*placed);
  if (status == 0) {
    status =
        uv_listen(reinterpret_cast<uv_stream_t*>(pipe_), kBacklog, &ControlServer::on_connection);
  }
  if (status != 0) {
    close();
    core::StoreError error = control_error(core::Errc::Unavailable,
                                           "cannot listen on " + path + ": " + uv_strerror(status));
    error.native_code = -status;
    error.native_name = uv_err_name(status);
    return error;
  }
  return core::success();
}

void ControlServer::close() {
  for (Connection* connection : std::vector<Connection*>(connections_))
    drop(connection);
  connections_.clear();
  if (pipe_) {
    uv_close(reinterpret_cast<uv_handle_t*>(pipe_),
             [](uv_handle_t* handle) { delete reinterpret_cast<uv_pipe_t*>(handle); });
    pipe_ = nullptr;
    if (!path_.empty()) ::unlink(path_.c_str());
    path_.clear();
  }
}

void ControlServer::drop(Connection* connection) {
  if (connection->closing) return;
  connection->closing = true;
  *connection->open = false;
  connections_.erase(std::remove(connections_.begin(), connections_.end(), connection),
                     connections_.end());
  uv_close(reinterpret_cast<uv_handle_t*>(&connection->pipe),
           [](uv_handle_t* handle) { delete static_cast<Connection*>(handle->data); });
}

void ControlServer::refuse(Connection* connection, std::string_view why, std::size_t bytes) {
  if (report_) {
    report_(Event(EventLevel::warn, "control")
                .result("dropped")
                .message(why)
                .number("bytes", static_cast<std::int64_t>(bytes)));
  }
  drop(connection);
}

void ControlServer::on_connection(uv_stream_t* server_stream, int status) noexcept {
  auto* self = static_cast<ControlServer*>(server_stream->data);
  if (status < 0) return;
  auto* connection = new Connection();
  connection->server = self;
  uv_pipe_init(self->loop_, &connection->pipe, 0);
  connection->pipe.data = connection;
  if (uv_accept(server_stream, reinterpret_cast<uv_stream_t*>(&connection->pipe)) != 0) {
    uv_close(reinterpret_cast<uv_handle_t*>(&connection->pipe),
             [](uv_handle_t* handle) { delete static_cast<Connection*>(handle->data); });
    return;
  }
  self->connections_.push_back(connection);
  uv_read_start(
      reinterpret_cast<uv_stream_t*>(&connection->pipe),
      [](uv_handle_t*, size_t suggested, uv_buf_t* buffer) {
        buffer->base = new char[suggested];
        buffer->len = suggested;
      },
      [](uv_stream_t* stream, ssize_t nread, const uv_buf_t* buffer) {
        auto* connection = static_cast<Connection*>(stream->data);
        ControlServer* server = connection->server;
        if (nread > 0) connection->buffer.append(buffer->base, static_cast<std::size_t>(nread));
        delete[] buffer->base;
        if (nread < 0) {
          server->drop(connection);
          return;
        }
        std::size_t newline;
        while ((newline = connection->buffer.find('\n')) != std::string::npos) {
          const std::string line = connection->buffer.substr(0, newline);
          connection->buffer.erase(0, newline + 1);
          std::string command;
          try {
            const auto request = nlohmann::json::parse(line);
            command = request.at("command").get<std::string>();
          } catch (const std::exception&) {
            command.clear();
          }
          auto open = connection->open;
          auto alive = server->alive_;
          auto reply = [connection, open, alive](std::string answer) {
            if (!*alive || !*open) return;
            auto* stream = reinterpret_cast<uv_stream_t*>(&connection->pipe);
            // A client that does not read its replies would have them pile up here.
            if (const std::size_t waiting = uv_stream_get_write_queue_size(stream);
                waiting >= kMaxPendingOutput) {
              connection->server->refuse(connection, "a control client does not read its replies",
                                         waiting);
              return;
            }
            answer.push_back('\n');
            auto* request = new uv_write_t{};
            auto* text = new std::string(std::move(answer));
            request->data = text;
            uv_buf_t out = uv_buf_init(text->data(), static_cast<unsigned>(text->size()));
            const int status = uv_write(request, stream, &out, 1, [](uv_write_t* done, int) {
              delete static_cast<std::string*>(done->data);
              delete done;
            });
            if (status != 0) {
              delete text;
              delete request;
            }
          };
          if (command.empty()) {
            reply(R"({"ok":false,"error":"bad request: expected {\"command\":\"...\"}"})");
          } else {
            server->handler_(command, std::move(reply));
          }
          if (connection->closing) return;  // dropped by a reply: the rest goes unanswered
        }
        if (connection->buffer.size() > kMaxRequestLine) {
          server->refuse(connection, "a control client sent a request line that is too long",
                         connection->buffer.size());
        }
      });
}

core::Result<std::string> control_request(const std::string& path, std::string_view request,
                                          std::chrono::milliseconds timeout) {
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return control_error(core::Errc::Unavailable, std::strerror(errno));
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  if (path.size() >= sizeof address.sun_path) {
    ::close(fd);
    return control_error(core::Errc::InvalidPath, "socket path too long: " + path);
  }
  std::strncpy(address.sun_path, path.c_str(), sizeof address.sun_path - 1);
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0) {
    const int error_number = errno;
    ::close(fd);
    return control_error(
        error_number == EACCES ? core::Errc::PermissionDenied : core::Errc::Unavailable,
        "no tetherd answers on " + path + " (" + std::strerror(error_number) +
            "); is the daemon running, and is this its --socket?");
  }
  std::string line(request);
  line.push_back('\n');
  std::size_t sent = 0;
  while (sent < line.size()) {
    const ssize_t n = ::send(fd, line.data() + sent, line.size() - sent, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      const int error_number = errno;
      ::close(fd);
      return control_error(core::Errc::Unavailable, std::strerror(error_number));
    }
    sent += static_cast<std::size_t>(n);
  }
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::string answer;
  char buffer[4096];
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      ::close(fd);
      return control_error(core::Errc::Timeout, "no answer within the timeout");
    }
    pollfd waiting{fd, POLLIN, 0};
    const int ready =
        ::poll(&waiting, 1, static_cast<int>(std::min<long long>(left.count(), 1000)));
    if (ready < 0 && errno != EINTR) break;
    if (ready <= 0) continue;
    const ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    answer.append(buffer, static_cast<std::size_t>(n));
    if (const auto newline = answer.find('\n'); newline != std::string::npos) {
      answer.resize(newline);
      ::close(fd);
      return answer;
    }
  }
  ::close(fd);
  return control_error(core::Errc::Unavailable, "the daemon closed the connection");
}

}  // namespace tetherd::daemon

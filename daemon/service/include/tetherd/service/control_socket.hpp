#pragma once

// The control socket: a unix stream socket serving `tetherd status` and `tetherd settle`.
// Protocol: the client sends one JSON object per line, {"command":"status"} or
// {"command":"settle"}; the server answers each with one JSON object per line. A settle
// answer comes when the barrier is reached; a client that gives up just closes.
//
// ControlServer runs on the daemon's loop. The client side is plain blocking code.
//
// A client cannot make the daemon hold unbounded memory: a request line longer than
// kMaxRequestLine, or replies left unread beyond kMaxPendingOutput, drop the connection
// (with a warning event).

#include <uv.h>

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tetherd/core/result.hpp"
#include "tetherd/service/event_log.hpp"

namespace tetherd::daemon {

/// The socket path to use: `explicit_path`, else `configured`, else
/// $XDG_RUNTIME_DIR/tetherd.sock, else /run/tetherd/control.sock.
std::string default_control_socket(std::string_view explicit_path, std::string_view configured);

/// The socket a client (status, settle) talks to: `explicit_path`, else the first socket
/// that exists of $XDG_RUNTIME_DIR/tetherd.sock (a user's daemon) and
/// /run/tetherd/control.sock (the system service, which root in a login session would
/// otherwise miss), else the first of them (for the error message).
std::string client_control_socket(std::string_view explicit_path);

class ControlServer {
 public:
  /// Answers one request: `reply` must be called once (it may be called later, after the
  /// client went away: the answer is then dropped).
  using Handler =
      std::function<void(std::string_view command, std::function<void(std::string)> reply)>;

  /// Receives the warning events about dropped clients.
  using Report = std::function<void(const Event&)>;

  /// No request is this long (the longest is some 30 bytes).
  static constexpr std::size_t kMaxRequestLine = 64 * 1024;
  /// Replies a client has not read yet, beyond which it is dropped. A reply is queued
  /// while less than this waits, so one large status answer always goes out.
  static constexpr std::size_t kMaxPendingOutput = 4 * 1024 * 1024;

  ControlServer(uv_loop_t* loop, Handler handler, Report report = nullptr);
  ~ControlServer();
  ControlServer(const ControlServer&) = delete;
  ControlServer& operator=(const ControlServer&) = delete;

  /// Binds and listens at `path`, mode 0660 from the start. Only a stale socket (one that
  /// refuses connections) is replaced; a live one, or anything that is not a socket, is an
  /// error naming the path (control_socket_place.hpp).
  core::Result<void> listen(const std::string& path);
  /// Stops listening, closes every connection, removes the socket file.
  void close();

 private:
  struct Connection;
  static void on_connection(uv_stream_t* server, int status) noexcept;
  void drop(Connection* connection);
  /// Drops `connection` with a warning event saying why.
  void refuse(Connection* connection, std::string_view why, std::size_t bytes);

  uv_loop_t* loop_;
  Handler handler_;
  Report report_;
  uv_pipe_t* pipe_ = nullptr;
  std::string path_;
  std::shared_ptr<bool> alive_;
  std::vector<Connection*> connections_;
};

/// Client side: sends `request` (one JSON line) to the daemon at `path` and returns its
/// one-line answer. Unavailable when nothing listens there; Timeout after `timeout`.
core::Result<std::string> control_request(const std::string& path, std::string_view request,
                                          std::chrono::milliseconds timeout);

}  // namespace tetherd::daemon

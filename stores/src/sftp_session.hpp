#pragma once

// One SSH connection carrying one SFTP channel, driven without blocking on the loop
// thread: the socket sits on a uv_poll_t, and every libssh2 call that answers
// LIBSSH2_ERROR_EAGAIN is retried when the socket is ready in the direction
// libssh2_session_block_directions() names (reading is always watched: a full channel
// window is reopened by the peer's data). A uv_timer_t fails the session with Timeout when
// requests are outstanding and nothing arrives for `timeout`.
//
// Requests carry ids; any number may be outstanding, replies are matched by id and their
// callbacks run on the loop thread, never inline from request(). When the connection
// drops every outstanding request fails with a retryable Unavailable and the session is
// dead for good (the pool makes a new one).
//
// Connecting (sftp_session_connect.cpp): the key and known_hosts files are read on a
// worker (Executor::run_blocking), the name is resolved with uv_getaddrinfo, and each
// resolved address is tried in turn with a non-blocking connect watched by the session's
// uv_poll_t; the SSH handshake, host key check, authentication, channel and SFTP traffic
// then run on the loop. The timer bounds every phase (each address gets `timeout`), and
// shutdown() at any point releases the socket at once: nothing outlives the session but
// the worker's read and the resolver's request, whose results are then dropped.

#include <libssh2.h>
#include <netdb.h>
#include <uv.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>

#include "sftp_wire.hpp"
#include "tetherd/core/result.hpp"
#include "tetherd/stores/uv_executor.hpp"

namespace tetherd::stores::sftp {

struct SessionSettings {
  std::string host;
  int port = 22;
  std::string user;
  std::string key_file;
  std::string passphrase_file;  ///< empty: the key has none
  std::string known_hosts;      ///< empty: none
  std::string fingerprint;      ///< empty: none pinned
  std::string root;             ///< as configured: absolute, or "~/..." from the login directory
  bool create_root = false;     ///< make a missing root (and its parents) when connecting
  std::chrono::milliseconds timeout{30000};
};

class Session : public std::enable_shared_from_this<Session> {
 public:
  using ReplyCallback = std::function<void(core::Result<Reply>)>;

  Session(UvExecutor& executor, std::shared_ptr<const SessionSettings> settings);
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  /// Connects, checks the host key, authenticates, opens the SFTP channel and resolves the
  /// root. Called once. `done` runs on the loop thread, never inline; a shutdown() before
  /// it is ready fails it with the shutdown's reason (and releases the socket at once).
  void connect(std::function<void(core::Result<void>)> done);
  /// Sends a request (`body` follows the id); `done` gets the reply or the connection's
  /// failure. Only once ready().
  void request(std::uint8_t type, std::string body, ReplyCallback done);
  /// An SSH_FXP_EXTENDED request named `name`.
  void extended(std::string_view name, std::string body, ReplyCallback done);
  /// Fails what is outstanding with `reason` and releases the connection.
  void shutdown(const core::StoreError& reason);

  /// Whether a ready session's connection is still open: a server that hung up or reset
  /// is noticed here, before a request is trusted to it, and the session fails at once
  /// (its outstanding requests with it). One poll(2) with no wait.
  bool probe();
  bool ready() const noexcept { return state_ == State::Ready; }
  bool dead() const noexcept { return state_ == State::Dead; }
  std::size_t outstanding() const noexcept { return pending_.size(); }
  /// The root as the server resolved it (absolute); valid once ready.
  const std::string& root() const noexcept { return root_; }
  bool has_extension(std::string_view name) const { return extensions_.count(std::string(name)); }
  /// OpenSSH's SSH_FXP_SYMLINK takes (target, link), the reverse of the draft.
  bool symlink_reversed() const noexcept { return openssh_; }

 private:
  enum class State { Idle, Connecting, Handshake, Auth, Channel, Subsystem, Version, Ready, Dead };
  struct Poll;
  struct Timer;
  struct Secrets;

  struct Resolve;

  // Connecting (sftp_session_connect.cpp).
  void start_timer();
  void resolve();
  void try_next_address();
  void on_connect_event(int status);
  void connected();
  bool watch(int fd);
  void close_poll();
  void release_addresses();
  static void on_poll(uv_poll_t* handle, int status, int events);
  /// Worker thread: reads the files into `out`; an error retrying does not mend, or none.
  static std::optional<core::StoreError> read_secrets(const SessionSettings& settings,
                                                      Secrets& out);

  void start_ssh();
  void drive();
  void pump();
  bool flush();
  bool receive();
  void dispatch(std::string_view packet);
  void arm();
  void on_timer();
  void resolve_root();
  void check_root();
  /// Makes the configured root and the directories above it, one mkdir after another (one
  /// that exists fails harmlessly: the stat after them decides), then resolves it again.
  void create_root();
  void make_root_dirs(std::shared_ptr<const std::vector<std::string>> paths, std::size_t index);
  /// Whether a failure to find the root is answered by creating it (once per session).
  bool should_create_root(std::uint32_t status) const;
  void fail(core::StoreError error);
  core::StoreError ssh_error(std::string_view what) const;
  core::StoreError connection_lost() const;
  void send_packet(std::uint8_t type, const std::string& body, std::optional<std::uint32_t> id);
  void schedule_pump();

  UvExecutor& executor_;
  std::shared_ptr<const SessionSettings> settings_;
  State state_ = State::Idle;
  std::function<void(core::Result<void>)> connect_done_;
  std::shared_ptr<Secrets> secrets_;  // key material until authenticated, then dropped
  LIBSSH2_SESSION* ssh_ = nullptr;
  LIBSSH2_CHANNEL* channel_ = nullptr;
  int fd_ = -1;
  Poll* poll_ = nullptr;    // owned by the loop once closing
  Timer* timer_ = nullptr;  // owned by the loop once closing
  int poll_events_ = 0;
  Resolve* resolving_ = nullptr;   // the uv_getaddrinfo in flight, cancelled by fail()
  addrinfo* addresses_ = nullptr;  // resolved, tried in turn from next_address_
  addrinfo* next_address_ = nullptr;
  std::string connect_error_ = "no address";  // why the last address failed
  std::uint64_t last_activity_ = 0;           // uv_now() of the last bytes received
  bool pump_scheduled_ = false;

  std::string out_;
  std::size_t out_pos_ = 0;
  std::string in_;
  std::size_t in_pos_ = 0;
  std::uint32_t next_id_ = 1;
  std::unordered_map<std::uint32_t, ReplyCallback> pending_;

  std::set<std::string> extensions_;
  bool version_seen_ = false;  // SSH_FXP_VERSION arrived (the root is resolved next)
  bool openssh_ = false;
  std::string root_;
  bool root_create_tried_ = false;
};

}  // namespace tetherd::stores::sftp

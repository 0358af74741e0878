// Session: the SSH handshake, authentication, the SFTP channel and its traffic, timeouts
// and failure. Connecting up to the TCP connection is in sftp_session_connect.cpp.

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "sftp_host_key.hpp"
#include "sftp_session_parts.hpp"

namespace tetherd::stores::sftp {

using core::Errc;
using core::StoreError;

Session::Session(UvExecutor& executor, std::shared_ptr<const SessionSettings> settings)
    : executor_(executor), settings_(std::move(settings)) {}

Session::~Session() {
  if (state_ != State::Dead && state_ != State::Idle) {
    // Nobody is left to be told; release the connection (or the connect under way).
    pending_.clear();
    connect_done_ = nullptr;
    fail(unavailable("session released"));
  }
}

void Session::start_ssh() {
  // The TCP connection is up (fd_, watched by poll_); the timer has run since connect().
  last_activity_ = uv_now(executor_.loop());
  ssh_ = libssh2_session_init();
  if (!ssh_) return fail(unavailable("libssh2 could not create a session"));
  libssh2_session_set_blocking(ssh_, 0);
  state_ = State::Handshake;
  drive();
}

StoreError Session::ssh_error(std::string_view what) const {
  char* message = nullptr;
  int code = ssh_ ? libssh2_session_last_error(ssh_, &message, nullptr, 0) : 0;
  auto error = unavailable(std::string(what) + " with " + settings_->host + ":" +
                           std::to_string(settings_->port) + " failed" +
                           (message && *message ? std::string(": ") + message : std::string()));
  error.native_code = code;
  error.native_name = "libssh2 " + std::to_string(code);
  return error;
}

void Session::drive() {
  auto keep = shared_from_this();
  if (state_ == State::Handshake) {
    int rc = libssh2_session_handshake(ssh_, fd_);
    if (rc == LIBSSH2_ERROR_EAGAIN) return arm();
    if (rc != 0) return fail(ssh_error("SSH handshake"));
    const char* banner = libssh2_session_banner_get(ssh_);
    openssh_ = banner && std::strstr(banner, "OpenSSH") != nullptr;
    HostKeyPolicy policy{secrets_->known_hosts, settings_->known_hosts, settings_->fingerprint};
    auto verified = verify_host_key(ssh_, settings_->host, settings_->port, policy);
    if (!verified) return fail(verified.error());
    state_ = State::Auth;
  }
  if (state_ == State::Auth) {
    const Secrets& secrets = *secrets_;
    int rc = libssh2_userauth_publickey_frommemory(
        ssh_, settings_->user.data(), settings_->user.size(),
        secrets.public_key.empty() ? nullptr : secrets.public_key.data(), secrets.public_key.size(),
        secrets.private_key.data(), secrets.private_key.size(),
        secrets.has_passphrase ? secrets.passphrase.c_str() : nullptr);
    if (rc == LIBSSH2_ERROR_EAGAIN) return arm();
    if (rc != 0) {
      if (rc == LIBSSH2_ERROR_SOCKET_SEND || rc == LIBSSH2_ERROR_SOCKET_RECV ||
          rc == LIBSSH2_ERROR_SOCKET_DISCONNECT || rc == LIBSSH2_ERROR_TIMEOUT) {
        return fail(ssh_error("authentication"));
      }
      auto error = ssh_error("public key authentication as '" + settings_->user + "' with " +
                             settings_->key_file);
      error.code = Errc::PermissionDenied;
      error.retryable = false;  // a wrong key does not become right by retrying
      return fail(error);
    }
    secrets_.reset();
    state_ = State::Channel;
  }
  if (state_ == State::Channel) {
    channel_ = libssh2_channel_open_session(ssh_);
    if (!channel_) {
      if (libssh2_session_last_errno(ssh_) == LIBSSH2_ERROR_EAGAIN) return arm();
      return fail(ssh_error("opening an SSH channel"));
    }
    state_ = State::Subsystem;
  }
  if (state_ == State::Subsystem) {
    int rc = libssh2_channel_subsystem(channel_, "sftp");
    if (rc == LIBSSH2_ERROR_EAGAIN) return arm();
    if (rc != 0) {
      auto error = ssh_error("starting the sftp subsystem");
      error.code = Errc::Protocol;
      error.retryable = false;
      return fail(error);
    }
    state_ = State::Version;
    send_packet(kInit, Writer().u32(3).take(), std::nullopt);
  }
  pump();
}

void Session::send_packet(std::uint8_t type, const std::string& body,
                          std::optional<std::uint32_t> id) {
  Writer header;
  header.u32(static_cast<std::uint32_t>(1 + (id ? 4 : 0) + body.size())).u8(type);
  if (id) header.u32(*id);
  out_ += header.bytes();
  out_ += body;
}

void Session::request(std::uint8_t type, std::string body, ReplyCallback done) {
  if (state_ != State::Ready && state_ != State::Version) {
    executor_.post([done] { done(unavailable("SFTP session is not connected")); });
    return;
  }
  if (pending_.empty()) last_activity_ = uv_now(executor_.loop());
  std::uint32_t id = next_id_++;
  pending_.emplace(id, std::move(done));
  send_packet(type, body, id);
  schedule_pump();
}

void Session::extended(std::string_view name, std::string body, ReplyCallback done) {
  request(kExtended, Writer().str(name).take() + body, std::move(done));
}

void Session::schedule_pump() {
  // Coalesces the requests of one loop turn into one flush; replies never come inline.
  if (pump_scheduled_) return;
  pump_scheduled_ = true;
  std::weak_ptr<Session> weak = shared_from_this();
  executor_.post([weak] {
    if (auto self = weak.lock()) {
      self->pump_scheduled_ = false;
      if (self->state_ == State::Ready || self->state_ == State::Version) self->pump();
    }
  });
}

bool Session::flush() {
  bool progress = false;
  while (out_pos_ < out_.size()) {
    ssize_t n = libssh2_channel_write(channel_, out_.data() + out_pos_, out_.size() - out_pos_);
    if (n == LIBSSH2_ERROR_EAGAIN) break;
    if (n < 0) {
      fail(ssh_error("sending SFTP requests"));
      return false;
    }
    out_pos_ += static_cast<std::size_t>(n);
    progress = true;
  }
  if (out_pos_ == out_.size()) {
    out_.clear();
    out_pos_ = 0;
  } else if (out_pos_ > (1u << 20) && out_pos_ > out_.size() / 2) {
    out_.erase(0, out_pos_);
    out_pos_ = 0;
  }
  return progress;
}

bool Session::receive() {
  bool progress = false;
  char buffer[64 * 1024];
  while (true) {
    ssize_t n = libssh2_channel_read(channel_, buffer, sizeof buffer);
    if (n == LIBSSH2_ERROR_EAGAIN) break;
    if (n < 0) {
      fail(ssh_error("receiving SFTP replies"));
      return false;
    }
    if (n == 0) {
      if (libssh2_channel_eof(channel_)) {
        fail(unavailable("the server closed the SFTP channel of " + settings_->host + ":" +
                         std::to_string(settings_->port)));
        return false;
      }
      break;
    }
    in_.append(buffer, static_cast<std::size_t>(n));
    progress = true;
    last_activity_ = uv_now(executor_.loop());
  }
  // Whole packets out of the buffer; callbacks may add requests (flushed by the caller).
  while (state_ != State::Dead && in_.size() - in_pos_ >= 4) {
    Reader header(std::string_view(in_).substr(in_pos_, 4));
    std::uint32_t length = header.u32();
    if (length == 0 || length > (1u << 24)) {
      fail(protocol_error("packet of " + std::to_string(length) + " bytes"));
      return false;
    }
    if (in_.size() - in_pos_ - 4 < length) break;
    std::string packet = in_.substr(in_pos_ + 4, length);
    in_pos_ += 4 + length;
    dispatch(packet);
  }
  if (in_pos_ == in_.size()) {
    in_.clear();
    in_pos_ = 0;
  } else if (in_pos_ > (1u << 20)) {
    in_.erase(0, in_pos_);
    in_pos_ = 0;
  }
  return progress;
}

void Session::dispatch(std::string_view packet) {
  Reader reader(packet);
  std::uint8_t type = reader.u8();
  if (state_ == State::Version && !version_seen_) {
    version_seen_ = true;
    if (type != kVersion)
      return fail(
          protocol_error("expected SSH_FXP_VERSION, got packet type " + std::to_string(type)));
    std::uint32_t version = reader.u32();
    if (version < 3) {
      return fail(fatal(Errc::Protocol,
                        "SFTP server speaks version " + std::to_string(version) + ", not 3"));
    }
    while (!reader.empty() && !reader.failed()) {
      std::string name = reader.str();
      reader.str();
      if (!reader.failed()) extensions_.insert(name);
    }
    return resolve_root();
  }
  std::uint32_t id = reader.u32();
  auto found = pending_.find(id);
  if (reader.failed() || found == pending_.end()) {
    return fail(protocol_error("reply to unknown request " + std::to_string(id)));
  }
  auto done = std::move(found->second);
  pending_.erase(found);
  done(Reply{type, std::string(packet.substr(5))});
}

namespace {

/// The configured root as the server takes it: "~/x" is relative to the login directory,
/// where the server resolves relative paths.
std::string server_root(std::string root) {
  if (root == "~") return ".";
  if (root.rfind("~/", 0) == 0) return root.substr(2).empty() ? "." : root.substr(2);
  return root;
}

}  // namespace

bool Session::should_create_root(std::uint32_t status) const {
  return status == kNoSuchFile && settings_->create_root && !root_create_tried_;
}

void Session::create_root() {
  root_create_tried_ = true;
  const std::string root = server_root(settings_->root);
  // Each directory from the top down: "/a/b" makes "/a" then "/a/b"; "a/b" makes "a", "a/b".
  auto paths = std::make_shared<std::vector<std::string>>();
  for (std::size_t slash = root.find('/', 1); slash != std::string::npos;
       slash = root.find('/', slash + 1)) {
    if (root[slash - 1] != '/') paths->push_back(root.substr(0, slash));
  }
  if (!root.ends_with('/')) paths->push_back(root);
  make_root_dirs(std::move(paths), 0);
}

void Session::make_root_dirs(std::shared_ptr<const std::vector<std::string>> paths,
                             std::size_t index) {
  if (index == paths->size()) return resolve_root();
  std::weak_ptr<Session> weak = shared_from_this();
  request(kMkdir, Writer().str((*paths)[index]).attrs(FileAttrs{}).take(),
          [weak, paths, index](core::Result<Reply> reply) {
            auto self = weak.lock();
            if (!self || self->state_ != State::Version) return;
            if (!reply) return self->fail(reply.error());
            self->make_root_dirs(paths, index + 1);
          });
}

void Session::resolve_root() {
  const std::string root = server_root(settings_->root);
  std::weak_ptr<Session> weak = shared_from_this();
  request(kRealpath, Writer().str(root).take(), [weak, root](core::Result<Reply> reply) {
    auto self = weak.lock();
    if (!self || self->state_ != State::Version) return;
    if (!reply) return self->fail(reply.error());
    std::string message;
    if (auto status = reply_status(*reply, &message)) {
      if (self->should_create_root(*status)) return self->create_root();
      auto error = status_error(*status, message);
      error.retryable = false;
      error.detail = "store root '" + self->settings_->root + "' on " + self->settings_->host +
                     ": " + (message.empty() ? std::string(status_name(*status)) : message);
      return self->fail(error);
    }
    Reader names(reply->body);
    std::uint32_t count = names.u32();
    std::string path = names.str();
    if (reply->type != kName || count < 1 || names.failed() || path.empty() || path[0] != '/') {
      return self->fail(protocol_error("bad SSH_FXP_REALPATH reply"));
    }
    self->root_ = path;
    self->check_root();
  });
}

void Session::check_root() {
  // OpenSSH's realpath accepts a missing last component: the root must exist, and be a
  // directory, before anything is done in it.
  std::weak_ptr<Session> weak = shared_from_this();
  request(kStat, Writer().str(root_).take(), [weak](core::Result<Reply> reply) {
    auto self = weak.lock();
    if (!self || self->state_ != State::Version) return;
    if (!reply) return self->fail(reply.error());
    const std::string where = "store root '" + self->settings_->root + "' (" + self->root_ +
                              ") on " + self->settings_->host;
    std::string message;
    if (auto status = reply_status(*reply, &message)) {
      if (self->should_create_root(*status)) return self->create_root();
      auto error = status_error(*status, message);
      error.retryable = false;
      error.detail = where + ": " + (message.empty() ? std::string(status_name(*status)) : message);
      return self->fail(error);
    }
    Reader reader(reply->body);
    FileAttrs attrs = reader.attrs();
    if (reply->type != kAttrs || reader.failed()) {
      return self->fail(protocol_error("bad SSH_FXP_STAT reply"));
    }
    if (!attrs.is_dir())
      return self->fail(fatal(Errc::NotADirectory, where + " is not a directory"));
    self->state_ = State::Ready;
    if (auto done = std::move(self->connect_done_)) {
      self->connect_done_ = nullptr;
      done(core::success());
    }
  });
}

void Session::pump() {
  auto keep = shared_from_this();
  while (state_ == State::Ready || state_ == State::Version) {
    bool wrote = flush();
    if (dead()) return;
    bool read = receive();
    if (dead()) return;
    if (!wrote && !read) break;
  }
  arm();
}

void Session::arm() {
  if (!poll_ || dead()) return;
  int events = UV_READABLE;
  if (libssh2_session_block_directions(ssh_) & LIBSSH2_SESSION_BLOCK_OUTBOUND) {
    events |= UV_WRITABLE;
  }
  if (events == poll_events_) return;
  poll_events_ = events;
  uv_poll_start(&poll_->handle, events, &Session::on_poll);
}

void Session::on_poll(uv_poll_t* handle, int status, int) {
  auto self = static_cast<Poll*>(handle->data)->owner.lock();
  if (!self || self->dead()) return;
  if (self->state_ == State::Connecting) return self->on_connect_event(status);
  if (status < 0) return self->fail(self->connection_lost());
  self->drive();
}

StoreError Session::connection_lost() const {
  // libuv reports any POLLERR as EBADF; the socket knows the real cause (a reset, most
  // often), and a plain hang-up has none.
  int error = 0;
  socklen_t length = sizeof error;
  if (fd_ >= 0) ::getsockopt(fd_, SOL_SOCKET, SO_ERROR, &error, &length);
  return unavailable("connection to " + settings_->host + ":" + std::to_string(settings_->port) +
                     (error != 0 ? std::string(" failed: ") + std::strerror(error)
                                 : std::string(" was closed by the server")));
}

bool Session::probe() {
  if (!ready() || fd_ < 0) return ready();
  pollfd check{fd_, POLLRDHUP, 0};
  if (::poll(&check, 1, 0) > 0 && (check.revents & (POLLRDHUP | POLLHUP | POLLERR))) {
    fail(connection_lost());
    return false;
  }
  return true;
}

void Session::on_timer() {
  if (dead()) return;
  const bool waiting = state_ != State::Ready || !pending_.empty();
  const auto idle = uv_now(executor_.loop()) - last_activity_;
  if (waiting && idle >= static_cast<std::uint64_t>(settings_->timeout.count())) {
    const std::string where = settings_->host + ":" + std::to_string(settings_->port);
    const std::string how_long = std::to_string(idle / 1000) + " s";
    auto error = StoreError::make(Errc::Timeout,
                                  state_ == State::Connecting
                                      ? "cannot connect to " + where + ": no answer for " + how_long
                                      : "no answer from " + where + " for " + how_long);
    error.retryable = true;
    fail(error);
  }
}

void Session::shutdown(const StoreError& reason) {
  // In every state, connecting included: the socket is released now, and the callbacks
  // (connect's too) get `reason` on a later turn.
  fail(reason);
}

void Session::fail(StoreError error) {
  if (state_ == State::Dead) return;
  auto keep = weak_from_this().lock();  // null while destroying
  state_ = State::Dead;
  auto pending = std::move(pending_);
  pending_.clear();
  auto connect_done = std::move(connect_done_);
  connect_done_ = nullptr;
  secrets_.reset();
  if (resolving_) {
    // Not started yet: cancelled. Running: its callback frees it and the addresses.
    uv_cancel(reinterpret_cast<uv_req_t*>(&resolving_->request));
    resolving_ = nullptr;
  }
  release_addresses();
  if (timer_) {
    uv_timer_stop(&timer_->handle);
    uv_close(reinterpret_cast<uv_handle_t*>(&timer_->handle),
             [](uv_handle_t* handle) { delete static_cast<Timer*>(handle->data); });
    timer_ = nullptr;
  }
  if (poll_) uv_poll_stop(&poll_->handle);
  if (ssh_) {
    // The socket is shut down first so that libssh2's farewell messages fail at once
    // instead of blocking: freeing a non-blocking session could answer EAGAIN and leak.
    if (fd_ >= 0) ::shutdown(fd_, SHUT_RDWR);
    libssh2_session_set_blocking(ssh_, 1);
    libssh2_session_free(ssh_);
    channel_ = nullptr;
    ssh_ = nullptr;
  }
  close_poll();
  // Callbacks run on a later turn: fail() may be reached from inside request paths.
  if (connect_done) executor_.post([connect_done, error] { connect_done(error); });
  for (auto& entry : pending) {
    auto done = std::move(entry.second);
    executor_.post([done, error] { done(error); });
  }
}

}  // namespace tetherd::stores::sftp

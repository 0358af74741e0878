// Session: connecting, up to the TCP connection. The key files are read on a worker; the
// name is resolved with uv_getaddrinfo; each address is tried with a non-blocking connect
// watched by the session's uv_poll_t (writable, then SO_ERROR says how it went). Nothing
// here blocks the loop, and fail() (shutdown, the timer) stops every step at once: the
// worker's read and the resolver's request may still complete, and are then dropped.

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "sftp_session_parts.hpp"

namespace tetherd::stores::sftp {

using core::Errc;
using core::StoreError;

namespace {

/// libssh2_init once per process, before the first session (it is not thread-safe; every
/// session is made on the loop thread).
void init_libssh2_once() {
  static const bool done = [] {
    libssh2_init(0);
    return true;
  }();
  (void)done;
}

std::optional<std::string> read_file(const std::string& path, std::string& error) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    error = std::strerror(errno);
    return std::nullopt;
  }
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace

// Worker thread: the key, its public half, the passphrase and known_hosts; nothing
// loop-owned.
std::optional<StoreError> Session::read_secrets(const SessionSettings& settings, Secrets& out) {
  std::string why;
  auto key = read_file(settings.key_file, why);
  if (!key) {
    return fatal(Errc::PermissionDenied, "cannot read key file " + settings.key_file + ": " + why);
  }
  out.private_key = std::move(*key);
  if (auto pub = read_file(settings.key_file + ".pub", why)) out.public_key = std::move(*pub);
  if (!settings.passphrase_file.empty()) {
    auto pass = read_file(settings.passphrase_file, why);
    if (!pass) {
      return fatal(Errc::PermissionDenied,
                   "cannot read passphrase file " + settings.passphrase_file + ": " + why);
    }
    while (!pass->empty() && (pass->back() == '\n' || pass->back() == '\r'))
      pass->pop_back();
    out.passphrase = std::move(*pass);
    out.has_passphrase = true;
  }
  if (!settings.known_hosts.empty()) {
    // A missing file is an empty one: the unknown-key message then says what to add.
    out.known_hosts = read_file(settings.known_hosts, why).value_or(std::string());
  }
  return std::nullopt;
}

void Session::connect(std::function<void(core::Result<void>)> done) {
  init_libssh2_once();
  connect_done_ = std::move(done);
  state_ = State::Connecting;
  start_timer();
  auto secrets = std::make_shared<Secrets>();
  auto error = std::make_shared<std::optional<StoreError>>();
  auto settings = settings_;
  std::weak_ptr<Session> weak = shared_from_this();
  executor_.run_blocking([settings, secrets, error] { *error = read_secrets(*settings, *secrets); },
                         [weak, secrets, error] {
                           // Shut down meanwhile: the secrets die with this task.
                           auto self = weak.lock();
                           if (!self || self->state_ != State::Connecting) return;
                           if (*error) return self->fail(**error);
                           self->secrets_ = secrets;
                           self->resolve();
                         });
}

void Session::start_timer() {
  timer_ = new Timer;
  timer_->owner = weak_from_this();
  timer_->handle.data = timer_;
  uv_timer_init(executor_.loop(), &timer_->handle);
  auto period =
      static_cast<std::uint64_t>(std::max<std::int64_t>(settings_->timeout.count() / 4, 1));
  uv_timer_start(
      &timer_->handle,
      [](uv_timer_t* handle) {
        if (auto self = static_cast<Timer*>(handle->data)->owner.lock()) self->on_timer();
      },
      period, period);
  last_activity_ = uv_now(executor_.loop());
}

void Session::resolve() {
  auto* resolving = new Resolve;
  resolving->owner = weak_from_this();
  resolving->request.data = resolving;
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  const std::string port = std::to_string(settings_->port);
  int rc = uv_getaddrinfo(
      executor_.loop(), &resolving->request,
      [](uv_getaddrinfo_t* request, int status, addrinfo* found) {
        auto* resolving = static_cast<Resolve*>(request->data);
        auto self = resolving->owner.lock();
        delete resolving;
        if (!self || self->state_ != State::Connecting) {  // shut down meanwhile
          if (found) uv_freeaddrinfo(found);
          return;
        }
        self->resolving_ = nullptr;
        if (status != 0) {
          if (found) uv_freeaddrinfo(found);
          return self->fail(
              unavailable("cannot resolve " + self->settings_->host + ": " + uv_strerror(status)));
        }
        self->addresses_ = found;
        self->next_address_ = found;
        self->try_next_address();
      },
      settings_->host.c_str(), port.c_str(), &hints);
  if (rc != 0) {
    delete resolving;
    return fail(unavailable("cannot resolve " + settings_->host + ": " + uv_strerror(rc)));
  }
  resolving_ = resolving;
}

void Session::try_next_address() {
  while (next_address_) {
    addrinfo* address = next_address_;
    next_address_ = address->ai_next;
    int fd = ::socket(address->ai_family, address->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK,
                      address->ai_protocol);
    if (fd < 0) {
      connect_error_ = std::strerror(errno);
      continue;
    }
    if (!watch(fd)) continue;
    // Every address gets the whole timeout.
    last_activity_ = uv_now(executor_.loop());
    if (::connect(fd, address->ai_addr, address->ai_addrlen) == 0) return connected();
    if (errno == EINPROGRESS) {
      poll_events_ = UV_WRITABLE;
      uv_poll_start(&poll_->handle, UV_WRITABLE, &Session::on_poll);
      return;
    }
    connect_error_ = std::strerror(errno);
    close_poll();
  }
  release_addresses();
  fail(unavailable("cannot connect to " + settings_->host + ":" + std::to_string(settings_->port) +
                   ": " + connect_error_));
}

void Session::on_connect_event(int status) {
  // Writable (or an error): the connect is over one way or the other; SO_ERROR says which
  // (libuv reports POLLERR as a bare EBADF).
  int error = 0;
  socklen_t length = sizeof error;
  if (::getsockopt(fd_, SOL_SOCKET, SO_ERROR, &error, &length) != 0) error = errno;
  if (error == 0 && status == 0) return connected();
  connect_error_ = std::strerror(error != 0 ? error : ECONNABORTED);
  close_poll();
  try_next_address();
}

void Session::connected() {
  release_addresses();
  int one = 1;
  ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  start_ssh();
}

bool Session::watch(int fd) {
  auto* poll = new Poll;
  poll->fd = fd;
  poll->owner = weak_from_this();
  poll->handle.data = poll;
  if (int rc = uv_poll_init_socket(executor_.loop(), &poll->handle, fd); rc != 0) {
    connect_error_ = uv_strerror(rc);
    ::close(fd);
    delete poll;
    return false;
  }
  poll_ = poll;
  fd_ = fd;
  poll_events_ = 0;
  return true;
}

void Session::close_poll() {
  if (poll_) {
    uv_poll_stop(&poll_->handle);
    // The descriptor is closed once libuv has let go of it (this loop turn).
    uv_close(reinterpret_cast<uv_handle_t*>(&poll_->handle), [](uv_handle_t* handle) {
      auto* poll = static_cast<Poll*>(handle->data);
      ::close(poll->fd);
      delete poll;
    });
    poll_ = nullptr;
  } else if (fd_ >= 0) {
    ::close(fd_);
  }
  fd_ = -1;
  poll_events_ = 0;
}

void Session::release_addresses() {
  if (addresses_) uv_freeaddrinfo(addresses_);
  addresses_ = nullptr;
  next_address_ = nullptr;
}

}  // namespace tetherd::stores::sftp

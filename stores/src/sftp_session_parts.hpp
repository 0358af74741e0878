#pragma once

// The pieces of Session shared by its two files, sftp_session.cpp (SSH and SFTP traffic)
// and sftp_session_connect.cpp (reading the key files, resolving, the TCP connect): the
// handles the loop owns once closing, the key material, and the error constructors.

#include <algorithm>
#include <optional>
#include <string>

#include "sftp_session.hpp"

namespace tetherd::stores::sftp {

/// A connection problem: retryable (the server may come back).
inline core::StoreError unavailable(std::string detail) {
  auto error = core::StoreError::make(core::Errc::Unavailable, std::move(detail));
  error.retryable = true;
  return error;
}

/// A problem retrying does not solve (a wrong key, a missing file).
inline core::StoreError fatal(core::Errc code, std::string detail) {
  auto error = core::StoreError::make(code, std::move(detail));
  error.retryable = false;
  return error;
}

// Secrets read on the worker: handed to libssh2 once, then dropped (never logged).
struct Session::Secrets {
  std::string private_key;
  std::string public_key;  // "<key_file>.pub" when present
  std::string passphrase;
  bool has_passphrase = false;
  std::optional<std::string> known_hosts;
  ~Secrets() {
    // Best effort: the key does not linger in freed memory.
    std::fill(private_key.begin(), private_key.end(), '\0');
    std::fill(passphrase.begin(), passphrase.end(), '\0');
  }
};

// The socket's poll handle; closing it closes the descriptor (once libuv has let go).
struct Session::Poll {
  uv_poll_t handle;
  int fd = -1;
  std::weak_ptr<Session> owner;
};

struct Session::Timer {
  uv_timer_t handle;
  std::weak_ptr<Session> owner;
};

// A uv_getaddrinfo in flight: it may complete after the session is gone or dead, and is
// then freed without touching the session.
struct Session::Resolve {
  uv_getaddrinfo_t request;
  std::weak_ptr<Session> owner;
};

}  // namespace tetherd::stores::sftp

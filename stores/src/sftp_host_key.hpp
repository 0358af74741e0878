#pragma once

// Host key verification of an SFTP server: against OpenSSH known_hosts text (hashed
// entries too, through libssh2_knownhost_*) and/or a pinned "SHA256:<base64>" fingerprint.
// Never trust on first use: an unknown or changed key is a non-retryable PermissionDenied
// whose message shows the key's fingerprint and the exact known_hosts line to add.

#include <libssh2.h>

#include <optional>
#include <string>
#include <string_view>

#include "tetherd/core/result.hpp"

namespace tetherd::stores::sftp {

struct HostKeyPolicy {
  /// Contents of the known_hosts file (read off the loop thread); nullopt: none given.
  std::optional<std::string> known_hosts_text;
  std::string known_hosts_path;  ///< for messages
  /// "SHA256:<base64>" (padding optional); empty: none pinned.
  std::string fingerprint;
};

/// Standard base64 with padding.
std::string base64(std::string_view bytes);
/// "SHA256:..." as ssh-keygen -l prints it (base64 without padding).
std::string sha256_fingerprint(LIBSSH2_SESSION* session);

/// Checks the host key of a session after its handshake. No I/O.
core::Result<void> verify_host_key(LIBSSH2_SESSION* session, const std::string& host, int port,
                                   const HostKeyPolicy& policy);

}  // namespace tetherd::stores::sftp

#pragma once

// sftp_store: a directory on an SFTP server (SSH, SFTP version 3 as OpenSSH speaks it).
//
// - Transport: libssh2 (the SSH transport, host key and public key authentication:
//   a mature, small C library in Debian, usable without blocking) with our own SFTP v3
//   client over its channel, so that many requests are in flight per connection and the
//   OpenSSH extensions (posix-rename, fsync) are reachable. Nothing blocks the loop
//   thread: the name is resolved with uv_getaddrinfo, the TCP connect is non-blocking and
//   the socket polled with libuv; only reading the key files runs on a worker. Closing the
//   store ends a connect under way at once (the server may never answer), whatever the
//   timeout.
// - Pool: up to `connections` sessions; an operation runs on the least busy one. A dropped
//   connection fails the operations on it with a retryable Unavailable; the next
//   operation connects again (with backoff).
// - Host keys: checked against known_hosts and/or a pinned SHA256 fingerprint; never
//   trusted on first use. Unknown or changed: a non-retryable PermissionDenied naming the
//   fingerprint and the known_hosts line to add.
// - Atomic writes: a temporary file ".tetherd-sftp.*" in the target directory (reserved:
//   keys may not use the prefix; never listed), written with several requests in flight,
//   fsync@openssh.com (DURABLE), attributes set, closed, then renamed over the key
//   (posix-rename@openssh.com) or, with overwrite=false, renamed with the plain v3 rename,
//   which refuses an existing target. A failed or cancelled write removes its temporary
//   file; those of writes cut off by a lost connection are removed on reconnect, and any
//   left by an earlier process when the store opens.
// - Plain writes (atomic=false): the key itself is opened (O_EXCL without overwrite) and
//   written in place; a symlink at the key is removed and the key created afresh with
//   O_EXCL, never written through (the local store replaces it too). The open truncates:
//   a failed or cancelled plain overwrite removes the key, so the old content is lost
//   (the Store contract promises nothing about it for atomic=false; conformance 07 asks
//   that no partial file stays). One cut off by a lost connection is removed on reconnect.
// - Times: whole seconds (mtime_precision 1 s) in SFTP v3's uint32, so an mtime before
//   1970 is stored as 1970-01-01 00:00:00 and one after 2106-02-07 06:28:15 as that
//   instant (clamped, never wrapped); a write's EntryInfo and stat report what is stored.
//   The capabilities say so (mtime_range), and the engine compares such a source mtime as
//   the end it was kept as, so the file is not copied again on every walk.
// - Symlinks: set_attrs on a link sets the link's own mtime with lsetstat@openssh.com
//   (OpenSSH 8.3 and later), never its target's; a server without it refuses with
//   PermissionDenied (SETSTAT would follow the link). A link's mode is always refused, as
//   by the local store. No capability describes link mtimes (the engine sets none today).
// - Confinement: before acting, every existing component below the root is lstat'ed, so
//   a symlink planted in the tree cannot redirect a write, delete or move outside it (the
//   residual race is described in sftp_ops.hpp).

#include <chrono>
#include <string>

#include "tetherd/core/store.hpp"

namespace tetherd::stores {

struct SftpStoreOptions {
  std::string name = "sftp";
  std::string host;
  int port = 22;
  std::string user;
  std::string key_file;              ///< private key (OpenSSH or PEM format)
  std::string passphrase_file;       ///< optional: the key's passphrase (first line)
  std::string known_hosts;           ///< an OpenSSH known_hosts file, hashed entries allowed
  std::string host_key_fingerprint;  ///< "SHA256:<base64>", as ssh-keygen -l prints it
  /// Absolute path on the server, or "~/..." relative to the login directory. Must exist,
  /// unless create_root.
  std::string root;
  /// Makes a missing root, and the directories above it, when connecting.
  bool create_root = false;
  int connections = 2;
  /// A session with requests outstanding and nothing received for this long fails (Timeout);
  /// it also bounds each step of connecting (each resolved address gets it whole).
  std::chrono::milliseconds timeout{30000};
};

/// Opens the store: validates the options, connects once (host key, authentication, root)
/// and declares the capabilities the server supports (DURABLE needs fsync@openssh.com).
/// The executor must be a UvExecutor (InvalidPath otherwise). `done` runs on the loop
/// thread, never inline. Temporary files an earlier process left are removed in the
/// background once open. The returned function gives up connecting (`done` then gets
/// Cancelled).
core::CancelOpen open_sftp_store(core::Executor& executor, SftpStoreOptions options,
                                 core::Callback<core::StorePtr> done);

}  // namespace tetherd::stores

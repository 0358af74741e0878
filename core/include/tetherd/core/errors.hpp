#pragma once

// Error model of every store operation: a closed set of codes (Errc, with a
// std::error_category), and StoreError, the value that carries the code together with
// everything a user needs to act on it (store, operation, key, the backend's own code).

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>

namespace tetherd::core {

/// What went wrong, independent of the backend. Backends map every native error
/// (errno, HTTP status, SFTP status) onto one of these; nothing native escapes unmapped.
enum class Errc {
  NotFound = 1,
  AlreadyExists,
  InvalidPath,
  IsDirectory,
  NotADirectory,
  DirectoryNotEmpty,
  PermissionDenied,
  CapabilityNotSupported,
  PreconditionFailed,
  Corrupted,
  NoSpace,
  ReadOnly,  ///< the target (file system, bucket) refuses all writes
  IoError,   ///< the device reported a failure (EIO); not retried automatically
  Unavailable,
  Timeout,
  RateLimited,
  Cancelled,
  Protocol,
};

/// "NotFound", "NoSpace", ...: the enumerator's name.
std::string_view to_string(Errc code) noexcept;
/// A short lower-case description: "not found", "no space left".
std::string_view describe(Errc code) noexcept;
/// Whether a failure with this code is worth retrying by default (Unavailable, Timeout,
/// RateLimited). A backend may override per error (e.g. a connection reset).
bool retryable_by_default(Errc code) noexcept;

const std::error_category& store_category() noexcept;
std::error_code make_error_code(Errc code) noexcept;

/// The store operation an error belongs to (for messages and fault injection).
enum class Operation {
  Open,
  Stat,
  List,
  Read,
  Write,
  Copy,
  Move,
  Remove,
  Mkdir,
  Rmdir,
  SetAttrs,
  Symlink,
  Readlink,
  Close,
};
/// "stat", "write", "set_attrs", ...
std::string_view to_string(Operation operation) noexcept;

/// Which side of a mirror an error came from: control flow asks this, never the name.
enum class ErrorSide : std::uint8_t {
  target,  ///< a store (the target of a rule)
  source,  ///< the watched source tree, read by the engine
};

/// A failed store operation. Copyable value; never thrown by the store API.
struct StoreError {
  Errc code = Errc::IoError;
  ErrorSide side = ErrorSide::target;
  /// Store name as configured ("backup"); filled in by the Store front when empty.
  std::string store;
  /// The operation that failed; filled in by the Store front when unset.
  std::optional<Operation> operation;
  /// The key concerned (for copy/move: the source), as the user would write it.
  std::string key;
  /// For copy/move: the destination key.
  std::optional<std::string> destination;
  /// Backend detail: errno value, HTTP status, SFTP status; 0 when there is none.
  int native_code = 0;
  /// Symbolic name of native_code ("ENOSPC", "HTTP 503"), may be empty.
  std::string native_name;
  /// Human-readable detail ("no space left on device"); may be empty.
  std::string detail;
  bool retryable = false;
  /// How long the server asked us to wait before trying again (HTTP Retry-After), when it
  /// said; whoever retries waits at least this long.
  std::optional<std::chrono::milliseconds> retry_after;

  /// An error with the default retryability of `code`.
  static StoreError make(Errc code, std::string detail = {});

  std::error_code error_code() const noexcept { return make_error_code(code); }
  /// "store 'backup': write 'a/b.txt': no space left on device (ENOSPC)".
  std::string message() const;
};

}  // namespace tetherd::core

template <>
struct std::is_error_code_enum<tetherd::core::Errc> : std::true_type {};

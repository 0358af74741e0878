#pragma once

// Putting the control socket at its path without harming what is there and without a
// moment where it has looser permissions than 0660.

#include <string>

#include "tetherd/core/result.hpp"

namespace tetherd::daemon {

/// A listening unix stream socket (non-blocking, close-on-exec) at `path`, mode 0660
/// from the moment the path names it. What `path` names already decides:
///  - nothing: the socket is made there;
///  - a socket nobody listens on (a connect is refused: left by a crash): it is replaced;
///  - a socket a daemon listens on: AlreadyExists, naming the path;
///  - anything else (a file, a symbolic link, a directory, a socket whose state cannot be
///    told): an error naming the path, and it is left as it is.
/// Returns the descriptor; the caller owns it.
core::Result<int> place_listening_socket(const std::string& path, int backlog);

}  // namespace tetherd::daemon

#pragma once

// open_configured_store: turns a store of the config into an open backend, without blocking
// the loop thread.

#include "tetherd/config/config.hpp"
#include "tetherd/core/store.hpp"

namespace tetherd::stores {
class UvExecutor;
}

namespace tetherd::daemon {

/// Opens the backend `wanted` names, a new instance every call. Whatever may block (a
/// local root on a dead mount, a credentials file) runs on a worker; an SFTP store connects
/// asynchronously. `done` runs later on the loop thread, never inline; its error names the
/// store. The returned function gives up on a remote store that has not answered yet
/// (`done` then gets Cancelled); a local open runs to its end.
core::CancelOpen open_configured_store(stores::UvExecutor& executor,
                                       const config::StoreConfig& wanted,
                                       core::Callback<core::StorePtr> done);

}  // namespace tetherd::daemon

#pragma once

// Private helpers for libuv handles the watchers allocate with `new`: the handle is closed
// and freed by its close callback, so the owning object may be destroyed right after.

#include <uv.h>

namespace tetherd::watchers {

template <typename Handle>
void close_and_delete(Handle* handle) {
  handle->data = nullptr;
  uv_close(reinterpret_cast<uv_handle_t*>(handle),
           [](uv_handle_t* closed) { delete reinterpret_cast<Handle*>(closed); });
}

}  // namespace tetherd::watchers

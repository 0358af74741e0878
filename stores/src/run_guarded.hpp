#pragma once

// Runs a task from a libuv callback or a thread of ours, where nothing may throw: a task
// that throws is a bug, reported on stderr and contained.

#include <cstdio>
#include <exception>

namespace tetherd::stores {

template <typename Function>
void run_guarded(const char* what, Function&& function) noexcept {
  try {
    function();
  } catch (const std::exception& exception) {
    std::fprintf(stderr, "tetherd: exception escaped a %s: %s\n", what, exception.what());
  } catch (...) {
    std::fprintf(stderr, "tetherd: unknown exception escaped a %s\n", what);
  }
}

}  // namespace tetherd::stores

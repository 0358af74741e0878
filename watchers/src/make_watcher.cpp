#include "tetherd/watchers/inotify_watcher.hpp"
#include "tetherd/watchers/poll_watcher.hpp"
#include "tetherd/watchers/watcher.hpp"

namespace tetherd::watchers {

std::string_view to_string(WatcherKind kind) noexcept {
  switch (kind) {
    case WatcherKind::inotify:
      return "inotify";
    case WatcherKind::poll:
      return "poll";
  }
  return "unknown";
}

std::unique_ptr<Watcher> make_watcher(WatcherKind kind, uv_loop_t* loop, WatcherOptions options) {
  switch (kind) {
    case WatcherKind::inotify:
      return std::make_unique<InotifyWatcher>(loop, std::move(options));
    case WatcherKind::poll:
      return std::make_unique<PollWatcher>(loop, std::move(options));
  }
  return nullptr;
}

}  // namespace tetherd::watchers

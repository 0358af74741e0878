#pragma once

// SimWatcher: the Watcher a simulated rule gets. The changes come from the
// MemorySourceTree's journal; the simulation decides when a batch is delivered (and how
// large it is), as the kernel and the loop decide for a real watcher.

#include <cstdio>
#include <cstdlib>
#include <memory>

#include "sim/memory_source_tree.hpp"
#include "tetherd/watchers/watcher.hpp"

namespace tetherd::sim {

class SimWatcher final : public watchers::Watcher {
 public:
  SimWatcher(std::shared_ptr<MemorySourceTree> tree, watchers::WatcherOptions options)
      : tree_(std::move(tree)), options_(std::move(options)) {}

  std::optional<watchers::WatcherError> start() override {
    running_ = true;
    return std::nullopt;
  }
  void stop() override { running_ = false; }
  std::size_t watched_directory_count() const override { return 1; }

  /// Delivers up to `at_most` journaled changes; false when none waited.
  bool deliver(std::size_t at_most) {
    if (!running_ || tree_->pending_events() == 0) return false;
    auto batch = tree_->take_events(at_most);
    if (std::getenv("TETHERD_SIM_TRACE")) {
      std::fprintf(stderr, "watcher delivers %zu change(s)\n", batch.size());
    }
    options_.on_changes(std::move(batch));
    return true;
  }
  bool running() const noexcept { return running_; }

 private:
  std::shared_ptr<MemorySourceTree> tree_;
  watchers::WatcherOptions options_;
  bool running_ = false;
};

}  // namespace tetherd::sim

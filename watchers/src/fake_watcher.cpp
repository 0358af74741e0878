#include "tetherd/watchers/fake_watcher.hpp"

#include "uv_handles.hpp"

namespace tetherd::watchers {

FakeWatcher::FakeWatcher(uv_loop_t* loop, WatcherOptions options)
    : loop_(loop), options_(std::move(options)) {}

FakeWatcher::~FakeWatcher() {
  stop();
}

std::optional<WatcherError> FakeWatcher::start() {
  ++start_count_;
  if (start_error_) {
    WatcherError error = std::move(*start_error_);
    start_error_.reset();
    return error;
  }
  if (timer_ != nullptr) return std::nullopt;
  timer_ = new uv_timer_t;
  uv_timer_init(loop_, timer_);
  timer_->data = this;
  schedule();
  return std::nullopt;
}

void FakeWatcher::stop() {
  if (timer_ == nullptr) return;
  ++stop_count_;
  close_and_delete(timer_);
  timer_ = nullptr;
}

void FakeWatcher::push(std::vector<core::Change> batch) {
  batches_.push_back(std::move(batch));
  schedule();
}

void FakeWatcher::fail(WatcherError error) {
  errors_.push_back(std::move(error));
  schedule();
}

void FakeWatcher::schedule() {
  if (timer_ != nullptr && (!batches_.empty() || !errors_.empty())) {
    uv_timer_start(timer_, &FakeWatcher::on_timer, 0, 0);
  }
}

void FakeWatcher::on_timer(uv_timer_t* timer) noexcept {
  auto* self = static_cast<FakeWatcher*>(timer->data);
  try {
    self->deliver();
  } catch (...) {
    // A throwing consumer callback must not unwind through libuv; the fake drops the batch.
  }
}

void FakeWatcher::deliver() {
  while (timer_ != nullptr && !errors_.empty()) {
    WatcherError error = std::move(errors_.front());
    errors_.pop_front();
    if (options_.on_error) options_.on_error(error);
  }
  while (timer_ != nullptr && !batches_.empty()) {
    std::vector<core::Change> batch = std::move(batches_.front());
    batches_.pop_front();
    options_.on_changes(std::move(batch));
  }
}

}  // namespace tetherd::watchers

#include "dedicated_thread.hpp"

#include "run_guarded.hpp"

namespace tetherd::stores {

void DedicatedThread::start() {
  shared_ = new Shared{};
  shared_->owner = this;
  uv_async_init(loop_, &shared_->wakeup, &DedicatedThread::on_wakeup);
  shared_->wakeup.data = shared_;
  // Referenced only while a job is in flight: an idle thread keeps no loop alive.
  uv_unref(reinterpret_cast<uv_handle_t*>(&shared_->wakeup));
  thread_ = std::thread(&DedicatedThread::run, shared_);
}

void DedicatedThread::submit(Task work, Task done) {
  if (closed_) return;
  if (!shared_) start();
  if (in_flight_++ == 0) uv_ref(reinterpret_cast<uv_handle_t*>(&shared_->wakeup));
  {
    std::lock_guard lock(shared_->mutex);
    shared_->queued.push_back(Job{std::move(work), std::move(done)});
  }
  shared_->work_ready.notify_one();
}

void DedicatedThread::run(Shared* shared) noexcept {
  std::unique_lock lock(shared->mutex);
  for (;;) {
    shared->work_ready.wait(lock, [shared] { return shared->stopping || !shared->queued.empty(); });
    if (shared->queued.empty()) return;  // stopping, and nothing left to run
    Job job = std::move(shared->queued.front());
    shared->queued.pop_front();
    lock.unlock();
    run_guarded("blocking job", job.work);
    job.work = nullptr;
    lock.lock();
    shared->finished.push_back(std::move(job));
    uv_async_send(&shared->wakeup);
  }
}

void DedicatedThread::on_wakeup(uv_async_t* handle) noexcept {
  auto* shared = static_cast<Shared*>(handle->data);
  if (shared->owner) shared->owner->deliver();
}

void DedicatedThread::deliver() noexcept {
  std::deque<Job> batch;
  {
    std::lock_guard lock(shared_->mutex);
    batch.swap(shared_->finished);
  }
  for (auto& job : batch) {
    if (--in_flight_ == 0) uv_unref(reinterpret_cast<uv_handle_t*>(&shared_->wakeup));
    run_guarded("completion", job.done);
    if (closed_) return;  // a completion closed the executor: drop the rest
  }
}

void DedicatedThread::close() {
  if (closed_) return;
  closed_ = true;
  if (!shared_) return;
  {
    std::lock_guard lock(shared_->mutex);
    shared_->stopping = true;
  }
  shared_->work_ready.notify_one();
  if (thread_.joinable()) thread_.join();
  shared_->owner = nullptr;
  uv_close(reinterpret_cast<uv_handle_t*>(&shared_->wakeup),
           [](uv_handle_t* handle) { delete static_cast<Shared*>(handle->data); });
  shared_ = nullptr;
  in_flight_ = 0;
}

}  // namespace tetherd::stores

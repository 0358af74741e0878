#include "tetherd/stores/uv_executor.hpp"

#include "dedicated_thread.hpp"
#include "run_guarded.hpp"

namespace tetherd::stores {

struct UvExecutor::Idle {
  uv_idle_t handle;
  UvExecutor* owner;
};

struct UvExecutor::Timer {
  uv_timer_t handle;
  UvExecutor* owner;
  TimerId id;
  Task task;
};

struct UvExecutor::Work {
  uv_work_t request;
  Task work;
  Task done;
  std::shared_ptr<UvExecutor*> alive;
};

UvExecutor::UvExecutor(uv_loop_t* loop)
    : loop_(loop),
      idle_(new Idle{}),
      dedicated_(std::make_unique<DedicatedThread>(loop)),
      alive_(std::make_shared<UvExecutor*>(this)) {
  idle_->owner = this;
  uv_idle_init(loop_, &idle_->handle);
  idle_->handle.data = idle_;
}

UvExecutor::~UvExecutor() {
  close();
  *alive_ = nullptr;
}

void UvExecutor::close() {
  posted_.clear();
  dedicated_->close();
  for (auto& [id, timer] : timers_) {
    uv_timer_stop(&timer->handle);
    timer->task = nullptr;
    uv_close(reinterpret_cast<uv_handle_t*>(&timer->handle),
             [](uv_handle_t* handle) { delete static_cast<Timer*>(handle->data); });
  }
  timers_.clear();
  if (idle_) {
    uv_idle_stop(&idle_->handle);
    uv_close(reinterpret_cast<uv_handle_t*>(&idle_->handle),
             [](uv_handle_t* handle) { delete static_cast<Idle*>(handle->data); });
    idle_ = nullptr;
  }
}

void UvExecutor::post(Task task) {
  if (!idle_) return;  // closed: nothing runs any more
  posted_.push_back(std::move(task));
  if (posted_.size() == 1) uv_idle_start(&idle_->handle, &UvExecutor::on_idle);
}

void UvExecutor::on_idle(uv_idle_t* handle) noexcept {
  static_cast<Idle*>(handle->data)->owner->run_posted();
}

void UvExecutor::run_posted() noexcept {
  // Only the tasks present now: what they post runs on the next turn, so the loop keeps
  // polling I/O between generations.
  std::deque<Task> batch;
  batch.swap(posted_);
  if (idle_) uv_idle_stop(&idle_->handle);
  for (auto& task : batch)
    run_guarded("posted task", task);
}

void UvExecutor::run_blocking(Task work, Task done) {
  auto* job = new Work{{}, std::move(work), std::move(done), alive_};
  job->request.data = job;
  ++blocking_in_flight_;
  int status = uv_queue_work(
      loop_, &job->request,
      [](uv_work_t* request) {
        run_guarded("blocking job", static_cast<Work*>(request->data)->work);
      },
      [](uv_work_t* request, int) {
        auto* finished = static_cast<Work*>(request->data);
        if (UvExecutor* owner = *finished->alive) {
          --owner->blocking_in_flight_;
          run_guarded("completion", finished->done);
        }
        delete finished;
      });
  if (status != 0) {
    // Only possible with a null callback; keep the contract anyway: run both on the loop.
    --blocking_in_flight_;
    Task inline_work = std::move(job->work);
    Task inline_done = std::move(job->done);
    delete job;
    post([inline_work, inline_done] {
      inline_work();
      inline_done();
    });
  }
}

std::size_t UvExecutor::blocking_in_flight() const noexcept {
  return blocking_in_flight_ + dedicated_->in_flight();
}

void UvExecutor::run_blocking_dedicated(Task work, Task done) {
  dedicated_->submit(std::move(work), std::move(done));
}

core::Executor::TimerId UvExecutor::start_timer(std::chrono::milliseconds delay, Task task) {
  auto* timer = new Timer{{}, this, next_timer_++, std::move(task)};
  timer->handle.data = timer;
  uv_timer_init(loop_, &timer->handle);
  timers_.emplace(timer->id, timer);
  uv_timer_start(
      &timer->handle,
      [](uv_timer_t* handle) {
        auto* fired = static_cast<Timer*>(handle->data);
        Task task = std::move(fired->task);
        fired->owner->cancel_timer(fired->id);  // closes and frees the handle
        if (task) run_guarded("timer task", task);
      },
      static_cast<std::uint64_t>(delay.count() < 0 ? 0 : delay.count()), 0);
  return timer->id;
}

void UvExecutor::cancel_timer(TimerId id) {
  auto found = timers_.find(id);
  if (found == timers_.end()) return;
  Timer* timer = found->second;
  timers_.erase(found);
  uv_timer_stop(&timer->handle);
  timer->task = nullptr;
  uv_close(reinterpret_cast<uv_handle_t*>(&timer->handle),
           [](uv_handle_t* handle) { delete static_cast<Timer*>(handle->data); });
}

}  // namespace tetherd::stores

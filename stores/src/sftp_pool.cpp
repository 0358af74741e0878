#include "sftp_pool.hpp"

#include <algorithm>

namespace tetherd::stores::sftp {

Pool::Pool(UvExecutor& executor, std::shared_ptr<const SessionSettings> settings, int connections)
    : executor_(executor),
      settings_(std::move(settings)),
      connections_(static_cast<std::size_t>(std::max(connections, 1))) {}

void Pool::prune() {
  sessions_.erase(std::remove_if(sessions_.begin(), sessions_.end(),
                                 [](const SessionPtr& session) { return session->dead(); }),
                  sessions_.end());
}

void Pool::acquire(Acquired done) {
  if (closed_) {
    done(core::StoreError::make(core::Errc::Unavailable, "store closed"));
    return;
  }
  // A connection the server dropped while idle is found before a request is put on it.
  for (auto& session : sessions_)
    session->probe();
  prune();
  SessionPtr best;
  for (auto& session : sessions_) {
    if (session->ready() && (!best || session->outstanding() < best->outstanding())) {
      best = session;
    }
  }
  if (sessions_.size() < connections_ && (!best || best->outstanding() > 0)) start_connect();
  if (best) {
    done(best);
    return;
  }
  waiters_.push_back(std::move(done));
}

void Pool::adopt(SessionPtr session) {
  sessions_.push_back(std::move(session));
  if (on_connected) on_connected(sessions_.back());
}

void Pool::start_connect() {
  if (backoff_pending_ || connecting_ > 0) return;
  if (failures_ == 0) return connect_now();
  auto delay = std::chrono::milliseconds(100) * (1 << std::min(failures_ - 1, 7));
  delay = std::min<std::chrono::milliseconds>(delay, std::chrono::seconds(10));
  backoff_pending_ = true;
  std::weak_ptr<Pool> weak = shared_from_this();
  executor_.start_timer(delay, [weak] {
    auto self = weak.lock();
    if (!self || self->closed_) return;
    self->backoff_pending_ = false;
    self->connect_now();
  });
}

void Pool::connect_now() {
  auto session = std::make_shared<Session>(executor_, settings_);
  sessions_.push_back(session);
  ++connecting_;
  std::weak_ptr<Pool> weak = shared_from_this();
  session->connect([weak, session](core::Result<void> connected) {
    auto self = weak.lock();
    if (!self) return;
    --self->connecting_;
    if (self->closed_) return;
    if (!connected) {
      ++self->failures_;
      self->prune();
      const bool others = std::any_of(self->sessions_.begin(), self->sessions_.end(),
                                      [](const SessionPtr& s) { return s->ready(); });
      if (!others) {
        auto waiters = std::move(self->waiters_);
        self->waiters_.clear();
        for (auto& waiter : waiters)
          waiter(connected.error());
        return;
      }
      // Waiters never stay parked behind a failed connect: the ready sessions serve them
      // (nothing else would wake them until some later connect succeeds).
      self->serve_waiters();
      return;
    }
    self->failures_ = 0;
    if (self->on_connected) self->on_connected(session);
    self->serve_waiters();
  });
}

void Pool::serve_waiters() {
  auto waiters = std::move(waiters_);
  waiters_.clear();
  for (auto& waiter : waiters)
    acquire(std::move(waiter));
}

void Pool::close() {
  closed_ = true;
  auto reason = core::StoreError::make(core::Errc::Unavailable, "store closed");
  auto sessions = std::move(sessions_);
  sessions_.clear();
  for (auto& session : sessions)
    session->shutdown(reason);
  auto waiters = std::move(waiters_);
  waiters_.clear();
  for (auto& waiter : waiters)
    waiter(reason);
}

}  // namespace tetherd::stores::sftp

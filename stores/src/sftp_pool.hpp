#pragma once

// A small pool of SFTP sessions to one server. acquire() hands out the ready session with
// the fewest requests outstanding, and opens another (up to `connections`) while every
// ready one is busy. Sessions are probed first (Session::probe), and dead ones dropped; a failed
// connect is retried by the next acquire after an exponential backoff (100 ms doubling to 10 s),
// and fails the waiters when no other session is ready or on its way.

#include <functional>
#include <memory>
#include <vector>

#include "sftp_session.hpp"

namespace tetherd::stores::sftp {

class Pool : public std::enable_shared_from_this<Pool> {
 public:
  using SessionPtr = std::shared_ptr<Session>;
  using Acquired = std::function<void(core::Result<SessionPtr>)>;

  Pool(UvExecutor& executor, std::shared_ptr<const SessionSettings> settings, int connections);

  /// `done` may run inline (a ready session) or later (after a connect).
  void acquire(Acquired done);
  /// A session connected elsewhere (the one open_sftp_store made) joins the pool.
  void adopt(SessionPtr session);
  /// Shuts every session down; waiters fail with Unavailable.
  void close();
  /// Runs for every session that becomes ready (reconnects included).
  std::function<void(const SessionPtr&)> on_connected;

 private:
  void start_connect();
  void connect_now();
  void serve_waiters();
  void prune();

  UvExecutor& executor_;
  std::shared_ptr<const SessionSettings> settings_;
  std::size_t connections_;
  std::vector<SessionPtr> sessions_;  // ready or connecting
  std::size_t connecting_ = 0;
  std::vector<Acquired> waiters_;
  int failures_ = 0;
  bool backoff_pending_ = false;
  bool closed_ = false;
};

}  // namespace tetherd::stores::sftp

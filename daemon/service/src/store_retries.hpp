#pragma once

// StoreRetries: opens again, after growing pauses, the stores that could not be opened (a
// server down or unreachable), so that the rules waiting for them start once they answer.

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "tetherd/config/config.hpp"
#include "tetherd/core/store.hpp"

namespace tetherd::daemon {

/// The pause before the first attempt, and the longest one (pauses double up to it).
struct StoreRetryPauses {
  std::chrono::milliseconds first{1000};
  std::chrono::milliseconds longest{60000};
};

class StoreRetries {
 public:
  /// Opens a store (asynchronously; the callback runs later on the loop thread).
  using Open = std::function<void(const config::StoreConfig&, core::Callback<core::StorePtr>)>;
  /// What an attempt for the store under `key` gave. A store handed over is the caller's.
  using Answer = std::function<void(const std::string& key, core::Result<core::StorePtr>)>;

  using Pauses = StoreRetryPauses;

  StoreRetries(core::Executor& executor, Open open, Answer answer, Pauses pauses = Pauses());
  ~StoreRetries();
  StoreRetries(const StoreRetries&) = delete;
  StoreRetries& operator=(const StoreRetries&) = delete;

  /// Makes the next attempt for `key` after its pause: Pauses::first at first, doubling
  /// after each attempt up to Pauses::longest. While an attempt is scheduled or under way nothing
  /// changes. Returns the pause before that attempt.
  std::chrono::milliseconds retry(const std::string& key, const config::StoreConfig& config);
  /// Stops trying `key`; a store its attempt under way brings is closed, not answered.
  void forget(const std::string& key);
  /// forget() of every key.
  void clear();
  bool contains(const std::string& key) const { return entries_.count(key) != 0; }

 private:
  struct Entry {
    config::StoreConfig config;
    std::chrono::milliseconds delay{0};  ///< the pause before the next attempt
    std::chrono::milliseconds pause{0};  ///< the pause of the attempt scheduled last
    std::optional<core::Executor::TimerId> timer;
    bool in_flight = false;
    std::uint64_t attempt = 0;  ///< tells an answer of a forgotten entry from a current one
  };
  void attempt(const std::string& key);
  /// Hands an attempt's outcome to the answer; false if nobody waits for it any more.
  bool answered(const std::string& key, std::uint64_t attempt, core::Result<core::StorePtr>& store);

  core::Executor& executor_;
  Open open_;
  Answer answer_;
  Pauses pauses_;
  std::map<std::string, Entry> entries_;
  std::uint64_t attempts_ = 0;
  /// Answers that arrive after this object is gone find it expired.
  std::shared_ptr<StoreRetries*> self_ = std::make_shared<StoreRetries*>(this);
};

}  // namespace tetherd::daemon

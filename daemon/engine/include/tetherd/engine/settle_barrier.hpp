// SettleBarrier: the settle calls a rule has yet to answer.
//
// A call is exact: it completes once every change made in the source before it has been
// mirrored. Each call creates a cookie file in the source; once the watcher has delivered
// the cookie's creation (every event before it came first, a rename pairing allowance
// later) and has walked its polled subtrees since the call, the call takes a threshold:
// the sequence number the rule's next change would get. It is answered once no work with
// a lower sequence number is outstanding. Answering is done here; making and removing the
// cookie, and judging the outcome (errors since the call, errors still standing), is the
// rule's.

#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tetherd::daemon {

/// The outcome of a settle barrier for one rule: ok, or why not.
struct SettleOutcome {
  bool ok = true;
  std::string problem;
};

class SettleBarrier {
 public:
  using Seq = std::uint64_t;
  using Done = std::function<void(SettleOutcome)>;

  /// A new call whose cookie file is named `cookie` (unique); `errors_before` is the
  /// rule's count of failed actions now, handed back to the judge.
  void add(std::string cookie, std::uint64_t errors_before, Done done);

  /// The watcher reported the creation of `name`. True when it is the cookie of a waiting
  /// call that had not seen it yet: the caller removes the marker and, once the rename
  /// pairing allowance has passed, calls cookie_delivered().
  bool cookie_seen(std::string_view name);
  /// The two conditions of a call's threshold; the one that comes second sets it to
  /// `next_seq`. A call already answered is ignored.
  void cookie_delivered(std::string_view cookie, Seq next_seq);
  void watcher_synced(std::string_view cookie, Seq next_seq);

  /// Answers the call of `cookie` (if it still waits) with `outcome`.
  void answer(std::string_view cookie, SettleOutcome outcome);
  /// Answers every waiting call with `outcome` (the rule stops or pauses).
  void answer_all(const SettleOutcome& outcome);
  /// Answers each call whose threshold the oldest outstanding work has reached, with what
  /// `judge` makes of its errors_before.
  void answer_reached(Seq oldest_outstanding,
                      const std::function<SettleOutcome(std::uint64_t errors_before)>& judge);

  bool empty() const noexcept { return waiters_.empty(); }

 private:
  struct Waiter {
    std::string cookie;
    bool cookie_seen = false;
    bool cookie_delivered = false;  ///< and a rename pairing allowance has passed since
    bool watcher_synced = false;    ///< polled subtrees walked since the call
    std::optional<Seq> threshold;   ///< set once both are true
    std::uint64_t errors_before = 0;
    Done done;
  };
  Waiter* find(std::string_view cookie);
  static void take_threshold(Waiter& waiter, Seq next_seq);
  /// Removes the waiters `answerable` picks and calls them back, after the removal (a
  /// callback may add a new call).
  template <typename Pick>
  void answer_where(Pick&& answerable, const std::function<SettleOutcome(const Waiter&)>& outcome);

  std::vector<Waiter> waiters_;
};

}  // namespace tetherd::daemon

// StandingErrors: the paths a rule could not mirror and has not mirrored since, each with
// its last error. settle and status report them until a later look at the path succeeds.
//
// Two kinds: an action that failed (cleared by any later successful look), and a source
// directory the rule could not read (cleared only by a live change to it, its mode or
// owner: a walk's look at the directory entry says nothing about whether it is readable
// now; the caller then walks it again).

#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <map>
#include <string>
#include <string_view>

namespace tetherd::daemon {

class StandingErrors {
 public:
  enum class Kind { action, unreadable_directory };

  /// `path` failed: its error stands (replacing an earlier one there).
  void stand(std::string_view path, Kind kind, std::string message);

  /// What clear() did.
  enum class Cleared { nothing, action, unreadable_directory };
  /// A look at `path` succeeded (`live`: prompted by a change the watcher reported). An
  /// unreadable directory's error goes only for a live look: then the answer says so, and
  /// the caller walks the directory again.
  Cleared clear(const std::string& path, bool live);
  /// Marks the errors standing now: a walk takes one as it begins.
  std::uint64_t mark() const noexcept { return stands_; }
  /// A walk of `subtree` ("" for all) that began at `mark` has ended: it looked at
  /// everything inside afresh, so the errors that stood before it go. Those that stood
  /// since (a difference the walk found, examined and failed while it went on) stay.
  void clear_within(const std::string& subtree,
                    std::uint64_t mark = std::numeric_limits<std::uint64_t>::max());

  bool empty() const noexcept { return errors_.empty(); }
  std::size_t size() const noexcept { return errors_.size(); }
  /// The first standing path (in path order) and its message; empty() must be false.
  const std::string& first_path() const { return errors_.begin()->first; }
  const std::string& first_message() const { return errors_.begin()->second.message; }

 private:
  struct Entry {
    Kind kind = Kind::action;
    std::string message;
    std::uint64_t stood = 0;  ///< the count of stand() calls when it last stood
  };
  std::map<std::string, Entry, std::less<>> errors_;
  std::uint64_t stands_ = 0;
};

}  // namespace tetherd::daemon

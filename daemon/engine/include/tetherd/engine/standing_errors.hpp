// StandingErrors: the paths a rule could not mirror and has not mirrored since, each with
// its last error. settle and status report them until a later look at the path succeeds.
//
// Two kinds: an action that failed (cleared by any later successful look), and a source
// directory the rule could not read (cleared only by a live change to it, its mode or
// owner: a walk's look at the directory entry says nothing about whether it is readable
// now; the caller then walks it again).

#pragma once

#include <cstddef>
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
  /// A walk of `subtree` ("" for all) begins: it looks at everything inside afresh.
  void clear_within(const std::string& subtree);

  bool empty() const noexcept { return errors_.empty(); }
  std::size_t size() const noexcept { return errors_.size(); }
  /// The first standing path (in path order) and its message; empty() must be false.
  const std::string& first_path() const { return errors_.begin()->first; }
  const std::string& first_message() const { return errors_.begin()->second.message; }

 private:
  struct Entry {
    Kind kind = Kind::action;
    std::string message;
  };
  std::map<std::string, Entry, std::less<>> errors_;
};

}  // namespace tetherd::daemon

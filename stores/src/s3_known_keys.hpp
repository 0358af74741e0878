#pragma once

// KnownKeys: what the S3 store knows of the shape of its key space, so that the checks the
// store contract asks for and S3 does not do (no file above a written key, no directory
// where a file goes, nothing where mkdir creates) cost no request where the answer is known.
// Without it a new file cost three requests (a listing of "key/", a HEAD per ancestor, the
// PUT) and a new directory three (HEAD, listing, marker).
//
// What it knows. A prefix "d/" is complete when the store has seen every key below it: a
// recursive listing of d reached its end, or mkdir created d where nothing was (then there
// was no key below). From then on the store's own requests keep the knowledge current:
// every request that may create an object records it (exists(), before it is sent), and a
// successful delete removes it (deleted(), after the answer). Below a complete prefix:
//   - a key not among `files_` is not an object (no file there);
//   - a key not among `dirs_` has no key below it (no directory there).
// Both sets may hold keys that are gone (a failed PUT, a directory whose last key was
// deleted): such a key just gets the real check. A key is left out only when it certainly
// is not there, so a check is skipped only when it would pass.
//
// What it trusts: that nobody else writes under the store's prefix, which the store already
// assumes (it is a mirror target, owned by its rule; see sweep_s3_uploads). A key another
// program creates below a complete prefix after it was seen complete is missed by these
// checks until the store is opened again.
// Memory: one entry per object and per directory under the complete prefixes.

#include <set>
#include <string>
#include <string_view>
#include <unordered_set>

namespace tetherd::stores::s3 {

class KnownKeys {
 public:
  /// Object `key` (full key; a directory marker ends with '/') exists, or may exist once a
  /// request being sent completes: it is a file (a marker: a directory), and each of its
  /// parents is a directory.
  void exists(std::string_view key);
  /// Object `key` was deleted (the server said so).
  void deleted(const std::string& key);
  /// Every key below `prefix` (ending with '/'; "" for the whole bucket) has been seen or
  /// recorded by exists().
  void complete(std::string prefix);

  /// Whether object `key` may exist: false only when it certainly does not.
  bool may_be_file(std::string_view key) const;
  /// Whether some key may lie below `key` + "/": false only when none does.
  bool may_have_children(std::string_view key) const;
  /// Whether nothing is at `key`, neither an object nor keys below it (certainly).
  bool certainly_missing(std::string_view key) const {
    return !may_be_file(key) && !may_have_children(key);
  }

 private:
  /// Whether `key` lies below a complete prefix.
  bool known(std::string_view key) const;

  std::set<std::string, std::less<>> complete_;
  std::unordered_set<std::string> files_;
  /// Directories (full keys, without the '/'); closed under parents: a directory's parents
  /// are in it too, so recording stops at the first parent already there.
  std::unordered_set<std::string> dirs_;
};

}  // namespace tetherd::stores::s3

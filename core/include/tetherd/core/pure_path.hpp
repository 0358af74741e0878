// PurePath: lexical paths with the semantics of CPython's pathlib.PurePosixPath and
// pathlib.PureWindowsPath, following Python 3.13 (the newest release that still has
// is_reserved(); full_match() is 3.13, walk_up is 3.12).
//
// Contract
// - A PurePath never touches the filesystem. It is a normalized value: separators are
//   collapsed, "." segments dropped, ".." kept. Construction never fails: every byte
//   string is a valid POSIX path, and every string a valid Windows path (pathlib accepts
//   them all, including embedded NUL bytes).
// - POSIX paths are bytes. A name that is not valid UTF-8 survives byte for byte.
//   Windows paths are text in UTF-8; bytes that are not valid UTF-8 are carried as they
//   are (each such byte counts as one character, like Python's surrogateescape).
// - Windows (3.12+ ntpath rules): '/' and '\' both separate; drives are "X:" for any
//   character X, UNC shares (\\server\share, always with a root), device paths
//   (\\?\c:, \\.\pipe) and incomplete UNC (\\server). A relative path whose first
//   name reads as a drive (c:x) is shown as .\c:x (3.13), so that str() always parses
//   back to the same path.
// - Operations that pathlib rejects with ValueError throw PathError.
// - Equality, hashing and ordering follow pathlib: Windows paths compare
//   case-insensitively (by str().lower(), reproduced from Unicode 15.1 as Python 3.13
//   has it, final sigma included), a POSIX path never equals a Windows path, and
//   ordering between flavours is by flavour first (posix < windows) where Python would
//   refuse to compare.
// - Deliberate deviations from CPython 3.13 pathlib (tests/pathlib_diff compares every
//   other property, and says why it leaves out the cases these touch):
//   1. Joining (operator/, joinpath) continues from the normalized text of the left
//      side; pathlib keeps the raw strings a path was built from and joins those. The
//      results differ only for Windows UNC drives that the normalization changes: an
//      incomplete UNC drive ("\\server") that absorbs the next name, a share name ending
//      in ':', or a drive spelled with other separators than the one joined to it
//      (pathlib compares drives as written there). The multi-segment constructors do
//      join the raw segments exactly like pathlib.
//   2. Case-insensitive globbing follows re.IGNORECASE (simple lower case plus the sre
//      equivalences such as i/U+0131 and s/U+017F), except that characters above U+FFFF
//      in a bracket set match their case variants, where CPython's re misses them.
//   3. Paths of different flavours are ordered (posix first); Python raises TypeError.
//   4. PathError messages quote paths plainly, not with Python's repr().
#pragma once

#include <compare>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace tetherd::core {

enum class PathFlavour { posix, windows };

// A path operation that pathlib rejects with ValueError (invalid name or suffix, empty
// name, unrelated paths for relative_to, relative path for as_uri, empty pattern).
class PathError : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

class PurePath {
 public:
  // An empty path ("."). Exists so PurePath can live in containers.
  PurePath() noexcept = default;
  explicit PurePath(PathFlavour flavour) noexcept;
  // One segment, or several joined like pathlib: a segment with a root (or, on Windows,
  // a different drive) replaces what came before it.
  PurePath(PathFlavour flavour, std::string_view path);
  PurePath(PathFlavour flavour, std::initializer_list<std::string_view> segments);
  PurePath(PathFlavour flavour, const std::vector<std::string>& segments);

  static PurePath posix(std::string_view path) { return {PathFlavour::posix, path}; }
  static PurePath windows(std::string_view path) { return {PathFlavour::windows, path}; }

  PathFlavour flavour() const noexcept { return flavour_; }
  // str(path): "." for the empty path.
  std::string str() const;
  // The normalized text without the "." shown for an empty path ("" for it).
  std::string_view view() const noexcept { return text_; }
  bool empty() const noexcept { return text_.empty(); }

  std::string drive() const;
  std::string root() const;
  std::string anchor() const;
  // The anchor (if any) followed by the names.
  std::vector<std::string> parts() const;
  // parts() without the anchor (pathlib's private _tail).
  std::vector<std::string> names() const;
  std::size_t name_count() const noexcept { return tail_.size(); }

  // The logical parent; the path itself when it has no names.
  PurePath parent() const;
  // Every logical ancestor, nearest first (empty when the path has no names).
  std::vector<PurePath> parents() const;

  std::string name() const;
  std::string stem() const;
  std::string suffix() const;
  std::vector<std::string> suffixes() const;

  // Throws PathError: invalid name (empty, ".", or containing a separator) or a path
  // with an empty name.
  PurePath with_name(std::string_view name) const;
  // Throws PathError: empty stem for a name with a suffix, or any with_name() error.
  PurePath with_stem(std::string_view stem) const;
  // Throws PathError: path with an empty name, suffix that is not "" and not "." followed
  // by at least one character, or any with_name() error (a separator in the suffix).
  PurePath with_suffix(std::string_view suffix) const;

  // The path relative to `other`. walk_up (Python 3.12) allows ".." steps. Throws
  // PathError when not a subpath (walk_up false), when the anchors differ, or when a ".."
  // in `other` would have to be walked. A string is parsed with this path's flavour.
  PurePath relative_to(const PurePath& other, bool walk_up = false) const;
  PurePath relative_to(std::string_view other, bool walk_up = false) const;
  bool is_relative_to(const PurePath& other) const;
  bool is_relative_to(std::string_view other) const;

  // POSIX: has a root. Windows: ntpath.isabs() of str(): drive and root, or a UNC or
  // device prefix ("\\" at the start).
  bool is_absolute() const noexcept;
  // Python 3.13 (ntpath.isreserved): Windows only. True when any name ends in "." or " "
  // (other than "." and ".."), contains one of the characters  " * : < > ? | or an ASCII
  // control character, or is a DOS device name (CON, PRN, AUX, NUL, CONIN$, CONOUT$,
  // COM1-9, LPT1-9 and COM/LPT with superscript 1, 2, 3) possibly followed by spaces and
  // a ".ext" (so "nul.txt" and "NUL .tar.gz" are reserved). Always false for POSIX.
  bool is_reserved() const;

  // Right-anchored glob match of each name (Python 3.12+): a relative pattern matches
  // the last names, an anchored one the whole path. "**" is not recursive here. Case
  // sensitivity defaults to the flavour's (POSIX sensitive, Windows insensitive).
  // Throws PathError for an empty pattern. The pattern is parsed with this flavour.
  bool match(std::string_view pattern, std::optional<bool> case_sensitive = {}) const;
  // Python 3.13 full_match(): the pattern must match the whole path; "**" matches any
  // number of names.
  bool full_match(std::string_view pattern, std::optional<bool> case_sensitive = {}) const;

  // str() with "/" separators.
  std::string as_posix() const;
  // file: URI. Throws PathError for a path that is not absolute. Bytes outside
  // A-Z a-z 0-9 _ . - ~ / are percent-encoded (urllib.parse.quote_from_bytes).
  std::string as_uri() const;

  // pathlib's `path / segment` and joinpath(), continuing from the normalized text
  // (deviation 1). A Windows path joined to a POSIX path has '\\' turned into '/'.
  PurePath joinpath(std::string_view segment) const;
  PurePath joinpath(const PurePath& other) const;
  PurePath joinpath(std::initializer_list<std::string_view> segments) const;
  friend PurePath operator/(const PurePath& left, std::string_view right) {
    return left.joinpath(right);
  }
  friend PurePath operator/(const PurePath& left, const PurePath& right) {
    return left.joinpath(right);
  }

  friend bool operator==(const PurePath& left, const PurePath& right);
  // Python orders by str().lower() (Windows) split on the separator. Flavours order
  // posix first (deviation 3).
  friend std::strong_ordering operator<=>(const PurePath& left, const PurePath& right);
  std::size_t hash() const noexcept;

 private:
  struct Span {
    std::size_t offset = 0;
    std::size_t size = 0;
  };
  friend struct PurePathBuilder;

  std::string_view tail_at(std::size_t index) const noexcept {
    return std::string_view(text_).substr(tail_[index].offset, tail_[index].size);
  }
  // Formats drive + root + names like pathlib's _format_parsed_parts.
  static PurePath from_parts(PathFlavour flavour, std::string_view drive, std::string_view root,
                             const std::vector<std::string_view>& names);
  // The text of this path cut to its first `count` names (the anchor for 0).
  std::string_view prefix_text(std::size_t count) const noexcept;
  // The case-normalized text used for equality, hashing and ordering.
  std::string normcase() const;
  bool same_anchor_and_prefix(const PurePath& ancestor) const;

  PathFlavour flavour_ = PathFlavour::posix;
  std::string text_;  // normalized string; "" for the empty path
  std::size_t drive_size_ = 0;
  std::size_t root_size_ = 0;
  std::vector<Span> tail_;  // names, as spans of text_
};

}  // namespace tetherd::core

template <>
struct std::hash<tetherd::core::PurePath> {
  std::size_t operator()(const tetherd::core::PurePath& path) const noexcept { return path.hash(); }
};

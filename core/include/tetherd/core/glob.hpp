#pragma once

// Glob patterns for rule include/exclude lists.
//
// Syntax (a pattern is compiled once; matching never throws and never allocates):
//   *        any sequence of characters within one path segment (never crosses '/')
//   ?        exactly one character within a segment
//   [...]    one character from a class: single characters and ranges (`a-z`); `[!...]` or
//            `[^...]` negates; a `]` right after `[` (or after `[!`/`[^`) is literal; a `-` first
//            or last is literal; `\` escapes inside a class too. POSIX bracket expressions
//            (`[:alpha:]`, `[.x.]`, `[=x=]`) are not supported and are rejected.
//   \c       the character c, literally (any character, including `*?[]\`; not '/')
//   **       as a whole segment: zero or more whole segments (`a/**/b` matches `a/b`, `a/x/y/b`;
//            `a/**` matches `a` and everything beneath it). Inside a segment (`a**b`) it is `*`.
//   /p       a leading '/' anchors the pattern at the rule's source root: its first segment must
//            match the path's first segment.
//   p        without a leading '/', the pattern is right-anchored at any segment boundary: it
//            matches if it matches the path's last N segments for some N (`*.tmp` matches
//            `a/b/x.tmp`, `b/*.tmp` matches `a/b/x.tmp`; it is exactly `**/p`).
//   p/       a trailing '/' makes the pattern match directories only.
// Matching is case-sensitive, and a leading '.' is not special (`*` matches `.hidden`).
//
// Characters: paths are arbitrary bytes, not necessarily UTF-8. A path segment (and each literal
// run and class member of the pattern) is read as a sequence of characters: a well-formed UTF-8
// sequence (shortest form, no surrogates, at most U+10FFFF) is one character; any other byte is
// a character of its own. So `?` matches `é` (2 bytes) as one character, and also a lone 0xFF
// byte. Ranges in classes compare code points; stray bytes sort after every code point (a range
// of stray bytes such as `[\x80-\xFF]`, written as raw bytes, matches stray bytes only).
//
// Invalid patterns throw GlobSyntaxError: an empty pattern, an unterminated `[`, an empty range
// (`[z-a]`), a trailing lone `\`, an escaped '/' or a '/' inside a class, a NUL byte, an empty
// segment (`a//b`), a `.` or `..` segment, a pattern that is only '/'.
//
// Paths given to matches() are relative to the rule's source root, '/'-separated, without a
// leading or trailing '/' (the empty path is the root itself: zero segments, matched only by
// patterns made of `**`). Other inputs (empty segments, a trailing '/') are accepted and get a
// well-defined result (an empty segment is a segment of zero characters) but are not meaningful.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace tetherd::core {

/// A pattern that cannot be compiled. what() is a complete sentence for the user, e.g.
///   invalid glob "a/[bc": unterminated '[' (no closing ']') at byte offset 2
/// prefixed with the context ("exclude[1]: ") when one was given. Non-printable bytes of the
/// pattern are shown as \xNN.
class GlobSyntaxError : public std::invalid_argument {
 public:
  /// `reason` says what is wrong in plain words; `offset` is the byte offset in `pattern` where
  /// the problem was found; `context` (may be empty) says where the pattern came from.
  GlobSyntaxError(std::string pattern, std::size_t offset, std::string reason,
                  std::string context = {});

  /// Byte offset in pattern() where the problem is.
  std::size_t offset() const noexcept;
  /// The offending pattern, exactly as given.
  const std::string& pattern() const noexcept;
  /// What is wrong, without the pattern or the offset, e.g. "unterminated '['".
  const std::string& reason() const noexcept;
  /// Where the pattern came from (e.g. "exclude[1]"), or empty.
  const std::string& context() const noexcept;

  /// The same error, with a context (e.g. "rules[0].exclude[1]") in front of the message.
  GlobSyntaxError with_context(std::string context) const;

 private:
  struct Details;
  // Shared so that copying the exception (as throw/catch may do) never throws.
  std::shared_ptr<const Details> details_;
};

/// A compiled glob pattern. Immutable after construction; safe to share between threads.
class GlobPattern {
 public:
  /// Compiles `pattern`. Throws GlobSyntaxError if it is invalid (see the syntax above).
  explicit GlobPattern(std::string_view pattern);

  // Out of line: the compiled form is only defined in glob.cpp.
  ~GlobPattern();
  GlobPattern(const GlobPattern& other);
  GlobPattern& operator=(const GlobPattern& other);
  GlobPattern(GlobPattern&& other) noexcept;
  GlobPattern& operator=(GlobPattern&& other) noexcept;

  /// True if the pattern matches `relative_path` (relative to the source root, '/'-separated).
  /// `is_dir` says whether the path is a directory (for patterns with a trailing '/').
  /// Worst case O(pattern length x path length); no exponential backtracking on any input.
  bool matches(std::string_view relative_path, bool is_dir) const noexcept;

  /// True if, for every possible name x, the pattern matches `relative_dir + "/" + x` whether x
  /// is a file or a directory (e.g. `**/.cache/**` or `build/*` for the directory `build`).
  /// A filter uses this to stop watching a directory whose contents are all excluded.
  /// `relative_dir` is empty for the source root. A conservative answer: false means "not
  /// known to match every child".
  bool matches_every_child_of(std::string_view relative_dir) const noexcept;

  /// The pattern exactly as given to the constructor.
  const std::string& text() const noexcept { return text_; }
  /// True if the pattern starts with '/' (matched from the first path segment).
  bool anchored() const noexcept { return anchored_; }
  /// True if the pattern ends with '/' (matches directories only).
  bool directory_only() const noexcept { return directory_only_; }

  // Compiled form; public only so the matcher's free helpers can see it.
  struct Token;
  struct Segment;

 private:
  std::string text_;
  bool anchored_ = false;
  bool directory_only_ = false;
  // Unanchored patterns are stored with a leading `**` segment. Consecutive `**` are merged.
  std::vector<Segment> segments_;
};

/// Puts a '\' before every `*`, `?`, `[`, `]` and `\` in `literal`, so that
/// GlobPattern("/" + escape_glob(p)) matches exactly the path p. '/' is kept as a separator, so
/// the result is still invalid for a p with empty, `.` or `..` segments.
std::string escape_glob(std::string_view literal);

}  // namespace tetherd::core

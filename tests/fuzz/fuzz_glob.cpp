// libFuzzer target for GlobPattern and PathFilter.
//
// Input: "PATTERN\nPATH"; a PATH ending in '/' is a directory (the '/' is removed). Without a
// '\n' the whole input is the pattern and also the path. Checks: no crash/UB/leak/timeout, and
//   - an invalid pattern throws GlobSyntaxError (nothing else) with an offset inside it;
//   - a directory-only pattern never matches a file; is_dir only ever narrows, never widens;
//   - an anchored match implies the unanchored pattern matches too, and an unanchored match of
//     PATH implies a match of "x/PATH" (right-anchoring);
//   - matches_every_child_of(PATH) implies that PATH's children match;
//   - a pattern made of PATH's escaped segments matches PATH (unless PATH has '.'/'..'/empty
//     segments, which make it invalid: see escape_glob);
//   - PathFilter with the pattern as exclude never includes what it matches.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>

#include "tetherd/core/glob.hpp"
#include "tetherd/core/path_filter.hpp"

namespace {

using tetherd::core::GlobPattern;
using tetherd::core::GlobSyntaxError;

void require(bool condition) {
  if (!condition) std::abort();
}

std::optional<GlobPattern> compile(std::string_view text) {
  try {
    return GlobPattern(text);
  } catch (const GlobSyntaxError& error) {
    require(error.offset() <= text.size());
    require(error.what()[0] != '\0');
    require(error.pattern() == text);
    return std::nullopt;
  }
}

bool has_empty_segment(std::string_view path) {
  return path.empty() || path.front() == '/' || path.back() == '/' ||
         path.find("//") != std::string_view::npos;
}

bool has_bad_segment(std::string_view path) {
  if (path.empty() || path.find('\0') != std::string_view::npos) return true;
  std::size_t start = 0;
  for (;;) {
    const std::size_t slash = path.find('/', start);
    const std::string_view segment = path.substr(start, slash - start);
    if (segment.empty() || segment == "." || segment == "..") return true;
    if (slash == std::string_view::npos) return false;
    start = slash + 1;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const std::size_t newline = input.find('\n');
  const std::string_view pattern_text = input.substr(0, newline);
  std::string path(newline == std::string_view::npos ? input : input.substr(newline + 1));
  bool is_dir = false;
  if (!path.empty() && path.back() == '/') {
    is_dir = true;
    path.pop_back();
  }

  if (const std::optional<GlobPattern> pattern = compile(pattern_text)) {
    const bool as_file = pattern->matches(path, false);
    const bool as_dir = pattern->matches(path, true);
    require(!as_file || as_dir);
    if (pattern->directory_only()) require(!as_file);
    const bool matched = is_dir ? as_dir : as_file;

    if (pattern->anchored() && matched) {
      const std::optional<GlobPattern> unanchored = compile(pattern_text.substr(1));
      require(unanchored.has_value() && unanchored->matches(path, is_dir));
    }
    if (!pattern->anchored() && matched && !path.empty()) {
      require(pattern->matches(std::string("x/").append(path), is_dir));
    }
    if (!pattern->anchored() && (path.empty() || !has_empty_segment(path))) {
      // Right-anchoring by definition: the anchored pattern matches some tail of the path that
      // starts at a segment boundary, or the empty tail (this also checks the matcher's
      // fixed-tail fast path against its general algorithm).
      const std::optional<GlobPattern> anchored = compile(std::string("/").append(pattern_text));
      require(anchored.has_value());
      bool some_tail = anchored->matches("", is_dir);
      for (std::size_t start = 0; !some_tail && start < path.size();) {
        some_tail = anchored->matches(std::string_view(path).substr(start), is_dir);
        const std::size_t slash = path.find('/', start);
        if (slash == std::string::npos) break;
        start = slash + 1;
      }
      require(some_tail == matched);
    }
    if (pattern->matches_every_child_of(path)) {
      const std::string prefix = path.empty() ? std::string() : path + "/";
      for (const char* child : {"x", "\xc3\xa9", "\xff", "*"}) {
        require(pattern->matches(prefix + child, false));
        require(pattern->matches(prefix + child, true));
      }
    }

    const tetherd::core::PathFilter filter({}, {std::string(pattern_text)});
    const tetherd::core::FilterDecision decision = filter.decide(path, is_dir);
    require(decision.included == filter.includes(path, is_dir));
    if (matched) require(!decision.included);
    if (!path.empty() && !filter.should_descend(path)) {
      require(!filter.includes(path + "/x", false));
    }
    (void)tetherd::core::describe(decision);
  }

  const std::optional<GlobPattern> literal =
      compile(std::string("/").append(tetherd::core::escape_glob(path)));
  if (!has_bad_segment(path)) {
    require(literal.has_value() && literal->matches(path, false) && literal->matches(path, true));
  } else if (path.empty() || path.back() != '/') {
    // A trailing '/' leaves a valid directory-only pattern; any other bad segment is invalid.
    require(!literal.has_value());
  }
  return 0;
}

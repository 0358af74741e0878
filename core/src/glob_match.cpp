// GlobPattern matching. Both levels (characters within a segment, segments within a path) use
// the two-pointer star algorithm: every element other than a star consumes exactly one unit,
// so on a mismatch it suffices to let the most recent star absorb one more unit and retry from
// there. That is O(pattern x subject) in the worst case, never exponential, and allocates
// nothing.

#include "glob_chars.hpp"
#include "glob_compiled.hpp"
#include "tetherd/core/glob.hpp"

namespace tetherd::core {

namespace {

using Token = GlobPattern::Token;
using Segment = GlobPattern::Segment;

constexpr std::size_t none = static_cast<std::size_t>(-1);

bool class_contains(const Token& token, std::uint32_t value) noexcept {
  bool found = false;
  for (const Token::Range& range : token.ranges) {
    if (value >= range.first && value <= range.last) {
      found = true;
      break;
    }
  }
  return found != token.negated;
}

bool token_matches(const Token& token, std::uint32_t value) noexcept {
  switch (token.kind) {
    case Token::Kind::literal:
      return token.value == value;
    case Token::Kind::any_char:
      return true;
    case Token::Kind::char_class:
      return class_contains(token, value);
    case Token::Kind::star:
      break;
  }
  return false;
}

bool match_tokens(const std::vector<Token>& tokens, std::string_view text) noexcept {
  const std::size_t count = tokens.size();
  std::size_t token_index = 0;
  std::size_t position = 0;
  std::size_t star_token = none;
  std::size_t star_position = 0;
  while (position < text.size()) {
    if (token_index < count && tokens[token_index].kind == Token::Kind::star) {
      star_token = token_index++;
      star_position = position;
      continue;
    }
    if (token_index < count) {
      const glob_chars::Char ch = glob_chars::read_char(text, position);
      if (token_matches(tokens[token_index], ch.value)) {
        ++token_index;
        position += ch.length;
        continue;
      }
    }
    if (star_token == none) return false;
    // The last star absorbs one more character.
    star_position += glob_chars::read_char(text, star_position).length;
    position = star_position;
    token_index = star_token + 1;
  }
  while (token_index < count && tokens[token_index].kind == Token::Kind::star)
    ++token_index;
  return token_index == count;
}

bool match_segment(const Segment& segment, std::string_view text) noexcept {
  switch (segment.kind) {
    case Segment::Kind::literal:
      return text == segment.literal;
    case Segment::Kind::any_segment:
      return true;
    case Segment::Kind::suffix:
      return text.size() >= segment.literal.size() &&
             text.substr(text.size() - segment.literal.size()) == segment.literal;
    case Segment::Kind::wildcard:
      return match_tokens(segment.tokens, text);
    case Segment::Kind::double_star:
      break;  // handled by match_segments
  }
  return false;
}

/// Offset just past the end of the segment starting at `start` (past its '/', or size() + 1).
std::size_t next_segment(std::string_view path, std::size_t start) noexcept {
  const std::size_t slash = path.find('/', start);
  return slash == std::string_view::npos ? path.size() + 1 : slash + 1;
}

}  // namespace

namespace glob_detail {

/// Offset where the last `count` segments of `path` begin, or none if the path has
/// fewer than `count` segments. The empty path has no segments.
std::size_t tail_start(std::string_view path, std::size_t count) noexcept {
  std::size_t start = path.size() + 1;  // as if a "/" followed the path
  for (std::size_t i = 0; i < count; ++i) {
    if (start == 0 || path.empty()) return none;
    const std::size_t previous_end = start - 1;  // a '/' or path.size()
    const std::size_t slash =
        previous_end == 0 ? std::string_view::npos : path.rfind('/', previous_end - 1);
    start = slash == std::string_view::npos ? 0 : slash + 1;
  }
  return start;
}

bool match_segments(const Segment* segments, std::size_t count, std::string_view path) noexcept {
  // Fast path for the common unanchored pattern, `**` followed by a fixed number of segments
  // (`*.jpg`, `b/*.tmp`): only the path's last segments can match, so skip the search.
  if (count >= 1 && segments[0].kind == Segment::Kind::double_star) {
    bool fixed_tail = true;
    for (std::size_t i = 1; fixed_tail && i < count; ++i) {
      fixed_tail = segments[i].kind != Segment::Kind::double_star;
    }
    if (fixed_tail) {
      if (count == 1) return true;  // `**` alone matches every path
      const std::size_t start = tail_start(path, count - 1);
      if (start == none) return false;
      // A tail starting at the very end is one empty segment (path "a/"), not zero segments.
      if (start == path.size()) return match_segment(segments[1], std::string_view());
      return match_segments(segments + 1, count - 1, path.substr(start));
    }
  }

  // Segment starts are byte offsets; `end` means no segment is left. The empty path has none.
  const std::size_t end = path.size() + 1;
  std::size_t position = path.empty() ? end : 0;
  std::size_t index = 0;
  std::size_t star_index = none;
  std::size_t star_position = 0;
  while (position < end) {
    if (index < count && segments[index].kind == Segment::Kind::double_star) {
      star_index = index++;
      star_position = position;
      continue;
    }
    const std::size_t next = next_segment(path, position);
    if (index < count &&
        match_segment(segments[index], path.substr(position, next - 1 - position))) {
      ++index;
      position = next;
      continue;
    }
    if (star_index == none) return false;
    // The last `**` absorbs one more segment.
    star_position = next_segment(path, star_position);
    position = star_position;
    index = star_index + 1;
  }
  while (index < count && segments[index].kind == Segment::Kind::double_star)
    ++index;
  return index == count;
}

}  // namespace glob_detail

bool GlobPattern::matches(std::string_view relative_path, bool is_dir) const noexcept {
  if (directory_only_ && !is_dir) return false;
  return glob_detail::match_segments(segments_.data(), segments_.size(), relative_path);
}

bool GlobPattern::matches_every_child_of(std::string_view relative_dir) const noexcept {
  // `P/*` and `P/**` match every child of each directory P matches (for `P/**` also deeper
  // paths). A trailing '/' restricts the pattern to directories, so files would escape it.
  if (directory_only_ || segments_.empty()) return false;
  const Segment& last = segments_.back();
  if (last.kind == Segment::Kind::double_star && segments_.size() == 1) return true;  // `**`
  if (last.kind != Segment::Kind::double_star && last.kind != Segment::Kind::any_segment) {
    return false;
  }
  return glob_detail::match_segments(segments_.data(), segments_.size() - 1, relative_dir);
}

}  // namespace tetherd::core

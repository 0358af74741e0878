// GlobPattern construction: parses and validates the pattern text into segments and tokens.
// Also GlobSyntaxError and escape_glob.

#include <utility>

#include "glob_chars.hpp"
#include "glob_compiled.hpp"
#include "tetherd/core/glob.hpp"

namespace tetherd::core {

// ---------------------------------------------------------------------------------------------
// GlobSyntaxError

struct GlobSyntaxError::Details {
  std::string pattern;
  std::size_t offset;
  std::string reason;
  std::string context;
};

namespace {

std::string syntax_message(const std::string& pattern, std::size_t offset,
                           const std::string& reason, const std::string& context) {
  std::string message;
  // Appended piece by piece: gcc 12 -O3 gives false -Wrestrict errors on chained operator+.
  if (!context.empty()) message.append(context).append(": ");
  message += "invalid glob \"";
  glob_chars::append_printable(message, pattern);
  message.append("\": ").append(reason).append(" at byte offset ").append(std::to_string(offset));
  return message;
}

}  // namespace

GlobSyntaxError::GlobSyntaxError(std::string pattern, std::size_t offset, std::string reason,
                                 std::string context)
    : std::invalid_argument(syntax_message(pattern, offset, reason, context)),
      details_(std::make_shared<const Details>(
          Details{std::move(pattern), offset, std::move(reason), std::move(context)})) {}

std::size_t GlobSyntaxError::offset() const noexcept {
  return details_->offset;
}
const std::string& GlobSyntaxError::pattern() const noexcept {
  return details_->pattern;
}
const std::string& GlobSyntaxError::reason() const noexcept {
  return details_->reason;
}
const std::string& GlobSyntaxError::context() const noexcept {
  return details_->context;
}

GlobSyntaxError GlobSyntaxError::with_context(std::string context) const {
  return GlobSyntaxError(details_->pattern, details_->offset, details_->reason, std::move(context));
}

// ---------------------------------------------------------------------------------------------
// Compiler

namespace {

using Token = GlobPattern::Token;
using Segment = GlobPattern::Segment;

/// Parses one pattern. `position` walks the pattern; every error names the offset where the
/// problem starts.
class Compiler {
 public:
  explicit Compiler(std::string_view pattern) : pattern_(pattern) {}

  [[noreturn]] void fail(std::size_t offset, const char* reason) const {
    throw GlobSyntaxError(std::string(pattern_), offset, reason);
  }

  /// Parses one segment starting at position_, up to (not including) an unescaped '/' or the
  /// end. Appends it to `segments` (merging consecutive `**`).
  void parse_segment(std::vector<Segment>& segments) {
    const std::size_t start = position_;
    Segment segment;
    std::string pending;  // literal bytes not yet turned into tokens
    bool has_wildcards = false;

    while (position_ < pattern_.size() && pattern_[position_] != '/') {
      const char c = pattern_[position_];
      if (c == '\\') {
        if (position_ + 1 >= pattern_.size()) {
          fail(position_, "a trailing '\\' escapes nothing (write '\\\\' for a backslash)");
        }
        if (pattern_[position_ + 1] == '/') {
          fail(position_, "'/' cannot be escaped: it always separates path segments");
        }
        pending.push_back(pattern_[position_ + 1]);
        position_ += 2;
      } else if (c == '*') {
        flush_literal(pending, segment.tokens);
        has_wildcards = true;
        // `**` inside a segment is `*`: merge runs of stars.
        if (segment.tokens.empty() || segment.tokens.back().kind != Token::Kind::star) {
          segment.tokens.push_back(Token{Token::Kind::star, false, 0, {}});
        }
        ++position_;
      } else if (c == '?') {
        flush_literal(pending, segment.tokens);
        has_wildcards = true;
        segment.tokens.push_back(Token{Token::Kind::any_char, false, 0, {}});
        ++position_;
      } else if (c == '[') {
        flush_literal(pending, segment.tokens);
        has_wildcards = true;
        segment.tokens.push_back(parse_class());
      } else {
        pending.push_back(c);
        ++position_;
      }
    }

    const std::string_view raw = pattern_.substr(start, position_ - start);
    if (raw.empty()) fail(start, "empty path segment ('//' or a segment with nothing in it)");
    if (raw == "**") {
      if (segments.empty() || segments.back().kind != Segment::Kind::double_star) {
        segment.kind = Segment::Kind::double_star;
        segment.tokens.clear();
        segments.push_back(std::move(segment));
      }
      return;
    }
    if (!has_wildcards) {
      if (pending == "." || pending == "..") {
        fail(start, "'.' and '..' segments are not allowed (paths are relative and normalized)");
      }
      segment.kind = Segment::Kind::literal;
      segment.literal = std::move(pending);
      segments.push_back(std::move(segment));
      return;
    }
    // A suffix literal may use the byte-wise fast path only if it cannot continue a character
    // begun before it, i.e. it does not start with a UTF-8 continuation byte.
    const bool suffix_safe =
        !pending.empty() && (static_cast<unsigned char>(pending.front()) & 0xC0U) != 0x80U;
    flush_literal(pending, segment.tokens);
    classify(segment, suffix_safe);
    segments.push_back(std::move(segment));
  }

  std::size_t position() const noexcept { return position_; }
  void skip(std::size_t count) noexcept { position_ += count; }

 private:
  /// Turns accumulated literal bytes into one token per character. The bytes are decoded as one
  /// run, exactly as the path will be, so an escaped multi-byte character stays one character.
  static void flush_literal(std::string& pending, std::vector<Token>& tokens) {
    for (std::size_t i = 0; i < pending.size();) {
      const glob_chars::Char ch = glob_chars::read_char(pending, i);
      tokens.push_back(Token{Token::Kind::literal, false, ch.value, {}});
      i += ch.length;
    }
    pending.clear();
  }

  /// Chooses the fastest equivalent matcher for a wildcard segment.
  static void classify(Segment& segment, bool suffix_safe) {
    const auto& tokens = segment.tokens;
    if (tokens.size() == 1 && tokens[0].kind == Token::Kind::star) {
      segment.kind = Segment::Kind::any_segment;
      segment.tokens.clear();
      return;
    }
    bool star_then_literals = tokens.size() >= 2 && tokens[0].kind == Token::Kind::star;
    for (std::size_t i = 1; star_then_literals && i < tokens.size(); ++i) {
      star_then_literals = tokens[i].kind == Token::Kind::literal;
    }
    if (star_then_literals && suffix_safe) {
      segment.kind = Segment::Kind::suffix;
      for (std::size_t i = 1; i < tokens.size(); ++i)
        append_char(segment.literal, tokens[i].value);
      segment.tokens.clear();
      return;
    }
    segment.kind = Segment::Kind::wildcard;
  }

  /// Appends the bytes of a character value (inverse of glob_chars::read_char).
  static void append_char(std::string& out, std::uint32_t value) {
    if (value >= glob_chars::stray_byte_base) {
      out.push_back(static_cast<char>(value - glob_chars::stray_byte_base));
    } else if (value < 0x80U) {
      out.push_back(static_cast<char>(value));
    } else if (value < 0x800U) {
      out.push_back(static_cast<char>(0xC0U | (value >> 6U)));
      out.push_back(static_cast<char>(0x80U | (value & 0x3FU)));
    } else if (value < 0x10000U) {
      out.push_back(static_cast<char>(0xE0U | (value >> 12U)));
      out.push_back(static_cast<char>(0x80U | ((value >> 6U) & 0x3FU)));
      out.push_back(static_cast<char>(0x80U | (value & 0x3FU)));
    } else {
      out.push_back(static_cast<char>(0xF0U | (value >> 18U)));
      out.push_back(static_cast<char>(0x80U | ((value >> 12U) & 0x3FU)));
      out.push_back(static_cast<char>(0x80U | ((value >> 6U) & 0x3FU)));
      out.push_back(static_cast<char>(0x80U | (value & 0x3FU)));
    }
  }

  /// Reads one class member character at position_ (handling `\`), advancing past it.
  std::uint32_t class_char(std::size_t class_start) {
    bool escaped = false;
    if (pattern_[position_] == '\\') {
      escaped = true;
      ++position_;
      if (position_ >= pattern_.size()) fail(class_start, "unterminated '[' (no closing ']')");
    }
    if (pattern_[position_] == '/') {
      fail(position_, "'/' cannot appear inside a character class");
    }
    if (!escaped && pattern_[position_] == '[' && position_ + 1 < pattern_.size() &&
        (pattern_[position_ + 1] == ':' || pattern_[position_ + 1] == '.' ||
         pattern_[position_ + 1] == '=')) {
      fail(position_,
           "POSIX bracket expressions like [:alpha:] are not supported (write the "
           "characters or a range, or '\\[' for a literal '[')");
    }
    const glob_chars::Char ch = glob_chars::read_char(pattern_, position_);
    position_ += ch.length;
    return ch.value;
  }

  /// Parses `[...]` starting at position_ (which is at '[').
  Token parse_class() {
    const std::size_t class_start = position_;
    Token token{Token::Kind::char_class, false, 0, {}};
    ++position_;
    if (position_ < pattern_.size() && (pattern_[position_] == '!' || pattern_[position_] == '^')) {
      token.negated = true;
      ++position_;
    }
    bool first = true;
    for (;;) {
      if (position_ >= pattern_.size()) fail(class_start, "unterminated '[' (no closing ']')");
      const char c = pattern_[position_];
      if (c == ']' && !first) {
        ++position_;
        return token;
      }
      first = false;
      const std::size_t member_start = position_;
      const std::uint32_t low = class_char(class_start);
      std::uint32_t high = low;
      if (position_ + 1 < pattern_.size() && pattern_[position_] == '-' &&
          pattern_[position_ + 1] != ']') {
        ++position_;
        high = class_char(class_start);
        if (high < low) fail(member_start, "empty range in character class (first > last)");
      }
      token.ranges.push_back(Token::Range{low, high});
    }
  }

  std::string_view pattern_;
  std::size_t position_ = 0;
};

}  // namespace

GlobPattern::GlobPattern(std::string_view pattern) : text_(pattern) {
  Compiler compiler(pattern);
  if (pattern.empty()) compiler.fail(0, "the pattern is empty");
  if (const auto nul = pattern.find('\0'); nul != std::string_view::npos) {
    compiler.fail(nul, "NUL byte in pattern");
  }
  if (pattern.front() == '/') {
    anchored_ = true;
    compiler.skip(1);
    if (pattern.size() == 1) compiler.fail(0, "a pattern cannot be only '/'");
  } else {
    // Right-anchored at any segment boundary: exactly `**/pattern`.
    segments_.push_back(Segment{Segment::Kind::double_star, {}, {}});
  }
  for (;;) {
    compiler.parse_segment(segments_);
    if (compiler.position() >= pattern.size()) break;
    compiler.skip(1);  // the '/'
    if (compiler.position() == pattern.size()) {
      directory_only_ = true;
      break;
    }
  }
}

GlobPattern::~GlobPattern() = default;
GlobPattern::GlobPattern(const GlobPattern& other) = default;
GlobPattern& GlobPattern::operator=(const GlobPattern& other) = default;
GlobPattern::GlobPattern(GlobPattern&& other) noexcept = default;
GlobPattern& GlobPattern::operator=(GlobPattern&& other) noexcept = default;

std::string escape_glob(std::string_view literal) {
  std::string out;
  out.reserve(literal.size());
  for (const char c : literal) {
    if (c == '*' || c == '?' || c == '[' || c == ']' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  return out;
}

}  // namespace tetherd::core

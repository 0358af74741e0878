// Glob matching for PurePath::match() and full_match(): the regular expressions that
// Python 3.13's glob.translate() builds (include_hidden=True), evaluated without a regex
// engine. Every construct translate() emits is a character test, a bounded or unbounded
// repetition of one, or an optional ".+sep" group, so a match is decided by one forward
// pass per token over the set of reachable positions: O(tokens x characters), never
// exponential.
#include <algorithm>
#include <utility>

#include "pure_path_internal.hpp"

namespace tetherd::core {

namespace path_detail {

namespace {

enum class TokenKind {
  literal,           // one given character
  not_sep,           // [^sep]            (fnmatch '?')
  char_set,          // [...] / [^...]    (fnmatch '[...]'; may match the separator)
  any_char,          // .                 (fnmatch '[!]'-like negated empty set)
  never,             // (?!)              (fnmatch empty set)
  sep,               // the separator between pattern segments
  not_sep_star,      // [^sep]*           (fnmatch '*' inside a segment)
  one_segment,       // [^sep]+sep        (segment '*' that is not last)
  one_last_segment,  // [^sep]+           (segment '*' that is last)
  any_segments,      // (?:.+sep)?        (recursive '**' that is not last)
  any_last,          // .*                (recursive '**' that is last)
};

struct CharSet {
  bool negated = false;
  std::vector<std::pair<char32_t, char32_t>> ranges;  // single characters have lo == hi
};

struct Token {
  TokenKind kind;
  char32_t code = 0;
  std::size_t set = 0;  // index into Pattern::sets
};

struct Pattern {
  std::vector<Token> tokens;
  std::vector<CharSet> sets;
};

// One character of fnmatch's "stuff" between brackets: `range_op` marks a '-' that the
// translation left unescaped (it forms a range); every other character is literal.
struct SetChar {
  char32_t code;
  bool range_op;
};

// fnmatch._translate's handling of "[...]" from pat[i] (just after '[') to pat[j] (the
// closing ']'), followed by how the regex engine reads the resulting class.
void translate_set(const std::vector<char32_t>& pat, std::size_t i, std::size_t j, Pattern& out) {
  std::vector<std::vector<char32_t>> chunks;
  const bool has_hyphen = std::find(pat.begin() + static_cast<std::ptrdiff_t>(i),
                                    pat.begin() + static_cast<std::ptrdiff_t>(j),
                                    U'-') != pat.begin() + static_cast<std::ptrdiff_t>(j);
  const auto slice = [&pat](std::size_t from, std::size_t to) {
    return std::vector<char32_t>(pat.begin() + static_cast<std::ptrdiff_t>(from),
                                 pat.begin() + static_cast<std::ptrdiff_t>(to));
  };
  if (!has_hyphen) {
    chunks.push_back(slice(i, j));
  } else {
    std::size_t k = pat[i] == U'!' ? i + 2 : i + 1;
    while (true) {
      std::size_t found = j;
      for (std::size_t x = k; x < j; ++x) {
        if (pat[x] == U'-') {
          found = x;
          break;
        }
      }
      if (found >= j) {
        break;
      }
      chunks.push_back(slice(i, found));
      i = found + 1;
      k = found + 3;
    }
    std::vector<char32_t> last = slice(std::min(i, j), j);
    if (!last.empty()) {
      chunks.push_back(std::move(last));
    } else {
      chunks.back().push_back(U'-');
    }
    // Remove empty ranges (a-b with a > b), merging the chunks around them.
    for (std::size_t x = chunks.size() - 1; x > 0; --x) {
      if (!chunks[x - 1].empty() && !chunks[x].empty() && chunks[x - 1].back() > chunks[x][0]) {
        std::vector<char32_t> merged(chunks[x - 1].begin(), chunks[x - 1].end() - 1);
        merged.insert(merged.end(), chunks[x].begin() + 1, chunks[x].end());
        chunks[x - 1] = std::move(merged);
        chunks.erase(chunks.begin() + static_cast<std::ptrdiff_t>(x));
      }
    }
  }
  std::vector<SetChar> stuff;
  for (std::size_t x = 0; x < chunks.size(); ++x) {
    if (x != 0) {
      stuff.push_back({U'-', true});
    }
    for (const char32_t code : chunks[x]) {
      stuff.push_back({code, false});
    }
  }
  if (stuff.empty()) {
    out.tokens.push_back({TokenKind::never});
    return;
  }
  if (stuff.size() == 1 && !stuff[0].range_op && stuff[0].code == U'!') {
    out.tokens.push_back({TokenKind::any_char});
    return;
  }
  CharSet set;
  std::size_t at = 0;
  if (!stuff[0].range_op && stuff[0].code == U'!') {
    set.negated = true;
    at = 1;
  }
  // The regex engine's reading of a class: an item, optionally "-" and a range end.
  while (at < stuff.size()) {
    const char32_t low = stuff[at].code;
    ++at;
    if (at < stuff.size() && stuff[at].range_op) {
      if (at + 1 >= stuff.size()) {
        set.ranges.emplace_back(low, low);  // "x-]": x and a literal '-'
        set.ranges.emplace_back(U'-', U'-');
        break;
      }
      const char32_t high = stuff[at + 1].code;
      at += 2;
      if (low <= high) {
        set.ranges.emplace_back(low, high);
      }
      continue;
    }
    set.ranges.emplace_back(low, low);
  }
  out.tokens.push_back({TokenKind::char_set, 0, out.sets.size()});
  out.sets.push_back(std::move(set));
}

// fnmatch._translate(part, STAR=[^sep]*, QUESTION_MARK=[^sep]).
void translate_part(const std::vector<char32_t>& pat, Pattern& out) {
  const std::size_t n = pat.size();
  std::size_t i = 0;
  const std::size_t first_token = out.tokens.size();
  while (i < n) {
    const char32_t c = pat[i];
    ++i;
    if (c == U'*') {
      if (out.tokens.size() == first_token || out.tokens.back().kind != TokenKind::not_sep_star) {
        out.tokens.push_back({TokenKind::not_sep_star});
      }
    } else if (c == U'?') {
      out.tokens.push_back({TokenKind::not_sep});
    } else if (c == U'[') {
      std::size_t j = i;
      if (j < n && pat[j] == U'!') {
        ++j;
      }
      if (j < n && pat[j] == U']') {
        ++j;
      }
      while (j < n && pat[j] != U']') {
        ++j;
      }
      if (j >= n) {
        out.tokens.push_back({TokenKind::literal, U'['});
      } else {
        translate_set(pat, i, j, out);
        i = j + 1;
      }
    } else {
      out.tokens.push_back({TokenKind::literal, c});
    }
  }
}

// glob.translate(pattern, recursive=recursive, include_hidden=True, seps=sep).
Pattern translate(std::string_view pattern, char32_t sep, bool recursive) {
  Pattern out;
  std::vector<std::vector<char32_t>> parts(1);
  for (const char32_t code : decode_all(pattern)) {
    if (code == sep) {
      parts.emplace_back();
    } else {
      parts.back().push_back(code);
    }
  }
  const std::vector<char32_t> star = {U'*'};
  const std::vector<char32_t> double_star = {U'*', U'*'};
  for (std::size_t idx = 0; idx < parts.size(); ++idx) {
    const bool last = idx + 1 == parts.size();
    if (parts[idx] == star) {
      out.tokens.push_back({last ? TokenKind::one_last_segment : TokenKind::one_segment});
    } else if (recursive && parts[idx] == double_star) {
      if (!last) {
        if (parts[idx + 1] != double_star) {
          out.tokens.push_back({TokenKind::any_segments});
        }
      } else {
        out.tokens.push_back({TokenKind::any_last});
      }
    } else {
      translate_part(parts[idx], out);
      if (!last) {
        out.tokens.push_back({TokenKind::sep});
      }
    }
  }
  return out;
}

// Characters that Python's re module treats as equal under IGNORECASE although their
// simple lower-case mappings differ (sre_compile's _equivalences).
constexpr char32_t equivalences[][3] = {
    {0x69, 0x131, 0},   {0x73, 0x17F, 0},   {0xB5, 0x3BC, 0},    {0x345, 0x3B9, 0x1FBE},
    {0x390, 0x1FD3, 0}, {0x3B0, 0x1FE3, 0}, {0x3B2, 0x3D0, 0},   {0x3B5, 0x3F5, 0},
    {0x3B8, 0x3D1, 0},  {0x3BA, 0x3F0, 0},  {0x3C0, 0x3D6, 0},   {0x3C1, 0x3F1, 0},
    {0x3C2, 0x3C3, 0},  {0x3C6, 0x3D5, 0},  {0x1E61, 0x1E9B, 0}, {0xFB05, 0xFB06, 0},
};

// The case-insensitive identity of a character: its simple lower case, with the
// equivalence classes above reduced to their first member.
char32_t fold(char32_t code) {
  const char32_t lowered = simple_lower(code);
  for (const auto& group : equivalences) {
    for (const char32_t member : group) {
      if (member != 0 && member == lowered) {
        return group[0];
      }
    }
  }
  return lowered;
}

// Every character with the same case-insensitive identity as `code`.
std::vector<char32_t> case_variants(char32_t code) {
  std::vector<char32_t> lowers = {simple_lower(code)};
  for (const auto& group : equivalences) {
    if (lowers[0] != 0 &&
        std::find(std::begin(group), std::end(group), lowers[0]) != std::end(group)) {
      lowers.clear();
      for (const char32_t member : group) {
        if (member != 0) {
          lowers.push_back(member);
        }
      }
      break;
    }
  }
  std::vector<char32_t> variants = {code};
  for (const char32_t lowered : lowers) {
    variants.push_back(lowered);
    for (const char32_t upper : upper_variants(lowered)) {
      variants.push_back(upper);
    }
  }
  return variants;
}

bool in_ranges(const CharSet& set, char32_t code) {
  return std::any_of(set.ranges.begin(), set.ranges.end(), [code](const auto& range) {
    return range.first <= code && code <= range.second;
  });
}

bool set_matches(const CharSet& set, char32_t code, bool case_sensitive) {
  bool found = in_ranges(set, code);
  if (!found && !case_sensitive) {
    // re.IGNORECASE: some character of the set is case-insensitively `code`.
    for (const char32_t variant : case_variants(code)) {
      if (in_ranges(set, variant)) {
        found = true;
        break;
      }
    }
  }
  return found != set.negated;
}

}  // namespace

bool glob_match(std::string_view pattern_text, std::string_view text, char sep_char, bool recursive,
                bool case_sensitive) {
  const char32_t sep = static_cast<unsigned char>(sep_char);
  const Pattern pattern = translate(pattern_text, sep, recursive);
  const std::vector<char32_t> s = decode_all(text);
  const std::size_t n = s.size();
  // reach[j]: the tokens so far can match s[0, j). Only [low, high] can be set, which
  // keeps a run of literal tokens linear instead of tokens x characters.
  std::vector<char> reach(n + 1, 0);
  std::vector<char> next(n + 1, 0);
  reach[0] = 1;
  std::size_t low = 0;
  std::size_t high = 0;
  const auto equal = [case_sensitive](char32_t a, char32_t b) {
    return a == b || (!case_sensitive && fold(a) == fold(b));
  };
  for (const Token& token : pattern.tokens) {
    std::size_t next_low = n + 1;
    std::size_t next_high = 0;
    const auto set_next = [&](std::size_t j) {
      next[j] = 1;
      next_low = std::min(next_low, j);
      next_high = std::max(next_high, j);
    };
    switch (token.kind) {
      case TokenKind::literal:
      case TokenKind::not_sep:
      case TokenKind::char_set:
      case TokenKind::any_char:
      case TokenKind::sep:
        for (std::size_t j = low; j <= high && j < n; ++j) {
          if (!reach[j]) {
            continue;
          }
          const char32_t c = s[j];
          bool ok = false;
          switch (token.kind) {
            case TokenKind::literal:
              ok = equal(c, token.code);
              break;
            case TokenKind::not_sep:
              ok = c != sep;
              break;
            case TokenKind::char_set:
              ok = set_matches(pattern.sets[token.set], c, case_sensitive);
              break;
            case TokenKind::any_char:
              ok = true;
              break;
            default:
              ok = c == sep;
              break;
          }
          if (ok) {
            set_next(j + 1);
          }
        }
        break;
      case TokenKind::never:
        break;
      case TokenKind::not_sep_star: {
        bool run = false;  // reachable and followed only by non-separators so far
        for (std::size_t j = low; j <= n; ++j) {
          run = reach[j] || (run && s[j - 1] != sep);
          if (run) {
            set_next(j);
          } else if (j > high) {
            break;
          }
        }
        break;
      }
      case TokenKind::one_segment:
      case TokenKind::one_last_segment: {
        bool plus = false;  // reachable after at least one non-separator character
        for (std::size_t j = low + 1; j <= n; ++j) {
          plus = s[j - 1] != sep && (reach[j - 1] || plus);
          if (plus) {
            if (token.kind == TokenKind::one_last_segment) {
              set_next(j);
            } else if (j < n && s[j] == sep) {
              set_next(j + 1);
            }
          } else if (j > high + 1) {
            break;
          }
        }
        break;
      }
      case TokenKind::any_segments: {
        // (?:.+sep)?: stay, or consume one or more characters ending in a separator.
        for (std::size_t j = low; j <= n; ++j) {
          const bool consumed = j >= low + 2 && s[j - 1] == sep;
          if (reach[j] || consumed) {
            set_next(j);
          }
        }
        break;
      }
      case TokenKind::any_last:
        for (std::size_t j = low; j <= n; ++j) {
          set_next(j);
        }
        break;
    }
    std::fill(reach.begin() + static_cast<std::ptrdiff_t>(low),
              reach.begin() + static_cast<std::ptrdiff_t>(high) + 1, 0);
    reach.swap(next);
    if (next_low > next_high) {
      return false;
    }
    low = next_low;
    high = next_high;
  }
  return reach[n] != 0;
}

}  // namespace path_detail

bool PurePath::match(std::string_view pattern_text, std::optional<bool> case_sensitive) const {
  const PurePath pattern(flavour_, pattern_text);
  const bool sensitive = case_sensitive.value_or(flavour_ == PathFlavour::posix);
  const std::vector<std::string> path_parts = parts();
  const std::vector<std::string> pattern_parts = pattern.parts();
  if (pattern_parts.empty()) {
    throw PathError("empty pattern");
  }
  if (path_parts.size() < pattern_parts.size()) {
    return false;
  }
  if (path_parts.size() > pattern_parts.size() && pattern.drive_size_ + pattern.root_size_ != 0) {
    return false;
  }
  const char sep = flavour_ == PathFlavour::windows ? '\\' : '/';
  for (std::size_t i = 1; i <= pattern_parts.size(); ++i) {
    if (!path_detail::glob_match(pattern_parts[pattern_parts.size() - i],
                                 path_parts[path_parts.size() - i], sep, false, sensitive)) {
      return false;
    }
  }
  return true;
}

bool PurePath::full_match(std::string_view pattern_text, std::optional<bool> case_sensitive) const {
  const PurePath pattern(flavour_, pattern_text);
  const bool sensitive = case_sensitive.value_or(flavour_ == PathFlavour::posix);
  const char sep = flavour_ == PathFlavour::windows ? '\\' : '/';
  // The empty path is "" here (not "."), so that wildcards do not match it.
  return path_detail::glob_match(pattern.text_, text_, sep, true, sensitive);
}

}  // namespace tetherd::core

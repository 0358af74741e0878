// GlobPattern: syntax, anchoring, directory-only patterns, escapes, classes, non-UTF-8 bytes,
// errors, and pathological patterns.

#include "tetherd/core/glob.hpp"

#include <doctest/doctest.h>

#include <string>
#include <string_view>
#include <vector>

using tetherd::core::escape_glob;
using tetherd::core::GlobPattern;
using tetherd::core::GlobSyntaxError;

namespace {

struct Case {
  std::string pattern;
  std::string path;
  bool is_dir;
  bool expected;
};

void check_cases(const std::vector<Case>& cases) {
  for (const Case& c : cases) {
    CAPTURE(c.pattern);
    CAPTURE(c.path);
    CAPTURE(c.is_dir);
    const GlobPattern pattern(c.pattern);
    CHECK(pattern.matches(c.path, c.is_dir) == c.expected);
  }
}

constexpr bool file = false;
constexpr bool dir = true;

}  // namespace

TEST_CASE("glob: literal segments and right-anchoring") {
  check_cases({
      {"a", "a", file, true},
      {"a", "b", file, false},
      {"a", "x/a", file, true},
      {"a", "x/y/a", file, true},
      {"a", "a/x", file, false},  // the pattern must reach the path's end
      {"a", "xa", file, false},   // only at segment boundaries
      {"a", "ab", file, false},
      {"b/c", "a/b/c", file, true},
      {"b/c", "b/c", file, true},
      {"b/c", "a/xb/c", file, false},
      {"b/c", "b/c/d", file, false},
      {"a/b/c", "a/b/c", file, true},
      {"a/b/c", "b/c", file, false},
      {"a", "", dir, false},  // the root has no segments
  });
}

TEST_CASE("glob: leading '/' anchors at the source root") {
  check_cases({
      {"/a", "a", file, true},
      {"/a", "x/a", file, false},
      {"/a/b", "a/b", file, true},
      {"/a/b", "x/a/b", file, false},
      {"/a/*", "a/x", file, true},
      {"/a/*", "a/x/y", file, false},
      {"/build/", "build", dir, true},
      {"/build/", "build", file, false},
      {"/build/", "src/build", dir, false},
      {"/*.txt", "a.txt", file, true},
      {"/*.txt", "d/a.txt", file, false},
  });
  CHECK(GlobPattern("/a").anchored());
  CHECK_FALSE(GlobPattern("a").anchored());
  CHECK_FALSE(GlobPattern("a/b").anchored());
}

TEST_CASE("glob: trailing '/' matches directories only") {
  check_cases({
      {"build/", "build", dir, true},
      {"build/", "build", file, false},
      {"build/", "x/build", dir, true},
      {"build/", "build/x", dir, false},
      {"*/", "anything", dir, true},
      {"*/", "anything", file, false},
      {"**/", "", dir, true},
      {"**/", "a/b", dir, true},
      {"**/", "a/b", file, false},
  });
  CHECK(GlobPattern("a/").directory_only());
  CHECK(GlobPattern("/a/").directory_only());
  CHECK_FALSE(GlobPattern("a").directory_only());
  CHECK(GlobPattern("/a/").text() == "/a/");
}

TEST_CASE("glob: '*' stays within a segment") {
  check_cases({
      {"*", "a", file, true},
      {"*", "a/b/c", file, true},  // right-anchored: matches the last segment
      {"/*", "a/b", file, false},
      {"*.tmp", "x.tmp", file, true},
      {"*.tmp", "a/b/x.tmp", file, true},
      {"*.tmp", ".tmp", file, true},  // '*' matches nothing, also a leading dot
      {"*.tmp", "x.tmp/y", file, false},
      {"*.tmp", "x.tmpx", file, false},
      {"a*", "a", file, true},
      {"a*", "abc", file, true},
      {"a*", "ba", file, false},
      {"a*c", "abbbc", file, true},
      {"a*c", "abbb", file, false},
      {"a*b*c", "aXbYc", file, true},
      {"a*b*c", "aXcYb", file, false},
      {"/a*/c", "ab/c", file, true},
      {"/a*/c", "a/b/c", file, false},  // '*' never crosses '/'
      {"b/*.tmp", "a/b/x.tmp", file, true},
      {"b/*.tmp", "a/c/x.tmp", file, false},
      {"*", "", dir, false},
  });
}

TEST_CASE("glob: '?' matches exactly one character within a segment") {
  check_cases({
      {"?", "a", file, true},
      {"?", "ab", file, false},
      {"?", "", dir, false},
      {"a?c", "abc", file, true},
      {"a?c", "ac", file, false},
      {"/a?c", "a/c", file, false},
      {"??", "ab", file, true},
      {"??", "é", file, false},               // one character, two bytes
      {"?", "é", file, true},                 // U+00E9 is one character
      {"?", "\xe2\x82\xac", file, true},      // U+20AC, three bytes
      {"?", "\xf0\x9f\x98\x80", file, true},  // U+1F600, four bytes
      {"?", "\xff", file, true},              // a stray byte is one character
      {"??", "\xc3\x28", file, true},         // invalid sequence: two stray-ish characters
      {"?", "\xc3\x28", file, false},
      {"?", "\xed\xa0\x80", file, false},  // UTF-16 surrogate: three stray bytes
      {"???", "\xed\xa0\x80", file, true},
      {"?", "\xc0\xaf", file, false},    // overlong '/': two stray bytes
      {"a?", "a\xe2\x82", file, false},  // truncated sequence: two stray bytes
      {"a??", "a\xe2\x82", file, true},
  });
}

TEST_CASE("glob: '**' as a whole segment crosses segments") {
  check_cases({
      {"**", "a", file, true},
      {"**", "a/b/c", file, true},
      {"**", "", dir, true},
      {"**/*.jpg", "a.jpg", file, true},
      {"**/*.jpg", "x/y/a.jpg", file, true},
      {"**/*.jpg", "x/y/a.png", file, false},
      {"/**/*.jpg", "a.jpg", file, true},
      {"/**/*.jpg", "x/a.jpg", file, true},
      {"/a/**/b", "a/b", file, true},
      {"/a/**/b", "a/x/b", file, true},
      {"/a/**/b", "a/x/y/b", file, true},
      {"/a/**/b", "a/x/y/c", file, false},
      {"/a/**/b", "b", file, false},
      {"/a/**", "a", dir, true},  // zero segments
      {"/a/**", "a/x", file, true},
      {"/a/**", "a/x/y", file, true},
      {"/a/**", "b/x", file, false},
      {"**/.cache/**", ".cache", dir, true},
      {"**/.cache/**", "x/.cache/y/z", file, true},
      {"**/.cache/**", "x/.cachex/y", file, false},
      {"/**/**/a", "a", file, true},
      {"/a/**/**/b", "a/b", file, true},
      {"/a/**/b/**/c", "a/x/b/y/b/z/c", file, true},
      {"/a/**/b/**/c", "a/x/b/y/c/z", file, false},
      // `**` inside a segment is `*`
      {"a**b", "aXYb", file, true},
      {"a**b", "a/b", file, false},
      {"/a**", "ab/c", file, false},
      {"**a", "xa", file, true},
      {"**a", "x/a", file, true},  // right-anchored: the last segment "a" matches `*a`
      {"/**a", "x/a", file, false},
      {"***", "x", file, true},
      {"/***", "x/y", file, false},
  });
}

TEST_CASE("glob: character classes") {
  check_cases({
      {"[abc]", "a", file, true},
      {"[abc]", "d", file, false},
      {"[abc]", "ab", file, false},
      {"[a-c]", "b", file, true},
      {"[a-c]", "d", file, false},
      {"[a-cx-z]", "y", file, true},
      {"[!a-c]", "d", file, true},
      {"[!a-c]", "b", file, false},
      {"[^a-c]", "d", file, true},
      {"[^a-c]", "a", file, false},
      {"[]]", "]", file, true},
      {"[]a]", "a", file, true},
      {"[!]]", "]", file, false},
      {"[!]]", "a", file, true},
      {"[^]]", "]", file, false},
      {"[a-]", "-", file, true},
      {"[-a]", "-", file, true},
      {"[a-]", "b", file, false},
      {"[\\]]", "]", file, true},
      {"[\\-]", "-", file, true},
      {"[a\\-z]", "b", file, false},  // escaped '-' is a member, not a range
      {"[a\\-z]", "z", file, true},
      {"[[]", "[", file, true},
      {"[*?]", "*", file, true},
      {"[*?]", "x", file, false},
      {"[!a]", "\xff", file, true},  // a stray byte is a character too
      {"[é]", "é", file, true},
      {"[é]", "\xc3", file, false},
      {"[à-ü]", "é", file, true},
      {"[à-ü]", "a", file, false},
      {"[!é]", "é", file, false},
      {"[!é]", "e", file, true},
      {"[\x80-\xff]", "\xff", file, true},  // range of stray bytes
      {"[\x80-\xff]", "é", file, false},
      {"[a-z][0-9]", "x7", file, true},
      {"[a-z][0-9]", "7x", file, false},
      {"*.[ch]", "src/main.c", file, true},
      {"*.[ch]", "src/main.cc", file, false},
      {"[!.]*", ".hidden", file, false},
      {"[!.]*", "visible", file, true},
  });
}

TEST_CASE("glob: backslash escapes the next character") {
  check_cases({
      {"\\*", "*", file, true},
      {"\\*", "a", file, false},
      {"\\?", "?", file, true},
      {"\\?", "a", file, false},
      {"\\[a]", "[a]", file, true},
      {"\\[a]", "a", file, false},
      {"\\\\", "\\", file, true},
      {"\\a", "a", file, true},
      {"a\\*b*", "a*bc", file, true},
      {"a\\*b*", "axbc", file, false},
      {"\\*\\*", "**", file, true},
      {"\\*\\*", "ab", file, false},
      {"/\\**", "*x", file, true},
      {"/\\**", "x*", file, false},
  });
}

TEST_CASE("glob: arbitrary bytes match byte for byte") {
  check_cases({
      {"\xff\xfe", "\xff\xfe", file, true},
      {"\xff\xfe", "\xff\xff", file, false},
      {"*\xff", "abc\xff", file, true},
      {"\xc3*", "\xc3(", file, true},
      {"\xc3*", "\xc3\xa9", file, false},  // "é" is one character, not the stray byte 0xC3
      {"*\xa9", "\xc3\xa9", file, false},  // likewise: 0xA9 is inside "é"
      {"*\xa9", "x\xa9", file, true},
      {"*é", "café", file, true},
      {"caf?", "café", file, true},
      {"\x01\x7f", "\x01\x7f", file, true},
      {std::string("a\\\xc3\xa9", 4), "a\xc3\xa9", file, true},  // escaped multi-byte char
      {"\xc3\\\xa9", "\xc3\xa9", file, true},  // escape splitting a sequence: same bytes
  });
}

TEST_CASE("glob: invalid patterns throw GlobSyntaxError with the offset") {
  struct Bad {
    std::string pattern;
    std::size_t offset;
    std::string reason_part;
  };
  const std::vector<Bad> bad = {
      {"", 0, "empty"},
      {"/", 0, "only '/'"},
      {"[abc", 0, "unterminated '['"},
      {"a/[bc", 2, "unterminated '['"},
      {"[]", 0, "unterminated '['"},
      {"[!]", 0, "unterminated '['"},
      {"[\\", 0, "unterminated '['"},
      {"abc\\", 3, "trailing '\\'"},
      {std::string("a\0b", 3), 1, "NUL"},
      {"a//b", 2, "empty path segment"},
      {"//a", 1, "empty path segment"},
      {"a//", 2, "empty path segment"},
      {".", 0, "'.' and '..'"},
      {"a/../b", 2, "'.' and '..'"},
      {"/a/./b", 3, "'.' and '..'"},
      {"\\.", 0, "'.' and '..'"},
      {"a\\/b", 1, "cannot be escaped"},
      {"[a/b]", 2, "inside a character class"},
      {"[z-a]", 1, "empty range"},
      {"[[:alpha:]]", 1, "POSIX"},
  };
  for (const Bad& b : bad) {
    CAPTURE(b.pattern);
    try {
      const GlobPattern pattern(b.pattern);
      FAIL("no exception for an invalid pattern");
    } catch (const GlobSyntaxError& error) {
      CHECK(error.offset() == b.offset);
      CHECK(error.pattern() == b.pattern);
      CHECK(error.reason().find(b.reason_part) != std::string::npos);
      const std::string what = error.what();
      CHECK(what.find("at byte offset " + std::to_string(b.offset)) != std::string::npos);
      CHECK(what.find("invalid glob") != std::string::npos);
    }
  }
}

TEST_CASE("glob: GlobSyntaxError is an invalid_argument and names the context") {
  try {
    const GlobPattern pattern("x/[\xff");
    FAIL("no exception");
  } catch (const std::invalid_argument& error) {
    const std::string what = error.what();
    CHECK(what == "invalid glob \"x/[\\xFF\": unterminated '[' (no closing ']') at byte offset 2");
    const auto* syntax = dynamic_cast<const GlobSyntaxError*>(&error);
    REQUIRE(syntax != nullptr);
    const GlobSyntaxError with = syntax->with_context("exclude[3]");
    CHECK(std::string(with.what()).rfind("exclude[3]: invalid glob", 0) == 0);
    CHECK(with.context() == "exclude[3]");
    CHECK(with.offset() == 2);
  }
}

TEST_CASE("glob: patterns that are valid despite looking odd") {
  CHECK_NOTHROW(GlobPattern("]"));
  CHECK_NOTHROW(GlobPattern("a]b"));
  CHECK_NOTHROW(GlobPattern("!a"));
  CHECK_NOTHROW(GlobPattern("..a"));
  CHECK_NOTHROW(GlobPattern(".hidden"));
  CHECK_NOTHROW(GlobPattern("..."));
  CHECK_NOTHROW(GlobPattern("[.]"));
  CHECK_NOTHROW(GlobPattern("[[]"));
  CHECK_NOTHROW(GlobPattern("[a-]"));
  check_cases({
      {"]", "]", file, true},
      {"!a", "!a", file, true},
      {"...", "...", file, true},
  });
}

TEST_CASE("glob: escape_glob makes any segment text literal") {
  const std::vector<std::string> names = {"a*b",      "[x]", "q?",   "back\\slash", "plain",
                                          "\xff\xfe", "é*",  "!neg", "^x",          "a-b"};
  for (const std::string& name : names) {
    CAPTURE(name);
    const GlobPattern pattern(std::string("/").append(escape_glob(name)));
    CHECK(pattern.matches(name, false));
    CHECK_FALSE(pattern.matches(name + "x", false));
    CHECK_FALSE(pattern.matches(std::string("x").append(name), false));
  }
  CHECK(escape_glob("a/b*") == "a/b\\*");
  CHECK(GlobPattern(std::string("/").append(escape_glob("d*r/f[1]"))).matches("d*r/f[1]", false));
}

TEST_CASE("glob: matches_every_child_of") {
  CHECK(GlobPattern("**/.cache/**").matches_every_child_of(".cache"));
  CHECK(GlobPattern("**/.cache/**").matches_every_child_of("a/b/.cache"));
  CHECK_FALSE(GlobPattern("**/.cache/**").matches_every_child_of("a"));
  CHECK(GlobPattern("/build/*").matches_every_child_of("build"));
  CHECK_FALSE(GlobPattern("/build/*").matches_every_child_of("src/build"));
  CHECK(GlobPattern("build/*").matches_every_child_of("src/build"));
  CHECK_FALSE(GlobPattern("build/*.o").matches_every_child_of("build"));
  CHECK_FALSE(GlobPattern("build/*/").matches_every_child_of("build"));  // dirs only
  CHECK_FALSE(GlobPattern("/build/**/").matches_every_child_of("build"));
  CHECK(GlobPattern("**").matches_every_child_of(""));
  CHECK(GlobPattern("**").matches_every_child_of("a/b"));
  CHECK(GlobPattern("*").matches_every_child_of("a"));
  CHECK(GlobPattern("/*").matches_every_child_of(""));
  CHECK_FALSE(GlobPattern("/*").matches_every_child_of("a"));
  CHECK_FALSE(GlobPattern("/a").matches_every_child_of("a"));
}

TEST_CASE("glob: pathological patterns finish (no exponential backtracking)") {
  // Each of these would take astronomically long with naive recursive backtracking.
  const std::string long_a(5000, 'a');
  CHECK_FALSE(GlobPattern("*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b").matches(long_a, false));
  CHECK(GlobPattern("*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a").matches(long_a, false));
  CHECK_FALSE(GlobPattern("?*?*?*?*?*?*?*?*?*?*?*?*?*?*?*?*b").matches(long_a, false));

  std::string deep;
  for (int i = 0; i < 2000; ++i)
    deep += (i == 0 ? "a" : "/a");
  std::string many_double_stars = "/";
  for (int i = 0; i < 30; ++i)
    many_double_stars += "**/a/";
  many_double_stars += "b";
  CHECK_FALSE(GlobPattern(many_double_stars).matches(deep, false));
  CHECK(GlobPattern("**/a/**/a/**/a/**/a/**/a/**/a").matches(deep, false));
  CHECK_FALSE(GlobPattern("**/a/**/a/**/a/**/a/**/a/**/b").matches(deep, false));
  CHECK_FALSE(GlobPattern("a*a*a*a*a*a*a*a*/**/*a*a*a*a*a*b").matches(deep, false));
}

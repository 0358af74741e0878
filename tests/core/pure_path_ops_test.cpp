// PurePath operations with errors: with_*, relative_to (incl. walk_up), match,
// full_match, is_reserved, as_uri. Expected values are CPython 3.13 pathlib's; those
// newer than 3.11 cannot be checked by tests/pathlib_diff under python3.11, so they are
// pinned here.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "tetherd/core/pure_path.hpp"

using tetherd::core::PathError;
using tetherd::core::PathFlavour;
using tetherd::core::PurePath;

namespace {

PurePath p(std::string_view text) {
  return PurePath::posix(text);
}
PurePath w(std::string_view text) {
  return PurePath::windows(text);
}

}  // namespace

TEST_CASE("with_name") {
  CHECK(p("/a/b.txt").with_name("c.md").str() == "/a/c.md");
  CHECK(w("c:/a/b").with_name("x").str() == "c:\\a\\x");
  CHECK(p("a").with_name("..").str() == "..");
  CHECK_THROWS_AS(p("/a/b").with_name(""), PathError);
  CHECK_THROWS_AS(p("/a/b").with_name("."), PathError);
  CHECK_THROWS_AS(p("/a/b").with_name("x/y"), PathError);
  CHECK_THROWS_AS(w("a/b").with_name("x\\y"), PathError);
  CHECK_THROWS_AS(w("a/b").with_name("x/y"), PathError);
  CHECK(p("a").with_name("x\\y").str() == "x\\y");  // not a POSIX separator
  CHECK_THROWS_AS(p("/").with_name("x"), PathError);
  CHECK_THROWS_AS(p("").with_name("x"), PathError);
  CHECK_THROWS_AS(w("c:/").with_name("x"), PathError);
  CHECK_THROWS_WITH_AS(p("/").with_name("x"), "path '/' has an empty name", PathError);
  CHECK_THROWS_WITH_AS(p("a").with_name("x/y"), "invalid name 'x/y'", PathError);
}

TEST_CASE("with_stem") {
  CHECK(p("a/b.txt").with_stem("c").str() == "a/c.txt");
  CHECK(p("a/b").with_stem("c").str() == "a/c");
  CHECK(p("a/.bashrc").with_stem("x").str() == "a/x");
  // 3.13: an empty stem is an error when the name has a suffix.
  CHECK_THROWS_AS(p("a/b.txt").with_stem(""), PathError);
  CHECK_THROWS_AS(p("a/b").with_stem(""), PathError);
  CHECK_THROWS_AS(p("/").with_stem("x"), PathError);
  CHECK_THROWS_AS(p("a/b.txt").with_stem("x/y"), PathError);
}

TEST_CASE("with_suffix") {
  CHECK(p("a/b.txt").with_suffix(".md").str() == "a/b.md");
  CHECK(p("a/b.tar.gz").with_suffix("").str() == "a/b.tar");
  CHECK(p("a/b").with_suffix(".x").str() == "a/b.x");
  CHECK(p("a/b").with_suffix("..").str() == "a/b..");
  CHECK(p("a/b.").with_suffix(".x").str() == "a/b..x");
  CHECK_THROWS_AS(p("a/b").with_suffix("."), PathError);
  CHECK_THROWS_AS(p("a/b").with_suffix("txt"), PathError);
  CHECK_THROWS_AS(p("a/b").with_suffix(".a/b"), PathError);
  CHECK_THROWS_AS(w("a/b").with_suffix(".a\\b"), PathError);
  CHECK_THROWS_AS(p("/").with_suffix(".x"), PathError);
  CHECK_THROWS_AS(p("").with_suffix(".x"), PathError);
  CHECK_THROWS_AS(p("..a").with_suffix(""), PathError);  // would make the name "."
  CHECK_THROWS_WITH_AS(p("a").with_suffix("x"), "invalid suffix 'x'", PathError);
}

TEST_CASE("relative_to and is_relative_to") {
  CHECK(p("/a/b/c").relative_to(p("/a")).str() == "b/c");
  CHECK(p("/a/b").relative_to(p("/a/b")).str() == ".");
  CHECK(p("a/b").relative_to("a").str() == "b");
  CHECK(w("C:/Foo/Bar").relative_to(w("c:/foo")).str() == "Bar");
  CHECK(w("//srv/shr/x").relative_to(w("\\\\SRV\\SHR")).str() == "x");
  CHECK_THROWS_AS(p("/a/b").relative_to(p("/c")), PathError);
  CHECK_THROWS_AS(p("/a").relative_to(p("a")), PathError);
  CHECK_THROWS_AS(w("c:/a").relative_to(w("d:/a")), PathError);
  CHECK_THROWS_AS(p("a").relative_to(w("a")), PathError);  // other flavour
  CHECK_THROWS_WITH_AS(p("/a/b").relative_to(p("/c")), "'/a/b' is not in the subpath of '/c'",
                       PathError);
  CHECK(p("/a/b").is_relative_to(p("/a")));
  CHECK(p("/a/b").is_relative_to("/a/b"));
  CHECK_FALSE(p("/a/b").is_relative_to(p("/a/c")));
  CHECK_FALSE(p("/a").is_relative_to(p("/a/b")));
  CHECK(w("c:/A/b").is_relative_to(w("C:/a")));
  CHECK_FALSE(w("a").is_relative_to(p("a")));
}

TEST_CASE("relative_to with walk_up (3.12)") {
  CHECK(p("/a/b").relative_to(p("/a/c"), true).str() == "../b");
  CHECK(p("/a/b").relative_to(p("/x/y/z"), true).str() == "../../../a/b");
  CHECK(p("a").relative_to(p("b/c"), true).str() == "../../a");
  CHECK(p("/a").relative_to(p("/a/b"), true).str() == "..");
  CHECK(w("c:/a/b").relative_to(w("C:/A/x"), true).str() == "..\\b");
  // Different anchors cannot be walked.
  CHECK_THROWS_WITH_AS(p("/a").relative_to(p("b"), true), "'/a' and 'b' have different anchors",
                       PathError);
  CHECK_THROWS_AS(w("c:/a").relative_to(w("d:/a"), true), PathError);
  // A '..' in the other path cannot be walked (its meaning depends on symlinks).
  CHECK_THROWS_WITH_AS(p("/a").relative_to(p("/b/.."), true),
                       "'..' segment in '/b/..' cannot be walked", PathError);
  CHECK(p("/b/../a").relative_to(p("/b/.."), true).str() == "a");
}

TEST_CASE("match: right-anchored globs per name (3.12+)") {
  CHECK(p("a/b.py").match("*.py"));
  CHECK(p("/a/b/c.py").match("b/*.py"));
  CHECK_FALSE(p("/a/b/c.py").match("a/*.py"));
  CHECK(p("/a.py").match("/*.py"));
  CHECK_FALSE(p("a/b.py").match("/*.py"));  // an anchored pattern matches the whole path
  CHECK_FALSE(p("/a/b.py").match("/*.py"));
  CHECK(p("a/b").match("a/b"));
  CHECK_FALSE(p("b").match("a/b"));
  CHECK(p("a/b.py").match("**.py"));  // "**" is "*" here
  CHECK(p("a/b/c.py").match("**/c.py"));
  CHECK(p("x/y.txt").match("[xz]/?.t[!a]t"));
  CHECK_FALSE(p("B.PY").match("*.py"));  // POSIX is case-sensitive
  CHECK(p("B.PY").match("*.py", false));
  CHECK(w("C:/Dir/B.PY").match("*.py"));  // Windows is not
  CHECK(w("c:/a/b.py").match("C:/A/*.py"));
  CHECK_FALSE(w("c:/a/b.py").match("/a/*.py"));  // the anchor "\" does not glob "c:\"
  CHECK_FALSE(w("C:/Dir/B.PY").match("*.py", true));
  CHECK_THROWS_AS(p("a").match(""), PathError);
  CHECK_THROWS_AS(p("a").match("."), PathError);
  CHECK_THROWS_WITH_AS(p("a").match(""), "empty pattern", PathError);
}

TEST_CASE("match: fnmatch bracket sets as Python translates them") {
  CHECK(p("a").match("[a-c]"));
  CHECK_FALSE(p("d").match("[a-c]"));
  CHECK(p("-").match("[a-]"));
  CHECK(p("]").match("[]]"));
  CHECK(p("x").match("[!]]"));
  CHECK_FALSE(p("a").match("[z-a]"));  // an empty range never matches
  CHECK(p("q").match("[!z-a]"));       // its negation matches anything
  CHECK(p("[").match("["));            // an unclosed '[' is literal
  CHECK(p("\\").match("[\\]"));
  CHECK(p("^").match("[^]"));            // '^' is literal, '!' negates
  CHECK_FALSE(p("d").match("[a-c-e]"));  // the range a-c, then '-' and 'e' literally
  CHECK(p("-").match("[a-c-e]"));
  CHECK(p("e").match("[a-c-e]"));
  CHECK(w("\xc4\xb1").match("I"));  // re.IGNORECASE: dotless i equals i
}

TEST_CASE("full_match: whole-path globs where ** spans names (3.13)") {
  CHECK(p("a/b/c.py").full_match("**/*.py"));
  CHECK(p("c.py").full_match("**/*.py"));
  CHECK(p("a/b/c.py").full_match("a/**"));
  CHECK_FALSE(p("a").full_match("a/**"));  // "a/" must be there
  CHECK_FALSE(p("a/b/c.py").full_match("*.py"));
  CHECK(p("a/b/c.py").full_match("a/*/c.py"));
  CHECK_FALSE(p("a/b/c.py").full_match("a/*/*/c.py"));
  CHECK(p("/a/b").full_match("/**"));
  CHECK_FALSE(p("/a/b").full_match("a/**"));
  CHECK(p("").full_match(""));
  CHECK_FALSE(p("").full_match("*"));
  CHECK(p("a/b").full_match("a[!x]b"));  // a negated set matches the separator, as in Python
  CHECK(w("C:/Users/X/f.TXT").full_match("c:/users/**/*.txt"));
  CHECK_FALSE(w("C:/Users/X/f.TXT").full_match("c:/users/**/*.txt", true));
  CHECK(p("a/b/c").full_match("a/**/**/c"));
}

TEST_CASE("is_reserved follows ntpath.isreserved (3.13)") {
  CHECK(w("nul").is_reserved());
  CHECK(w("c:/dir/CON").is_reserved());
  CHECK(w("aux.txt").is_reserved());
  CHECK(w("NUL .tar.gz").is_reserved());
  CHECK(w("com1").is_reserved());
  CHECK(w("LPT9.log").is_reserved());
  CHECK(w("COM\xc2\xb9").is_reserved());  // COM¹: superscript digits count
  CHECK(w("lpt\xc2\xb3").is_reserved());
  CHECK(w("conin$").is_reserved());
  CHECK(w("CONOUT$.x").is_reserved());
  CHECK_FALSE(w("COM0").is_reserved());
  CHECK_FALSE(w("COM10").is_reserved());
  CHECK_FALSE(w("CONX").is_reserved());
  CHECK(w("con/x").is_reserved());  // any name, not only the last
  CHECK(w("//srv/shr/con").is_reserved());
  CHECK(w("a.").is_reserved());  // trailing dot
  CHECK(w("a ").is_reserved());  // trailing space
  CHECK_FALSE(w("a/..").is_reserved());
  CHECK_FALSE(w(".").is_reserved());
  CHECK(w("a:b").is_reserved() == false);  // "a:" is a drive here, "b" is fine
  CHECK(w("./a:b").is_reserved());         // ':' in a name (a stream)
  CHECK(w("x*y").is_reserved());
  CHECK(w(std::string("a\x01", 2)).is_reserved());
  CHECK(w("CON\xc4\xb1N$").is_reserved());  // "CONıN$".upper() is "CONIN$"
  CHECK(w("CONIN$").is_reserved());
  CHECK(w("co\xc4\xb1n$").is_reserved() == false);  // "coın$" uppers to "COIN$"
  CHECK(w("con\xc4\xb1n$").is_reserved());          // "conın$" uppers to "CONIN$"
  CHECK_FALSE(w("foo").is_reserved());
  CHECK_FALSE(p("nul").is_reserved());  // never on POSIX
}

TEST_CASE("as_uri") {
  CHECK(p("/etc/hosts").as_uri() == "file:///etc/hosts");
  CHECK(p("/a b/%/\xc3\xa9").as_uri() == "file:///a%20b/%25/%C3%A9");
  CHECK(p("/\xff").as_uri() == "file:///%FF");
  CHECK(p("//host/x").as_uri() == "file:////host/x");
  CHECK(p("/a~_-.b").as_uri() == "file:///a~_-.b");
  CHECK(w("c:/a b/c").as_uri() == "file:///c:/a%20b/c");
  CHECK(w("//host/share/f").as_uri() == "file://host/share/f");
  CHECK(w("\\\\?\\c:\\x").as_uri() == "file://%3F/c%3A/x");
  CHECK_THROWS_AS(p("a").as_uri(), PathError);
  CHECK_THROWS_AS(w("c:a").as_uri(), PathError);
  CHECK_THROWS_AS(w("/a").as_uri(), PathError);
  CHECK_THROWS_AS(p("").as_uri(), PathError);
}

// PurePath: construction, normalization, joining and the accessors, both flavours.
// Expected values are CPython 3.13 pathlib's (checked by hand with python3.13).
#include "tetherd/core/pure_path.hpp"

#include <doctest/doctest.h>

#include <string>
#include <unordered_set>
#include <vector>

using tetherd::core::PathFlavour;
using tetherd::core::PurePath;
using Parts = std::vector<std::string>;

namespace {

PurePath p(std::string_view text) {
  return PurePath::posix(text);
}
PurePath w(std::string_view text) {
  return PurePath::windows(text);
}

}  // namespace

TEST_CASE("posix: empty and dot paths are the dot path") {
  CHECK(p("").str() == ".");
  CHECK(p(".").str() == ".");
  CHECK(p("./.").str() == ".");
  CHECK(p("").parts().empty());
  CHECK(p("") == p("."));
  CHECK(PurePath().str() == ".");
  CHECK(PurePath().flavour() == PathFlavour::posix);
  CHECK(PurePath(PathFlavour::windows).str() == ".");
}

TEST_CASE("posix: separators collapse and dot names drop but dot-dot stays") {
  CHECK(p("a//b").str() == "a/b");
  CHECK(p("a/./b/.").str() == "a/b");
  CHECK(p("a/../b").str() == "a/../b");
  CHECK(p("../..").parts() == Parts{"..", ".."});
  CHECK(p("a/b/").str() == "a/b");
  CHECK(p("a\\b").parts() == Parts{"a\\b"});  // a backslash is an ordinary character
}

TEST_CASE("posix: exactly two leading slashes are kept and three or more become one") {
  CHECK(p("/a").root() == "/");
  CHECK(p("//a").root() == "//");
  CHECK(p("//a").str() == "//a");
  CHECK(p("///a").root() == "/");
  CHECK(p("////a").str() == "/a");
  CHECK(p("//").parts() == Parts{"//"});
  CHECK(p("/").drive().empty());
}

TEST_CASE("posix: names are bytes and invalid UTF-8 and NUL survive") {
  const std::string invalid = "dir/\xff\xfe.\xc3";
  CHECK(p(invalid).str() == invalid);
  CHECK(p(invalid).name() == "\xff\xfe.\xc3");
  CHECK(p(invalid).suffix() == ".\xc3");
  const std::string with_nul("a\0b/c", 5);
  CHECK(p(with_nul).parts() == Parts{std::string("a\0b", 3), "c"});
  CHECK(p(with_nul).str() == with_nul);
}

TEST_CASE("windows: drives and roots and anchors") {
  CHECK(w("c:/a/b").drive() == "c:");
  CHECK(w("c:/a/b").root() == "\\");
  CHECK(w("c:/a/b").anchor() == "c:\\");
  CHECK(w("c:/a/b").str() == "c:\\a\\b");
  CHECK(w("c:a").drive() == "c:");
  CHECK(w("c:a").root().empty());
  CHECK(w("c:a").parts() == Parts{"c:", "a"});
  CHECK(w("/a").anchor() == "\\");
  CHECK(w("a/b\\c").parts() == Parts{"a", "b", "c"});
  // Python 3.12+: any character before ':' is a drive letter.
  CHECK(w("1:x").drive() == "1:");
  CHECK(w("\xc3\xa9:\\x").drive() == "\xc3\xa9:");
}

TEST_CASE("windows: UNC shares always have a root") {
  const PurePath share = w("//server/share/dir/f.txt");
  CHECK(share.drive() == "\\\\server\\share");
  CHECK(share.root() == "\\");
  CHECK(share.parts() == Parts{"\\\\server\\share\\", "dir", "f.txt"});
  CHECK(w("\\\\server\\share").root() == "\\");
  CHECK(w("\\\\server\\share").str() == "\\\\server\\share\\");
  CHECK(w("\\\\?\\UNC\\server\\share").str() == "\\\\?\\UNC\\server\\share\\");
  CHECK(w("\\\\?\\unc\\server\\share\\x").drive() == "\\\\?\\unc\\server\\share");
}

TEST_CASE("windows: device paths and incomplete UNC (3.12+ ntpath.splitroot)") {
  CHECK(w("\\\\?\\c:\\x").drive() == "\\\\?\\c:");
  CHECK(w("\\\\?\\c:\\x").root() == "\\");
  CHECK(w("\\\\?\\c:").root().empty());
  CHECK(w("\\\\.\\pipe").drive() == "\\\\.\\pipe");
  CHECK(w("\\\\.\\pipe").root().empty());
  CHECK(w("\\\\.\\pipe\\name").parts() == Parts{"\\\\.\\pipe\\", "name"});
  CHECK(w("//server").drive() == "\\\\server");
  CHECK(w("//server").root().empty());
  CHECK(w("\\\\").drive() == "\\\\");
  CHECK(w("\\\\a\\\\b").drive() == "\\\\a\\");  // empty share: drive ends in '\'
  CHECK(w("\\\\a\\\\b").parts() == Parts{"\\\\a\\\\", "b"});
}

TEST_CASE("windows: a relative first name that looks like a drive gets a dot prefix") {
  CHECK(w("./c:x").str() == ".\\c:x");
  CHECK(w("./c:x").parts() == Parts{"c:x"});
  CHECK(w("./c:x").drive().empty());
  CHECK(w("./c:x") == w(w("./c:x").str()));
  CHECK(w("a").with_name("c:x").str() == ".\\c:x");
  CHECK(w("./c:x/y").parent().str() == ".\\c:x");
  CHECK(w("./c:x").parent().str() == ".");
}

TEST_CASE("joining: an anchored right side replaces and a relative one appends") {
  CHECK((p("a") / "b").str() == "a/b");
  CHECK((p("a") / "/b").str() == "/b");
  CHECK((p("/a") / "//b").str() == "//b");
  CHECK((p("a") / "").str() == "a");
  CHECK((p("") / "a").str() == "a");
  CHECK(PurePath(PathFlavour::posix, {"a", "/b", "c"}).str() == "/b/c");
  CHECK(PurePath(PathFlavour::posix, std::vector<std::string>{"x", "y", "z"}).str() == "x/y/z");
  CHECK(p("a").joinpath({"b", "c"}).str() == "a/b/c");
  CHECK(p("a").joinpath(p("b/c")).str() == "a/b/c");
  CHECK(PurePath(PathFlavour::posix, std::vector<std::string>{}).str() == ".");
}

TEST_CASE("windows joining: drives and roots") {
  CHECK((w("c:/a") / "/b").str() == "c:\\b");  // root without drive keeps drive
  CHECK((w("c:/a") / "d:b").str() == "d:b");   // another drive replaces
  CHECK((w("c:/a") / "D:/b").str() == "D:\\b");
  CHECK((w("c:a") / "C:b").str() == "C:a\\b");  // same drive appends (its spelling)
  CHECK((w("c:/a") / "c:b").str() == "c:\\a\\b");
  CHECK((w("//srv/shr") / "x").str() == "\\\\srv\\shr\\x");
  CHECK((w("c:") / "x").str() == "c:x");
  CHECK((w("a") / "\\\\srv\\shr\\x").str() == "\\\\srv\\shr\\x");
  CHECK(PurePath(PathFlavour::windows, {"c:", "/", "a"}).str() == "c:\\a");
  CHECK(PurePath(PathFlavour::windows, {"//srv", "shr", "x"}).str() == "\\\\srv\\shr\\x");
  // A Windows path joined to a POSIX path has its separators converted.
  CHECK(p("a").joinpath(w("b\\c")).str() == "a/b/c");
  CHECK(w("a").joinpath(p("b/c")).str() == "a\\b\\c");
}

TEST_CASE("parent and parents") {
  CHECK(p("/a/b/c").parent().str() == "/a/b");
  CHECK(p("/").parent().str() == "/");
  CHECK(p("a").parent().str() == ".");
  CHECK(p("").parent().str() == ".");
  CHECK(p("..").parent().str() == ".");
  std::vector<std::string> strs;
  for (const auto& parent : p("/a/b/c").parents()) {
    strs.push_back(parent.str());
  }
  CHECK(strs == Parts{"/a/b", "/a", "/"});
  CHECK(p("/").parents().empty());
  CHECK(w("c:/x/y").parents().size() == 2);
  CHECK(w("c:/x/y").parents().back().str() == "c:\\");
  CHECK(w("c:x").parents().back().str() == "c:");
}

TEST_CASE("name and stem and suffix and suffixes") {
  CHECK(p("a/b.tar.gz").name() == "b.tar.gz");
  CHECK(p("a/b.tar.gz").stem() == "b.tar");
  CHECK(p("a/b.tar.gz").suffix() == ".gz");
  CHECK(p("a/b.tar.gz").suffixes() == Parts{".tar", ".gz"});
  CHECK(p(".bashrc").suffix().empty());
  CHECK(p(".bashrc").stem() == ".bashrc");
  CHECK(p(".bashrc").suffixes().empty());
  CHECK(p("a.").suffix().empty());
  CHECK(p("a.").stem() == "a.");
  CHECK(p("a.").suffixes().empty());
  CHECK(p("..a.b").suffixes() == Parts{".b"});
  CHECK(p("..a.b").stem() == "..a");
  CHECK(p("a..b").suffixes() == Parts{".", ".b"});
  CHECK(p("/").name().empty());
  CHECK(p("..").name() == "..");
  CHECK(p("..").suffix().empty());
  CHECK(w("c:").name().empty());
  CHECK(w("//srv/shr").name().empty());
}

TEST_CASE("as_posix") {
  CHECK(w("c:\\a\\b").as_posix() == "c:/a/b");
  CHECK(w("//srv/shr/x").as_posix() == "//srv/shr/x");
  CHECK(p("a\\b").as_posix() == "a\\b");
  CHECK(p("").as_posix() == ".");
}

TEST_CASE("is_absolute") {
  CHECK(p("/a").is_absolute());
  CHECK(p("//a").is_absolute());
  CHECK_FALSE(p("a").is_absolute());
  CHECK(w("c:/a").is_absolute());
  CHECK_FALSE(w("c:a").is_absolute());
  CHECK_FALSE(w("/a").is_absolute());
  CHECK(w("//srv/shr").is_absolute());
  CHECK(w("\\\\?\\c:").is_absolute());  // 3.13 ntpath.isabs: every "\\" prefix
  CHECK(w("//server").is_absolute());
  CHECK_FALSE(w("").is_absolute());
}

TEST_CASE("equality and hashing: Windows is case-insensitive and flavours never equal") {
  CHECK(w("C:/Foo/BAR") == w("c:\\foo\\bar"));
  CHECK(w("C:/Foo/BAR").hash() == w("c:\\foo\\bar").hash());
  CHECK(p("A") != p("a"));
  CHECK(p("a") != w("a"));
  CHECK(w("\xc3\x89T\xc3\x89") == w("\xc3\xa9t\xc3\xa9"));  // ÉTÉ == été
  CHECK(w("\xc3\x89T\xc3\x89").hash() == w("\xc3\xa9t\xc3\xa9").hash());
  CHECK(w("STRASSE") != w("stra\xc3\x9f"
                          "e"));  // lower() does not fold ß
  // str.lower()'s final sigma: U+03A3 after a cased letter and before none is U+03C2.
  CHECK(w("\xce\x9f\xce\x94\xce\x9f\xce\xa3") == w("\xce\xbf\xce\xb4\xce\xbf\xcf\x82"));
  CHECK(w("\xce\x9f\xce\x94\xce\x9f\xce\xa3") != w("\xce\xbf\xce\xb4\xce\xbf\xcf\x83"));
  CHECK(w("\xce\xa3\xce\x91") == w("\xcf\x83\xce\xb1"));
  CHECK(w("\xce\x91\xce\xa3/x") == w("\xce\xb1\xcf\x82/x"));
  std::unordered_set<PurePath> set = {w("A/B"), w("a/b"), p("a/b")};
  CHECK(set.size() == 2);
}

TEST_CASE("ordering: names compared by code point with flavour first") {
  CHECK(p("/a") < p("a"));
  CHECK(p("a") < p("a/b"));
  CHECK(p("a/b") < p("a-b"));  // the separator ranks below every character
  CHECK(p("//a") < p("/a"));
  CHECK(p("/") < p(""));   // ['', ''] < ['.']
  CHECK(w("B") > w("a"));  // case-insensitive
  CHECK((w("A") <=> w("a")) == std::strong_ordering::equal);
  CHECK(p("z") < w("a"));  // posix before windows
  // Code point order, not byte order: U+DCFF (an escaped 0xFF byte) < U+E000.
  CHECK(p("\xff") < p("\xee\x80\x80"));
}

TEST_CASE("huge inputs parse in linear time and stay intact") {
  std::string deep;
  for (int i = 0; i < 200000; ++i) {
    deep += "/d";
  }
  const PurePath path = p(deep);
  CHECK(path.name_count() == 200000);
  CHECK(path.str() == deep);
  CHECK(path.parent().name_count() == 199999);
  const std::string long_name(4 * 1024 * 1024, 'x');
  CHECK(w("c:/" + long_name).name().size() == long_name.size());
  const std::string slashes(1024 * 1024, '/');
  CHECK(p(slashes + "z").str() == "/z");
  CHECK(p(deep).relative_to(p(deep).parent()).str() == "d");
  // walk_up from a deep unrelated path: linear, not one path copy per step.
  CHECK(p(deep).relative_to(p("/other" + deep), true).name_count() == 400001);
}

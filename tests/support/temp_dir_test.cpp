// test_support::TempDir: a fresh directory per object, under $TMPDIR, gone afterwards even
// when a test took its permissions away.

#include "support/temp_dir.hpp"

#include <doctest/doctest.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <optional>
#include <stdexcept>
#include <string>
#include <type_traits>

using tetherd::test_support::TempDir;
namespace fs = std::filesystem;

static_assert(!std::is_copy_constructible_v<TempDir> && !std::is_copy_assignable_v<TempDir>);

namespace {

/// Sets (or, with nullopt, unsets) $TMPDIR for one scope and restores it afterwards.
class TmpdirOverride {
 public:
  explicit TmpdirOverride(const std::optional<std::string>& value) {
    if (const char* old = std::getenv("TMPDIR")) old_ = old;
    if (value) {
      ::setenv("TMPDIR", value->c_str(), 1);
    } else {
      ::unsetenv("TMPDIR");
    }
  }
  ~TmpdirOverride() {
    if (old_) {
      ::setenv("TMPDIR", old_->c_str(), 1);
    } else {
      ::unsetenv("TMPDIR");
    }
  }
  TmpdirOverride(const TmpdirOverride&) = delete;
  TmpdirOverride& operator=(const TmpdirOverride&) = delete;

 private:
  std::optional<std::string> old_;
};

}  // namespace

TEST_CASE("each TempDir is a new empty directory named <prefix>-XXXXXX, removed at the end") {
  fs::path first_path;
  {
    TempDir first("tetherd-support");
    TempDir second("tetherd-support");
    first_path = first.path();
    CHECK(first.path() != second.path());
    CHECK(first.path().is_absolute());
    CHECK(fs::is_directory(first.path()));
    CHECK(fs::is_empty(first.path()));
    const std::string name = first.path().filename().string();
    CHECK(name.rfind("tetherd-support-", 0) == 0);
    CHECK(name.size() == std::string("tetherd-support-XXXXXX").size());
    CHECK((fs::status(first.path()).permissions() & fs::perms::all) == fs::perms::owner_all);

    fs::create_directories(first.path() / "a/b/c");
    std::ofstream(first.path() / "a/b/c/file") << "data";
  }
  CHECK_FALSE(fs::exists(first_path));
}

TEST_CASE("TempDir lives under $TMPDIR, and under /tmp when $TMPDIR is unset or empty") {
  TempDir base("tetherd-support-base");
  {
    TmpdirOverride tmpdir(base.path().string());
    TempDir inside("tetherd-support");
    CHECK(inside.path().parent_path() == base.path());
  }
  for (const std::optional<std::string>& value :
       {std::optional<std::string>(), std::optional<std::string>("")}) {
    TmpdirOverride tmpdir(value);
    TempDir in_tmp("tetherd-support");
    CHECK(in_tmp.path().parent_path() == fs::path("/tmp"));
  }
}

TEST_CASE("TempDir removes directories a test made unreadable and unwritable") {
  fs::path kept;
  {
    TempDir dir("tetherd-support");
    kept = dir.path();
    fs::create_directories(dir.path() / "locked/inner");
    std::ofstream(dir.path() / "locked/inner/file") << "data";
    REQUIRE(::chmod((dir.path() / "locked/inner").c_str(), 0) == 0);
    REQUIRE(::chmod((dir.path() / "locked").c_str(), 0) == 0);
    REQUIRE(::chmod(dir.path().c_str(), 0500) == 0);
  }
  CHECK_FALSE(fs::exists(kept));
}

TEST_CASE("TempDir says why it cannot create the directory, and rejects a prefix with '/'") {
  TempDir base("tetherd-support-base");
  {
    TmpdirOverride tmpdir((base.path() / "missing").string());
    CHECK_THROWS_WITH_AS(TempDir("tetherd-support"), doctest::Contains("No such file or directory"),
                         std::runtime_error);
  }
  CHECK_THROWS_AS(TempDir("a/b"), std::invalid_argument);
  CHECK_THROWS_AS(TempDir(""), std::invalid_argument);
}

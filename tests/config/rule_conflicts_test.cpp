// Configs that must be refused although every rule alone is valid: rules whose targets are
// one directory or nest (local targets by what the paths are, remote ones by store and
// path), and rules that feed each other in a loop. Each is reported at the target of the
// rule that comes last, naming every rule involved. (Bind mounts: tests/e2e, in a private
// mount namespace.)

#include <doctest/doctest.h>

#include <filesystem>
#include <string>

#include "config_test_support.hpp"
#include "tetherd/config/load_config.hpp"

namespace tetherd::config {
namespace {

namespace fs = std::filesystem;
using testing::problems_of;
using testing::replace_all;
using testing::ScratchDir;

// A config of two or three rules (one a line, from line 8), with stores: "backup"
// (local, @DIR@/backup), "bucket" and "other" (s3).
std::string config_with(const ScratchDir& scratch, const std::string& rules) {
  return replace_all(R"({"stores": {
  "backup": {"type": "local", "root": "@DIR@/backup"},
  "bucket": {"type": "s3", "endpoint": "https://s", "region": "r", "bucket": "b12",
             "credentials_file": "/c"},
  "other": {"type": "s3", "endpoint": "https://s", "region": "r", "bucket": "b34",
            "credentials_file": "/c"}},
 "rules": [
)" + rules + "]}",
                     "@DIR@", scratch.path().string());
}

std::string rule(const std::string& name, const std::string& source, const std::string& target,
                 bool last = false) {
  return R"(  {"name": ")" + name + R"(", "source": ")" + source + R"(", "target": ")" + target +
         "\"}" + (last ? "\n" : ",\n");
}

TEST_CASE("two rules with one target are refused, naming both") {
  ScratchDir scratch;
  scratch.make_dir("a");
  scratch.make_dir("b");
  scratch.make_dir("out");
  scratch.make_dir("backup/x");
  const std::string dir = scratch.path().string();
  // Lines 7 and 8: the second rule's target is at column 41 + the length of its source.
  const std::string text = config_with(scratch, rule("first", "@DIR@/a", "@DIR@/out") +
                                                    rule("second", "@DIR@/b", "@DIR@/out/", true));
  const std::string column = std::to_string(48 + dir.size());
  CHECK(problems_of(text) == "t.json:9:" + column +
                                 ": rules[1].target: rule \"second\" and rule \"first\" (line 8) "
                                 "have the same target \"" +
                                 dir +
                                 "/out\"; rules must not share a target (each would delete or "
                                 "overwrite what the other copies)\n");

  // The same directory through a local store: shown with the store's name.
  const std::string through_store =
      config_with(scratch, rule("first", "@DIR@/a", "@DIR@/backup/x") +
                               rule("second", "@DIR@/b", "backup:x", true));
  CHECK(problems_of(through_store)
            .find("rule \"second\" and rule \"first\" (line 8) have the "
                  "same target \"backup:x\" (\"" +
                  dir + "/backup/x\") = \"" + dir + "/backup/x\"") != std::string::npos);
}

TEST_CASE("a target inside another rule's target is refused, either way round") {
  ScratchDir scratch;
  scratch.make_dir("a");
  scratch.make_dir("b");
  scratch.make_dir("backup");  // "backup:sub" is made by tetherd, inside the store's root
  scratch.make_dir("t/deep/er");
  const std::string dir = scratch.path().string();
  const std::string inside =
      problems_of(config_with(scratch, rule("outer", "@DIR@/a", "@DIR@/backup") +
                                           rule("inner", "@DIR@/b", "backup:sub", true)));
  CHECK(inside.find("rules[1].target: the target \"backup:sub\" (\"" + dir +
                    "/backup/sub\") of rule \"inner\" is inside the target \"" + dir +
                    "/backup\" of rule \"outer\" (line 8); targets must not nest (rule \"outer\" "
                    "would delete or overwrite what rule \"inner\" copies)\n") !=
        std::string::npos);
  const std::string contains =
      problems_of(config_with(scratch, rule("inner", "@DIR@/a", "@DIR@/t/deep/er") +
                                           rule("outer", "@DIR@/b", "@DIR@/t", true)));
  CHECK(contains.find("rules[1].target: the target \"" + dir +
                      "/t\" of rule \"outer\" contains the target \"" + dir +
                      "/t/deep/er\" of rule \"inner\" (line 8); targets must not nest (rule "
                      "\"outer\" would delete or overwrite what rule \"inner\" copies)\n") !=
        std::string::npos);
  // Through a symbolic link to a directory that does not hold the target yet.
  fs::create_directory_symlink(scratch.path() / "t", scratch.path() / "t-link");
  CHECK(problems_of(config_with(scratch, rule("inner", "@DIR@/a", "@DIR@/t/deep/er") +
                                             rule("outer", "@DIR@/b", "@DIR@/t-link/deep", true)))
            .find("contains the target") != std::string::npos);
}

TEST_CASE("targets in one remote store must not nest; other stores and siblings are fine") {
  ScratchDir scratch;
  scratch.make_dir("a");
  scratch.make_dir("b");
  scratch.make_dir("photos");
  scratch.make_dir("out/a");
  scratch.make_dir("out/b");
  const auto problems = [&](const std::string& first, const std::string& second) {
    return problems_of(
        config_with(scratch, rule("one", "@DIR@/a", first) + rule("two", "@DIR@/b", second, true)));
  };
  CHECK(
      problems("bucket:photos", "bucket:photos/")
          .find("rule \"two\" and rule \"one\" (line 8) have the same target \"bucket:photos\"") !=
      std::string::npos);
  CHECK(
      problems("bucket:", "bucket:x")
          .find("the target \"bucket:x\" of rule \"two\" is inside the target \"bucket:\" of rule "
                "\"one\" (line 8)") != std::string::npos);
  CHECK(problems("bucket:a/b/c", "bucket:a").find("contains the target \"bucket:a/b/c\"") !=
        std::string::npos);
  CHECK(problems("bucket:photos", "bucket:photos-old") == "");
  CHECK(problems("bucket:photos", "other:photos") == "");
  CHECK(problems("bucket:photos", "@DIR@/photos") == "");
  CHECK(problems("@DIR@/out/a", "@DIR@/out/b") == "");
}

TEST_CASE("rules that feed each other in a loop are refused, naming every rule") {
  ScratchDir scratch;
  scratch.make_dir("A/inner");
  scratch.make_dir("A/z");
  scratch.make_dir("B/inner");
  scratch.make_dir("C/y");
  const std::string dir = scratch.path().string();
  // The issue's case: r1 /p/A -> /p/B/inner, r2 /p/B -> /p/A/inner.
  const std::string two =
      problems_of(config_with(scratch, rule("r1", "@DIR@/A", "@DIR@/B/inner") +
                                           rule("r2", "@DIR@/B", "@DIR@/A/inner", true)));
  CHECK(two == "t.json:9:" + std::to_string(44 + dir.size()) +
                   ": rules[1].target: rules \"r1\" (line 8) and \"r2\" feed each other in a "
                   "loop: the target \"" +
                   dir + "/B/inner\" of \"r1\" is inside the source \"" + dir +
                   "/B\" of \"r2\", and the target \"" + dir +
                   "/A/inner\" of \"r2\" is inside the source \"" + dir +
                   "/A\" of \"r1\"; every copy would be copied again, deeper each time, without "
                   "end\n");

  // Three rules, a target that is another rule's source itself, and a rule not in the loop.
  const std::string three = problems_of(
      config_with(scratch, rule("x", "@DIR@/A", "@DIR@/B") + rule("y", "@DIR@/B", "@DIR@/C/y") +
                               rule("z", "@DIR@/C", "@DIR@/A/z", true)));
  CHECK(three.find("rules[2].target: rules \"x\" (line 8), \"y\" (line 9) and \"z\" feed each "
                   "other in a loop") != std::string::npos);
  CHECK(three.find("the target \"" + dir + "/B\" of \"x\" is inside the source \"" + dir +
                   "/B\" of \"y\"") != std::string::npos);

  // A target that holds another rule's source: a: A -> B, b: B/x -> A/x/y. What a copies
  // from A/x lands in B/x, which b copies into A/x/y, which a copies again.
  scratch.make_dir("A/x/y");
  scratch.make_dir("B/x");
  const std::string holds = problems_of(config_with(
      scratch, rule("a", "@DIR@/A", "@DIR@/B") + rule("b", "@DIR@/B/x", "@DIR@/A/x/y", true)));
  CHECK(holds.find("rules[1].target: rules \"a\" (line 8) and \"b\" feed each other in a loop: "
                   "the target \"" +
                   dir + "/B\" of \"a\" holds the source \"" + dir +
                   "/B/x\" of \"b\", and the target \"" + dir +
                   "/A/x/y\" of \"b\" is inside the source \"" + dir + "/A\" of \"a\"") !=
        std::string::npos);

  // Through a symbolic link to a source.
  fs::create_directory_symlink(scratch.path() / "A", scratch.path() / "A-link");
  CHECK(problems_of(config_with(scratch, rule("r1", "@DIR@/A", "@DIR@/B/inner") +
                                             rule("r2", "@DIR@/B", "@DIR@/A-link/inner", true)))
            .find("feed each other in a loop") != std::string::npos);
}

TEST_CASE("rules that feed each other in a chain, without a loop, are fine") {
  ScratchDir scratch;
  scratch.make_dir("A/inner");
  scratch.make_dir("B/from-a");
  scratch.make_dir("C/from-b");
  CHECK(problems_of(config_with(scratch, rule("r1", "@DIR@/A", "@DIR@/B/from-a") +
                                             rule("r2", "@DIR@/B", "@DIR@/C/from-b", true))) == "");
  // A remote target feeds nothing on this machine.
  CHECK(problems_of(config_with(scratch, rule("r1", "@DIR@/A", "bucket:B/inner") +
                                             rule("r2", "@DIR@/B", "@DIR@/A/inner", true))) == "");
}

}  // namespace
}  // namespace tetherd::config

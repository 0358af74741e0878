// The mount table read from mountinfo text: escapes, stacked mounts, and where a path lies
// within its filesystem, so that a bind mount of a directory below another path is seen to
// lie inside it. (The real mounts: tests/e2e/test_hostile_config.py, in a private mount
// namespace.)

#include "mount_table.hpp"

#include <doctest/doctest.h>

#include <filesystem>
#include <optional>
#include <string>

#include "support/temp_dir.hpp"

namespace tetherd::config::detail {
namespace {

namespace fs = std::filesystem;

// "/" on 8:1, /q a bind mount of its /p/x/deep, /home on 8:2 with a bind mount of its
// "/alice/my docs" at "/srv/with space", two tmpfs stacked on /mnt/t (listed top first)
// with a bind mount of the lower one's /lower at /b, and lines that are left out.
constexpr const char* kSample =
    "22 27 0:21 / /proc rw,relatime - proc proc rw\n"
    "27 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw\n"
    "40 27 8:1 /p/x/deep /q rw,relatime shared:1 - ext4 /dev/sda1 rw\n"
    "41 27 8:2 / /home rw - ext4 /dev/sda2 rw\n"
    "42 27 8:2 /alice/my\\040docs /srv/with\\040space rw - ext4 /dev/sda2 rw\n"
    "44 43 0:51 / /mnt/t rw - tmpfs tmpfs rw\n"
    "43 27 0:50 / /mnt/t rw - tmpfs tmpfs rw\n"
    "46 27 0:50 /lower /b rw - tmpfs tmpfs rw\n"
    "45 27 0:4 net:[4026531840] /run/netns/x rw - nsfs nsfs rw\n"
    "not a mount\n"
    "\n";

TEST_CASE("mountinfo escapes are undone; other backslashes are kept") {
  CHECK(unescape_mountinfo("my\\040docs") == "my docs");
  CHECK(unescape_mountinfo("a\\011b\\012c\\134d") == "a\tb\nc\\d");
  CHECK(unescape_mountinfo("end\\04") == "end\\04");
  CHECK(unescape_mountinfo("\\089") == "\\089");
  CHECK(unescape_mountinfo("plain") == "plain");
}

TEST_CASE("a mountinfo line gives its device, root and mount point") {
  const MountTable table = MountTable::parse(kSample);
  REQUIRE(table.mounts().size() == 8);
  CHECK(table.mounts()[4] == Mount{"42", "27", "8:2", "/alice/my docs", "/srv/with space"});
  CHECK(table.mounts()[2] == Mount{"40", "27", "8:1", "/p/x/deep", "/q"});
}

TEST_CASE("a path reached through a bind mount of a directory below another lies inside it") {
  const MountTable table = MountTable::parse(kSample);
  CHECK(table.seen_within("/q/t", "/p/x") == fs::path("/p/x/deep/t"));
  CHECK(table.seen_within("/q/t/not/made", "/p") == fs::path("/p/x/deep/t/not/made"));
  CHECK(table.seen_within("/q", "/p/x/deep") == fs::path("/p/x/deep"));
  // The other way round (a source shown below a target), and names with spaces.
  CHECK(table.seen_within("/srv/with space/sub", "/home/alice") ==
        fs::path("/home/alice/my docs/sub"));
}

TEST_CASE("paths apart, or in different filesystems, are not within each other") {
  const MountTable table = MountTable::parse(kSample);
  CHECK(table.seen_within("/q/t", "/p/y") == std::nullopt);
  CHECK(table.seen_within("/p/x", "/q") == std::nullopt);
  CHECK(table.seen_within("/q/t", "/p/x/deeper") == std::nullopt);
  CHECK(table.seen_within("/home/alice", "/") == std::nullopt);  // 8:2 is not 8:1
  CHECK(MountTable::parse("").seen_within("/a/b", "/a") == std::nullopt);
}

TEST_CASE("of mounts stacked on one point, the topmost is what the path shows") {
  const MountTable table = MountTable::parse(kSample);
  // /b shows the lower tmpfs, hidden at /mnt/t beneath the upper one.
  CHECK(table.seen_within("/b/x", "/mnt/t") == std::nullopt);
  CHECK(table.seen_within("/mnt/t/a", "/mnt/t") == fs::path("/mnt/t/a"));
}

TEST_CASE("this process's mount table places a directory within itself") {
  const std::optional<MountTable> table = MountTable::read();
  REQUIRE(table.has_value());
  const test_support::TempDir scratch("tetherd-mounts");
  const fs::path directory = fs::canonical(scratch.path());
  CHECK(table->seen_within(directory / "sub", directory) == directory / "sub");
}

}  // namespace
}  // namespace tetherd::config::detail

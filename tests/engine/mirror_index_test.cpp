#include "tetherd/engine/mirror_index.hpp"

#include <doctest/doctest.h>

#include <string>

using tetherd::daemon::Mirrored;
using tetherd::daemon::MirrorIndex;

namespace {

// Remembers `path` with `inode`, so moves can be told apart by what they carry.
void put(MirrorIndex& index, std::string_view path, std::uint64_t inode) {
  index[path].inode = inode;
}

// The inode remembered for `path`, 0 for none.
std::uint64_t inode_of(const MirrorIndex& index, std::string_view path) {
  const Mirrored* found = index.find(path);
  return found ? found->inode : 0;
}

}  // namespace

TEST_CASE("an empty index knows nothing") {
  MirrorIndex index;
  CHECK(index.size() == 0);
  CHECK(index.find("") == nullptr);
  CHECK(index.find("a/b") == nullptr);
  CHECK(index.count_within("") == 0);
}

TEST_CASE("entries are found by their exact path only") {
  MirrorIndex index;
  put(index, "a/b/c", 3);
  CHECK(index.size() == 1);
  CHECK(inode_of(index, "a/b/c") == 3);
  // The directories on the way hold no entry of their own.
  CHECK_FALSE(index.contains("a"));
  CHECK_FALSE(index.contains("a/b"));
  CHECK_FALSE(index.contains("a/b/c/d"));
  CHECK_FALSE(index.contains("a/b/cc"));
  CHECK_FALSE(index.contains(""));
  put(index, "a", 1);
  put(index, "", 9);
  CHECK(index.size() == 3);
  CHECK(inode_of(index, "a") == 1);
  CHECK(inode_of(index, "") == 9);
}

TEST_CASE("operator[] updates an entry in place") {
  MirrorIndex index;
  put(index, "x/y", 1);
  put(index, "x/y", 2);
  CHECK(index.size() == 1);
  CHECK(inode_of(index, "x/y") == 2);
}

TEST_CASE("erase_subtree drops the path and what lies within it, nothing beside it") {
  MirrorIndex index;
  put(index, "a", 1);
  put(index, "a/b", 2);
  put(index, "a/b/c", 3);
  put(index, "a-b", 4);   // sorts between "a" and "a/b" as a string: not within "a"
  put(index, "ab/c", 5);  // shares the prefix "a" without the slash
  put(index, "a/bc", 6);  // a sibling of "a/b" with a longer name
  index.erase_subtree("a/b");
  CHECK(index.size() == 4);
  CHECK_FALSE(index.contains("a/b"));
  CHECK_FALSE(index.contains("a/b/c"));
  CHECK(inode_of(index, "a") == 1);
  CHECK(inode_of(index, "a/bc") == 6);
  index.erase_subtree("a");
  CHECK(index.size() == 2);
  CHECK(inode_of(index, "a-b") == 4);
  CHECK(inode_of(index, "ab/c") == 5);
  index.erase_subtree("nothing/here");
  CHECK(index.size() == 2);
}

TEST_CASE("erase_subtree of a directory that has no entry itself drops what lies within") {
  MirrorIndex index;
  put(index, "d/e/f", 1);
  put(index, "d/g", 2);
  index.erase_subtree("d");
  CHECK(index.size() == 0);
  CHECK_FALSE(index.contains("d/g"));
  // Emptied directories are pruned: remembering again starts from scratch.
  put(index, "d/g", 3);
  CHECK(index.size() == 1);
  CHECK(inode_of(index, "d/g") == 3);
}

TEST_CASE("erase_subtree of the root drops everything") {
  MirrorIndex index;
  put(index, "", 1);
  put(index, "a/b", 2);
  index.erase_subtree("");
  CHECK(index.size() == 0);
  CHECK_FALSE(index.contains("a/b"));
}

TEST_CASE("count_within counts entries strictly within a path") {
  MirrorIndex index;
  put(index, "a", 1);
  put(index, "a/b", 2);
  put(index, "a/b/c", 3);
  put(index, "a/d", 4);
  put(index, "ab", 5);
  CHECK(index.count_within("a") == 3);
  CHECK(index.count_within("a/b") == 1);
  CHECK(index.count_within("a/b/c") == 0);
  CHECK(index.count_within("ab") == 0);
  CHECK(index.count_within("") == 5);
  CHECK(index.count_within("zzz") == 0);
}

TEST_CASE("move_subtree carries entries to the new place and replaces what was there") {
  MirrorIndex index;
  put(index, "old", 1);
  put(index, "old/f", 2);
  put(index, "old/sub/g", 3);
  put(index, "new/stale", 7);  // within the destination: dropped by the move
  put(index, "new", 8);
  put(index, "older", 9);  // shares the prefix: stays
  index.move_subtree("old", "new");
  CHECK(index.size() == 4);
  CHECK(inode_of(index, "new") == 1);
  CHECK(inode_of(index, "new/f") == 2);
  CHECK(inode_of(index, "new/sub/g") == 3);
  CHECK_FALSE(index.contains("new/stale"));
  CHECK_FALSE(index.contains("old"));
  CHECK_FALSE(index.contains("old/f"));
  CHECK(inode_of(index, "older") == 9);
}

TEST_CASE("move_subtree into a new deeper place makes the directories on the way") {
  MirrorIndex index;
  put(index, "a/f", 1);
  index.move_subtree("a", "x/y/z");
  CHECK(index.size() == 1);
  CHECK(inode_of(index, "x/y/z/f") == 1);
  CHECK_FALSE(index.contains("a/f"));
}

TEST_CASE("move_subtree from a path the index does not know only clears the destination") {
  MirrorIndex index;
  put(index, "to/f", 1);
  put(index, "other", 2);
  index.move_subtree("missing", "to");
  CHECK(index.size() == 1);
  CHECK_FALSE(index.contains("to/f"));
  CHECK(inode_of(index, "other") == 2);
}

TEST_CASE("a file renamed within its directory keeps its entry") {
  MirrorIndex index;
  put(index, "d/a.txt", 1);
  put(index, "d/b.txt", 2);
  index.move_subtree("d/a.txt", "d/c.txt");
  CHECK(index.size() == 2);
  CHECK(inode_of(index, "d/c.txt") == 1);
  CHECK(inode_of(index, "d/b.txt") == 2);
  CHECK_FALSE(index.contains("d/a.txt"));
}

TEST_CASE("a remembered target state reads back as it was set") {
  using tetherd::core::EntryType;
  using tetherd::daemon::TargetState;
  MirrorIndex index;
  TargetState file;
  file.type = EntryType::File;
  file.size = 4096;
  file.mtime_ns = -1'500'000'000;  // before 1970: negative, not "none"
  file.mode = 0640;
  index["a/f"].set_target(file);
  TargetState link;
  link.type = EntryType::Symlink;
  link.size = 11;
  link.link_target = "../elsewhere";
  index["a/l"].set_target(link);

  const TargetState f = index.find("a/f")->target();
  CHECK(f.type == EntryType::File);
  CHECK(f.size == 4096);
  CHECK(f.mtime_ns == std::optional<std::int64_t>(-1'500'000'000));
  CHECK(f.mode == std::optional<std::uint32_t>(0640));
  CHECK(f.link_target.empty());
  CHECK(index.find("a/f")->target_type() == EntryType::File);

  const TargetState l = index.find("a/l")->target();
  CHECK(l.type == EntryType::Symlink);
  CHECK(l.size == 11);
  CHECK_FALSE(l.mtime_ns.has_value());
  CHECK_FALSE(l.mode.has_value());
  CHECK(l.link_target == "../elsewhere");

  // Set again: what the new state lacks is gone, not kept from before.
  index["a/l"].set_target(file);
  const TargetState again = index.find("a/l")->target();
  CHECK(again.type == EntryType::File);
  CHECK(again.link_target.empty());
  CHECK(again.mode == std::optional<std::uint32_t>(0640));
}

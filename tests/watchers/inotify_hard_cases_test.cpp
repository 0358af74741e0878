// The hard cases of inotify (see inotify_watcher.hpp), against the real filesystem and real
// inotify.
#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <thread>

#include "watch_fixture.hpp"

using namespace tetherd;
using namespace tetherd::test;

namespace {

std::size_t count_kind(const std::vector<Change>& changes, ChangeKind kind, std::string_view path) {
  return static_cast<std::size_t>(std::count_if(
      changes.begin(), changes.end(),
      [&](const Change& change) { return change.kind == kind && change.path == path; }));
}

}  // namespace

TEST_CASE("basic create / modify / attrib / remove and rename are reported") {
  WatchFixture fixture;
  auto& watcher = fixture.start_inotify();
  CHECK(watcher.watched_directory_count() == 1);
  write_file(fixture.dir / "f", "hello");
  REQUIRE(fixture.run_until([&] {
    return fixture.saw(ChangeKind::created, "f") && fixture.saw(ChangeKind::modified, "f");
  }));
  REQUIRE(::chmod((fixture.dir / "f").c_str(), 0600) == 0);
  REQUIRE(fixture.run_until([&] { return fixture.saw(ChangeKind::attrib, "f"); }));
  rename_path(fixture.dir / "f", fixture.dir / "g");
  REQUIRE(fixture.run_until([&] { return fixture.saw_moved("f", "g"); }));
  REQUIRE(::unlink((fixture.dir / "g").c_str()) == 0);
  REQUIRE(fixture.run_until([&] { return fixture.saw(ChangeKind::removed, "g"); }));
  CHECK(fixture.errors.empty());
}

TEST_CASE("hard case 1: mkdir d_i && touch d_i/f 1000 times / every d_i/f reported") {
  WatchFixture fixture;
  fixture.start_inotify();
  constexpr int count = 1000;
  for (int i = 0; i < count; ++i) {
    const std::string dir = fixture.dir / ("d_" + std::to_string(i));
    REQUIRE(::mkdir(dir.c_str(), 0755) == 0);
    write_file(dir + "/f");
  }
  std::set<std::string> missing;
  for (int i = 0; i < count; ++i)
    missing.insert("d_" + std::to_string(i) + "/f");
  std::size_t seen = 0;
  const bool all = fixture.run_until([&] {
    for (; seen < fixture.changes.size(); ++seen) {
      const Change& change = fixture.changes[seen];
      if (change.kind == ChangeKind::created || change.kind == ChangeKind::modified) {
        missing.erase(change.path);
      }
    }
    return missing.empty();
  });
  CHECK(all);
  CHECK(missing.size() == 0);
  CHECK(fixture.watcher->watched_directory_count() == count + 1);
}

TEST_CASE("hard case 2: mkdir -p a/b/c/d && touch a/b/c/d/x / then a/b/c/d/y") {
  WatchFixture fixture;
  fixture.start_inotify();
  make_dirs(fixture.dir / "a/b/c/d");
  write_file(fixture.dir / "a/b/c/d/x");
  REQUIRE(fixture.run_until([&] { return fixture.mentions("a/b/c/d/x"); }));
  CHECK(fixture.saw(ChangeKind::created, "a"));
  REQUIRE(fixture.run_until([&] { return fixture.watcher->watched_directory_count() == 5; }));
  write_file(fixture.dir / "a/b/c/d/y");
  REQUIRE(fixture.run_until([&] { return fixture.saw(ChangeKind::created, "a/b/c/d/y"); }));
}

TEST_CASE("hard case 3: overflow while the consumer is paused -> rescan / reconcile finds all") {
  WatchFixture fixture;
  fixture.start_inotify();
  const long queue_limit = read_proc_number("/proc/sys/fs/inotify/max_queued_events");
  REQUIRE(queue_limit > 0);
  const long files = queue_limit + 2000;
  make_dirs(fixture.dir / "many");
  REQUIRE(fixture.run_until([&] { return fixture.watcher->watched_directory_count() == 2; }));
  // The loop does not run while these are created: the kernel queue overflows.
  for (long i = 0; i < files; ++i)
    write_file(fixture.dir / ("many/" + std::to_string(i)), "");
  REQUIRE(fixture.run_until([&] {
    return std::any_of(fixture.changes.begin(), fixture.changes.end(), [](const Change& change) {
      return change.kind == ChangeKind::rescan && change.path.empty() && change.queue_overflow &&
             change.reason == "overflow";
    });
  }));
  // Reconcile the way the engine does: list the subtree the rescan names.
  long present = 0;
  for (const auto& entry : std::filesystem::directory_iterator(fixture.dir / "many")) {
    present += entry.is_regular_file() ? 1 : 0;
  }
  CHECK(present == files);
  // Watching continues after the overflow.
  write_file(fixture.dir / "many/after");
  REQUIRE(fixture.run_until([&] { return fixture.saw(ChangeKind::created, "many/after"); }));
}

TEST_CASE("hard case 5: mv a z (a has b/f) then touch z/b/g is reported as z/b/g") {
  WatchFixture fixture;
  make_dirs(fixture.dir / "a/b");
  write_file(fixture.dir / "a/b/f");
  auto& watcher = fixture.start_inotify();
  CHECK(watcher.watched_directory_count() == 3);
  rename_path(fixture.dir / "a", fixture.dir / "z");
  REQUIRE(fixture.run_until([&] {
    return fixture.saw_moved("a", "z") ||
           (fixture.saw(ChangeKind::removed, "a") && fixture.saw(ChangeKind::created, "z"));
  }));
  write_file(fixture.dir / "z/b/g");
  REQUIRE(fixture.run_until([&] { return fixture.saw(ChangeKind::created, "z/b/g"); }));
  CHECK_FALSE(fixture.mentions("a/b/g"));
  CHECK(watcher.watched_directory_count() == 3);
}

TEST_CASE("hard case 6: mv in/f out/ (out not watched) -> removal after the pairing timeout") {
  WatchFixture fixture;
  TempDir outside;
  make_dirs(fixture.dir / "in");
  write_file(fixture.dir / "in/f");
  fixture.start_inotify();
  rename_path(fixture.dir / "in/f", outside / "f");
  REQUIRE(fixture.run_until([&] { return fixture.saw(ChangeKind::removed, "in/f"); }));
  CHECK_FALSE(fixture.mentions("f"));
}

TEST_CASE("hard case 6b: a directory moved out of the tree is no longer watched") {
  WatchFixture fixture;
  TempDir outside;
  make_dirs(fixture.dir / "in/sub/deeper");
  auto& watcher = fixture.start_inotify();
  CHECK(watcher.inotify_watch_count() == 4);
  rename_path(fixture.dir / "in/sub", outside / "sub");
  REQUIRE(fixture.run_until([&] { return fixture.saw(ChangeKind::removed, "in/sub"); }));
  REQUIRE(fixture.run_until([&] { return watcher.inotify_watch_count() == 2; }));
  write_file(outside / "sub/deeper/x");
  fixture.run_for(100ms);
  CHECK_FALSE(fixture.mentions("in/sub/deeper/x"));
}

TEST_CASE("hard case 7: mv out/dir in/ with a populated tree -> all created and watched") {
  WatchFixture fixture;
  TempDir outside;
  make_dirs(fixture.dir / "in");
  make_dirs(outside / "dir/one/two");
  make_dirs(outside / "dir/three");
  write_file(outside / "dir/top");
  write_file(outside / "dir/one/two/deep");
  write_file(outside / "dir/three/x");
  fixture.start_inotify();
  rename_path(outside / "dir", fixture.dir / "in/dir");
  REQUIRE(fixture.run_until([&] {
    return fixture.saw(ChangeKind::created, "in/dir") &&
           fixture.saw(ChangeKind::created, "in/dir/top") &&
           fixture.saw(ChangeKind::created, "in/dir/one/two/deep") &&
           fixture.saw(ChangeKind::created, "in/dir/three/x") &&
           fixture.saw(ChangeKind::created, "in/dir/one/two");
  }));
  CHECK(fixture.watcher->watched_directory_count() == 6);
  write_file(fixture.dir / "in/dir/one/two/new");
  REQUIRE(
      fixture.run_until([&] { return fixture.saw(ChangeKind::created, "in/dir/one/two/new"); }));
}

TEST_CASE("hard case 8: rename while another writer floods events is paired or remove+create") {
  WatchFixture fixture;
  make_dirs(fixture.dir / "flood");
  write_file(fixture.dir / "victim");
  fixture.start_inotify();
  std::atomic<bool> stop{false};
  std::thread writer([&] {
    for (int i = 0; !stop.load(); ++i) {
      write_file(fixture.dir / ("flood/" + std::to_string(i % 500)), "data");
    }
  });
  // Let the flood reach the watcher before renaming.
  const bool flooding = fixture.run_until([&] { return fixture.changes.size() > 2000; });
  rename_path(fixture.dir / "victim", fixture.dir / "renamed");
  const bool reported = fixture.run_until([&] {
    return fixture.saw_moved("victim", "renamed") ||
           (fixture.saw(ChangeKind::removed, "victim") &&
            fixture.saw(ChangeKind::created, "renamed")) ||
           std::any_of(fixture.changes.begin(), fixture.changes.end(),
                       [](const Change& c) { return c.kind == ChangeKind::rescan; });
  });
  stop = true;
  writer.join();
  CHECK(flooding);
  CHECK(reported);
}

TEST_CASE("hard case 9: rm -rf of a deep tree -> all removed / the wd map shrinks back") {
  WatchFixture fixture;
  std::string path = fixture.dir / "sub";
  for (int depth = 0; depth < 30; ++depth) {
    path += "/level" + std::to_string(depth);
  }
  make_dirs(path);
  write_file(path + "/leaf");
  for (int i = 0; i < 20; ++i)
    make_dirs(fixture.dir / ("sub/wide" + std::to_string(i)));
  auto& watcher = fixture.start_inotify();
  CHECK(watcher.inotify_watch_count() == 1 + 1 + 30 + 20);
  std::filesystem::remove_all(fixture.dir / "sub");
  REQUIRE(fixture.run_until([&] {
    return fixture.saw(ChangeKind::removed, "sub") && watcher.inotify_watch_count() == 1;
  }));
  CHECK(watcher.watched_directory_count() == 1);
  CHECK(fixture.saw(ChangeKind::removed, "sub/wide7"));
  CHECK(fixture.model().empty());
}

TEST_CASE("hard case 10: root deleted -> root_gone(deleted)") {
  WatchFixture fixture;
  TempDir parent;
  make_dirs(parent / "root/sub");
  auto options = fixture.options();
  options.root = parent / "root";
  fixture.start_inotify(options);
  std::filesystem::remove_all(parent / "root");
  REQUIRE(fixture.run_until([&] {
    return !fixture.changes.empty() && fixture.changes.back().kind == ChangeKind::root_gone;
  }));
  CHECK(fixture.changes.back().reason == "deleted");
  CHECK(count_kind(fixture.changes, ChangeKind::root_gone, "") == 1);
  CHECK(fixture.watcher->watched_directory_count() == 0);
}

TEST_CASE("hard case 10: root renamed or replaced -> root_gone(moved) / never a mass delete") {
  WatchFixture fixture;
  TempDir parent;
  make_dirs(parent / "root/sub");
  write_file(parent / "root/sub/f");
  auto options = fixture.options();
  options.root = parent / "root";
  fixture.start_inotify(options);
  rename_path(parent / "root", parent / "bye");
  make_dirs(parent / "root");  // replaced by a new, empty directory
  REQUIRE(fixture.run_until([&] {
    return !fixture.changes.empty() && fixture.changes.back().kind == ChangeKind::root_gone;
  }));
  CHECK(fixture.changes.back().reason == "moved");
  CHECK(count_kind(fixture.changes, ChangeKind::removed, "sub") == 0);
  CHECK(count_kind(fixture.changes, ChangeKind::removed, "sub/f") == 0);
  // Nothing more arrives once the root is gone.
  const std::size_t reported = fixture.changes.size();
  write_file(parent / "bye/sub/late");
  fixture.run_for(100ms);
  CHECK(fixture.changes.size() == reported);
}

TEST_CASE("hard case 11: atomic save (write f.tmp / rename over f) -> f changed / no f.tmp") {
  WatchFixture fixture;
  write_file(fixture.dir / "f", "old");
  fixture.start_inotify();
  write_file(fixture.dir / "f.tmp", "new");
  rename_path(fixture.dir / "f.tmp", fixture.dir / "f");
  REQUIRE(fixture.run_until([&] { return fixture.mentions("f"); }));
  const std::set<std::string> present = fixture.model();
  CHECK(present.count("f") == 1);
  CHECK(present.count("f.tmp") == 0);
}

TEST_CASE("hard case 12: a slow writer appending every 100 ms is reported up to its last write") {
  WatchFixture fixture;
  write_file(fixture.dir / "log", "");
  fixture.start_inotify();
  // The writer is driven by a timer on the same loop: 50 appends, 100 ms apart.
  struct Writer {
    std::string path;
    int appends = 0;
  } writer{fixture.dir / "log"};
  uv_timer_t timer;
  uv_timer_init(fixture.loop(), &timer);
  timer.data = &writer;
  uv_timer_start(
      &timer,
      [](uv_timer_t* handle) {
        auto* state = static_cast<Writer*>(handle->data);
        append_file(state->path, "line\n");
        if (++state->appends == 50) uv_timer_stop(handle);
      },
      100, 100);
  std::size_t modified_after_last = 0;
  REQUIRE(fixture.run_until(
      [&] {
        if (writer.appends < 50) {
          modified_after_last = fixture.changes.size();
          return false;
        }
        return fixture.changes.size() > modified_after_last;
      },
      30s));
  uv_close(reinterpret_cast<uv_handle_t*>(&timer), nullptr);
  fixture.run_for(50ms);
  for (const Change& change : fixture.changes) {
    CHECK(change.path == "log");
    CHECK(change.kind == ChangeKind::modified);
  }
  CHECK(fixture.changes.back().kind == ChangeKind::modified);
  CHECK(std::filesystem::file_size(fixture.dir / "log") == 50 * 5);
}

TEST_CASE("hard case 13: create then unlink before processing -> nothing or create+remove") {
  WatchFixture fixture;
  fixture.start_inotify();
  make_dirs(fixture.dir / "d");
  write_file(fixture.dir / "d/ghost");
  write_file(fixture.dir / "ghost");
  REQUIRE(::unlink((fixture.dir / "d/ghost").c_str()) == 0);
  REQUIRE(::unlink((fixture.dir / "ghost").c_str()) == 0);
  write_file(fixture.dir / "marker");
  REQUIRE(fixture.run_until([&] { return fixture.saw(ChangeKind::created, "marker"); }));
  const std::set<std::string> present = fixture.model();
  CHECK(present.count("ghost") == 0);
  CHECK(present.count("d/ghost") == 0);
  CHECK(present.count("d") == 1);
}

TEST_CASE("hard case 14: swap (mv dir bye - mv alt dir) -> both trees right afterwards") {
  WatchFixture fixture;
  make_dirs(fixture.dir / "dir/inner");
  make_dirs(fixture.dir / "alt/other");
  auto& watcher = fixture.start_inotify();
  rename_path(fixture.dir / "dir", fixture.dir / "bye");
  rename_path(fixture.dir / "alt", fixture.dir / "dir");
  REQUIRE(fixture.run_until(
      [&] { return fixture.saw_moved("dir", "bye") && fixture.saw_moved("alt", "dir"); }));
  write_file(fixture.dir / "dir/other/x");
  write_file(fixture.dir / "bye/inner/y");
  REQUIRE(fixture.run_until([&] {
    return fixture.saw(ChangeKind::created, "dir/other/x") &&
           fixture.saw(ChangeKind::created, "bye/inner/y");
  }));
  CHECK_FALSE(fixture.mentions("alt/other/x"));
  CHECK_FALSE(fixture.mentions("dir/inner/y"));
  CHECK(watcher.inotify_watch_count() == 5);
}

TEST_CASE("hard case 15: non-UTF-8 / 255-byte and newline names are reported byte-exact") {
  WatchFixture fixture;
  fixture.start_inotify();
  const std::string latin1 = "caf\xe9";
  const std::string long_name(255, 'n');
  const std::string newline = "two\nlines";
  write_file(fixture.dir / latin1);
  write_file(fixture.dir / long_name);
  write_file(fixture.dir / newline);
  // Also inside a new directory, where the scan (not an event) finds them.
  const std::string odd_dir = "d\xff\xfe";
  make_dirs(fixture.dir / odd_dir);
  write_file(fixture.dir / (odd_dir + "/" + latin1));
  REQUIRE(fixture.run_until([&] {
    return fixture.saw(ChangeKind::created, latin1) &&
           fixture.saw(ChangeKind::created, long_name) &&
           fixture.saw(ChangeKind::created, newline) && fixture.mentions(odd_dir + "/" + latin1);
  }));
}

TEST_CASE("excluded directories are never watched nor scanned") {
  WatchFixture fixture;
  make_dirs(fixture.dir / "keep/sub");
  make_dirs(fixture.dir / "skip/sub");
  auto options = fixture.options();
  options.watch_directory = [](std::string_view dir) {
    return dir != "skip" && dir.substr(0, 5) != "skip/" && dir.find(".cache") == dir.npos;
  };
  auto& watcher = fixture.start_inotify(options);
  CHECK(watcher.inotify_watch_count() == 3);
  write_file(fixture.dir / "skip/sub/x");
  make_dirs(fixture.dir / "keep/.cache/deep");
  write_file(fixture.dir / "keep/.cache/deep/y");
  write_file(fixture.dir / "keep/z");
  REQUIRE(fixture.run_until([&] { return fixture.saw(ChangeKind::created, "keep/z"); }));
  CHECK(fixture.saw(ChangeKind::created, "keep/.cache"));
  CHECK_FALSE(fixture.mentions("skip/sub/x"));
  CHECK_FALSE(fixture.mentions("keep/.cache/deep"));
  CHECK(watcher.inotify_watch_count() == 3);
}

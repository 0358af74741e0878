// A big walk (a tree moved in, the re-walk after an overflow) runs in slices, the loop
// handling other work between them; sync() and the overflow report wait for its end.
#include <doctest/doctest.h>
#include <sys/inotify.h>

#include "watch_fixture.hpp"
#include "watch_limit_api.hpp"

using namespace tetherd;
using namespace tetherd::test;

TEST_CASE("a tree moved in is walked in slices; sync answers once all of it is reported") {
  WatchFixture fixture;
  TempDir outside;
  constexpr int kDirectories = 40;
  for (int i = 0; i < kDirectories; ++i) {
    make_dirs(outside / ("tree/d" + std::to_string(i)));
    write_file(outside / ("tree/d" + std::to_string(i) + "/f"));
  }
  auto options = fixture.options();
  options.walk_slice = 2;
  auto& watcher = fixture.start_inotify(options);
  auto all_files_seen = [&] {
    for (int i = 0; i < kDirectories; ++i) {
      if (!fixture.saw(ChangeKind::created, "tree/d" + std::to_string(i) + "/f")) return false;
    }
    return true;
  };
  rename_path(outside / "tree", fixture.dir / "tree");
  REQUIRE(fixture.run_until([&] { return fixture.saw(ChangeKind::created, "tree"); }));
  const std::size_t batches_before = fixture.batches;
  bool synced = false;
  bool complete_at_sync = false;
  watcher.sync([&] {
    synced = true;
    complete_at_sync = all_files_seen();
  });
  REQUIRE(fixture.run_until([&] { return synced; }));
  CHECK(complete_at_sync);
  // 41 directories two at a time: the walk's findings came in many batches, other loop
  // work between them.
  CHECK(fixture.batches - batches_before >= 2);
  CHECK(watcher.inotify_watch_count() == kDirectories + 2);
  write_file(fixture.dir / "tree/d39/after");
  REQUIRE(fixture.run_until([&] { return fixture.saw(ChangeKind::created, "tree/d39/after"); }));
}

TEST_CASE("an overflow is reported once the re-walk has watched every directory again") {
  WatchFixture fixture;
  constexpr int kDirectories = 30;
  for (int i = 0; i < kDirectories; ++i)
    make_dirs(fixture.dir / ("d" + std::to_string(i) + "/sub"));
  auto api = std::make_shared<LimitedInotifyApi>();
  auto options = fixture.options();
  options.walk_slice = 1;
  std::optional<std::size_t> watches_at_overflow;
  watchers::InotifyWatcher* watcher = nullptr;
  auto record = options.on_changes;
  options.on_changes = [&](std::vector<Change>&& batch) {
    for (const Change& change : batch) {
      if (change.queue_overflow) watches_at_overflow = watcher->inotify_watch_count();
    }
    record(std::move(batch));
  };
  watcher = &fixture.start_inotify(options, api);
  // Made while nothing is read: after the overflow only the re-walk finds it.
  make_dirs(fixture.dir / "late/deeper");
  api->inject(-1, IN_Q_OVERFLOW, "");
  write_file(fixture.dir / "wake");
  REQUIRE(fixture.run_until([&] { return watches_at_overflow.has_value(); }));
  CHECK(*watches_at_overflow == 2 * kDirectories + 3);
  write_file(fixture.dir / "late/deeper/after");
  REQUIRE(fixture.run_until([&] { return fixture.saw(ChangeKind::created, "late/deeper/after"); }));
}

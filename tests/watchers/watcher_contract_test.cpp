// The threading/ownership contract of watcher.hpp, for each real backend.
#include <doctest/doctest.h>

#include "watch_fixture.hpp"

using namespace tetherd;
using namespace tetherd::test;

TEST_CASE("a callback may stop its own watcher and then nothing more is delivered") {
  for (auto kind : {watchers::WatcherKind::inotify, watchers::WatcherKind::poll}) {
    CAPTURE(watchers::to_string(kind));
    WatchFixture fixture;
    auto options = fixture.options();
    options.poll_interval = 20ms;
    options.on_changes = [&fixture](std::vector<Change>&& batch) {
      ++fixture.batches;
      for (Change& change : batch)
        fixture.changes.push_back(std::move(change));
      fixture.watcher->stop();
    };
    fixture.watcher = watchers::make_watcher(kind, fixture.loop(), options);
    REQUIRE_FALSE(fixture.watcher->start().has_value());
    write_file(fixture.dir / "first");
    REQUIRE(fixture.run_until([&] { return fixture.batches == 1; }));
    CHECK(fixture.watcher->watched_directory_count() == 0);
    write_file(fixture.dir / "second");
    fixture.run_for(100ms);
    CHECK(fixture.batches == 1);
    CHECK_FALSE(fixture.mentions("second"));
  }
}

TEST_CASE("a watcher can be destroyed right after stop() and restarted before that") {
  WatchFixture fixture;
  auto& watcher = fixture.start_inotify();
  watcher.stop();
  watcher.stop();  // idempotent
  REQUIRE_FALSE(watcher.start().has_value());
  write_file(fixture.dir / "after-restart");
  REQUIRE(fixture.run_until([&] { return fixture.saw(ChangeKind::created, "after-restart"); }));
  fixture.watcher.reset();  // handles free themselves when the loop runs on
  fixture.run_for(20ms);
}

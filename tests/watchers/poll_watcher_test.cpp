#include <doctest/doctest.h>

#include "tetherd/watchers/fake_watcher.hpp"
#include "watch_fixture.hpp"

using namespace tetherd;
using namespace tetherd::test;

namespace {

watchers::PollWatcher& start_poll(WatchFixture& fixture, watchers::WatcherOptions options) {
  options.poll_interval = 20ms;
  auto created = watchers::make_watcher(watchers::WatcherKind::poll, fixture.loop(), options);
  auto* poll = dynamic_cast<watchers::PollWatcher*>(created.get());
  REQUIRE(poll != nullptr);
  fixture.watcher = std::move(created);
  REQUIRE_FALSE(fixture.watcher->start().has_value());
  return *poll;
}

}  // namespace

TEST_CASE("poll watcher reports created / modified / attrib / removed and nested directories") {
  WatchFixture fixture;
  write_file(fixture.dir / "existing", "a");
  auto& watcher = start_poll(fixture, fixture.options());
  CHECK(watcher.completed_walks() == 1);
  CHECK(watcher.watched_directory_count() == 1);
  make_dirs(fixture.dir / "d/e");
  write_file(fixture.dir / "d/e/f", "1");
  REQUIRE(fixture.run_until([&] {
    return fixture.saw(ChangeKind::created, "d") && fixture.saw(ChangeKind::created, "d/e/f");
  }));
  CHECK_FALSE(fixture.mentions("existing"));
  CHECK(watcher.watched_directory_count() == 3);
  write_file(fixture.dir / "existing", "longer");
  REQUIRE(fixture.run_until([&] { return fixture.saw(ChangeKind::modified, "existing"); }));
  REQUIRE(::chmod((fixture.dir / "d/e/f").c_str(), 0600) == 0);
  REQUIRE(fixture.run_until([&] { return fixture.saw(ChangeKind::attrib, "d/e/f"); }));
  std::filesystem::remove_all(fixture.dir / "d");
  REQUIRE(fixture.run_until([&] {
    return fixture.saw(ChangeKind::removed, "d") && fixture.saw(ChangeKind::removed, "d/e/f");
  }));
  // A rename is seen as removal plus creation (a stat walk cannot pair them).
  rename_path(fixture.dir / "existing", fixture.dir / "renamed");
  REQUIRE(fixture.run_until([&] {
    return fixture.saw(ChangeKind::removed, "existing") &&
           fixture.saw(ChangeKind::created, "renamed");
  }));
  CHECK(fixture.errors.empty());
}

TEST_CASE("poll watcher honours the directory filter") {
  WatchFixture fixture;
  make_dirs(fixture.dir / "skip");
  auto options = fixture.options();
  options.watch_directory = [](std::string_view dir) { return dir != "skip"; };
  start_poll(fixture, options);
  write_file(fixture.dir / "skip/x");
  write_file(fixture.dir / "y");
  REQUIRE(fixture.run_until([&] { return fixture.saw(ChangeKind::created, "y"); }));
  CHECK_FALSE(fixture.mentions("skip/x"));
}

TEST_CASE("poll watcher: root deleted -> root_gone(deleted) / then silence") {
  WatchFixture fixture;
  TempDir parent;
  make_dirs(parent / "root/sub");
  auto options = fixture.options();
  options.root = parent / "root";
  start_poll(fixture, options);
  std::filesystem::remove_all(parent / "root");
  REQUIRE(fixture.run_until([&] { return fixture.saw(ChangeKind::root_gone, ""); }));
  CHECK(fixture.changes.size() == 1);
  CHECK(fixture.changes.back().reason == "deleted");
}

TEST_CASE("poll watcher: root replaced by another directory -> root_gone(replaced)") {
  WatchFixture fixture;
  TempDir parent;
  make_dirs(parent / "root");
  auto options = fixture.options();
  options.root = parent / "root";
  start_poll(fixture, options);
  rename_path(parent / "root", parent / "old");
  make_dirs(parent / "root");
  REQUIRE(fixture.run_until([&] { return fixture.saw(ChangeKind::root_gone, ""); }));
  CHECK(fixture.changes.back().reason == "replaced");
}

TEST_CASE("start() on a missing root or a file fails with the errno") {
  WatchFixture fixture;
  for (auto kind : {watchers::WatcherKind::inotify, watchers::WatcherKind::poll}) {
    CAPTURE(watchers::to_string(kind));
    auto options = fixture.options();
    options.root = fixture.dir / "missing";
    auto missing = watchers::make_watcher(kind, fixture.loop(), options);
    auto error = missing->start();
    REQUIRE(error.has_value());
    CHECK(error->code == std::error_code(ENOENT, std::system_category()));
    CHECK(error->message.find("missing") != std::string::npos);
    write_file(fixture.dir / "file");
    options.root = fixture.dir / "file";
    auto file = watchers::make_watcher(kind, fixture.loop(), options);
    error = file->start();
    REQUIRE(error.has_value());
    CHECK(error->code == std::error_code(ENOTDIR, std::system_category()));
  }
}

TEST_CASE("fake watcher delivers pushed batches and errors from the loop / not inside push") {
  WatchFixture fixture;
  auto fake = std::make_unique<watchers::FakeWatcher>(fixture.loop(), fixture.options());
  auto& watcher = *fake;
  fixture.watcher = std::move(fake);
  REQUIRE_FALSE(watcher.start().has_value());
  watcher.push({Change::created("a", false), Change::moved("a", "b", false)});
  watcher.fail(watchers::WatcherError{std::error_code(EIO, std::system_category()), "x", "io"});
  CHECK(fixture.changes.empty());
  REQUIRE(fixture.run_until([&] { return fixture.changes.size() == 2; }));
  CHECK(fixture.changes[1] == Change::moved("a", "b", false));
  REQUIRE(fixture.errors.size() == 1);
  CHECK(fixture.errors.front().path == "x");
  watcher.stop();
  watcher.push({Change::removed("b", false)});
  fixture.run_for(20ms);
  CHECK(fixture.changes.size() == 2);
  CHECK(watcher.stop_count() == 1);
  watcher.fail_next_start(
      watchers::WatcherError{std::error_code(ENOENT, std::system_category()), "", "gone"});
  CHECK(watcher.start().has_value());
}

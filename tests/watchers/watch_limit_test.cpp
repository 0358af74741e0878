// Hard case 4 (watch budget exhausted) and kernel oddities, injected through the InotifyApi
// seam; everything else stays real (real inotify, real filesystem, real polling).
#include <doctest/doctest.h>
#include <sys/inotify.h>

#include <cerrno>
#include <cstring>

#include "watch_fixture.hpp"
#include "watch_limit_api.hpp"

using namespace tetherd;
using namespace tetherd::test;

TEST_CASE("hard case 4: ENOSPC names the sysctl / its value and the need - the subtree is polled") {
  WatchFixture fixture;
  make_dirs(fixture.dir / "small");
  make_dirs(fixture.dir / "big/inner/deeper");
  write_file(fixture.dir / "big/inner/old");
  auto api = std::make_shared<LimitedInotifyApi>();
  api->refused_suffix = "/big";
  auto options = fixture.options();
  options.poll_interval = 20ms;
  auto& watcher = fixture.start_inotify(options, api);

  REQUIRE(fixture.run_until([&] { return !fixture.errors.empty(); }));
  const watchers::WatcherError& error = fixture.errors.front();
  CHECK(error.code == std::error_code(ENOSPC, std::system_category()));
  CHECK(error.path == "big");
  CHECK(error.message.find("fs.inotify.max_user_watches") != std::string::npos);
  const long limit = read_proc_number("/proc/sys/fs/inotify/max_user_watches");
  CHECK(error.message.find("is " + std::to_string(limit)) != std::string::npos);
  CHECK(error.message.find("needs 5 watches") != std::string::npos);  // root small big inner deeper
  CHECK(fixture.errors.size() == 1);

  CHECK(watcher.polled_subtrees() == std::vector<std::string>{"big"});
  CHECK(watcher.inotify_watch_count() == 2);
  CHECK(watcher.watched_directory_count() == 5);

  // Changes in the polled subtree are reported with paths relative to the root...
  write_file(fixture.dir / "big/inner/deeper/new");
  REQUIRE(
      fixture.run_until([&] { return fixture.saw(ChangeKind::created, "big/inner/deeper/new"); }));
  REQUIRE(::unlink((fixture.dir / "big/inner/old").c_str()) == 0);
  REQUIRE(fixture.run_until([&] { return fixture.saw(ChangeKind::removed, "big/inner/old"); }));
  // ...and inotify still covers the rest.
  write_file(fixture.dir / "small/f");
  REQUIRE(fixture.run_until([&] { return fixture.saw(ChangeKind::created, "small/f"); }));
  // When the polled subtree goes away, its poller goes with it.
  std::filesystem::remove_all(fixture.dir / "big");
  REQUIRE(fixture.run_until([&] {
    return fixture.saw(ChangeKind::removed, "big") && watcher.polled_subtrees().empty();
  }));
}

TEST_CASE("sync: a change in a polled subtree is delivered before sync answers") {
  WatchFixture fixture;
  make_dirs(fixture.dir / "big/inner");
  auto api = std::make_shared<LimitedInotifyApi>();
  api->refused_suffix = "/big";
  auto options = fixture.options();
  options.poll_interval = std::chrono::hours(1);  // only sync() makes the poller walk
  auto& watcher = fixture.start_inotify(options, api);
  REQUIRE(watcher.polled_subtrees() == std::vector<std::string>{"big"});

  for (int round = 0; round < 3; ++round) {
    const std::string file = "big/inner/f" + std::to_string(round);
    write_file(fixture.dir / file);
    bool answered = false;
    bool seen_when_answered = false;
    watcher.sync([&] {
      answered = true;
      seen_when_answered = fixture.saw(ChangeKind::created, file);
    });
    REQUIRE(fixture.run_until([&] { return answered; }));
    CHECK(seen_when_answered);
  }
  // Two at once: both are answered, by walks begun after each call.
  write_file(fixture.dir / "big/g");
  int answers = 0;
  watcher.sync([&] { ++answers; });
  write_file(fixture.dir / "big/h");
  bool h_seen = false;
  watcher.sync([&] {
    ++answers;
    h_seen = fixture.saw(ChangeKind::created, "big/h");
  });
  REQUIRE(fixture.run_until([&] { return answers == 2; }));
  CHECK(h_seen);
}

TEST_CASE("sync: with nothing polled it answers at once") {
  WatchFixture fixture;
  auto& watcher = fixture.start_inotify();
  bool answered = false;
  watcher.sync([&] { answered = true; });
  CHECK(answered);
}

TEST_CASE("hard case 4: a budget that runs out mid-walk leaves no directory unwatched") {
  WatchFixture fixture;
  for (const char* dir : {"a/b", "a/c", "d/e/f", "g"})
    make_dirs(fixture.dir / dir);
  auto api = std::make_shared<LimitedInotifyApi>();
  api->budget = 3;
  auto options = fixture.options();
  options.poll_interval = 20ms;
  auto& watcher = fixture.start_inotify(options, api);
  CHECK(watcher.inotify_watch_count() == 3);
  CHECK(watcher.watched_directory_count() == 8);  // root a a/b a/c d d/e d/e/f g
  for (const char* dir : {"a/b", "a/c", "d/e/f", "g", "a", "d", ""}) {
    const std::string file = core::join_relative(dir, "probe");
    write_file(fixture.dir / file);
    INFO("probe in '" << dir << "'");
    CHECK(fixture.run_until([&] { return fixture.saw(ChangeKind::created, file); }));
  }
  REQUIRE(fixture.errors.size() == 1);
  CHECK(fixture.errors.front().message.find("needs 8 watches") != std::string::npos);
  // A directory created later under the limit is polled as well.
  make_dirs(fixture.dir / "late/sub");
  write_file(fixture.dir / "late/sub/x");
  REQUIRE(fixture.run_until([&] { return fixture.mentions("late/sub/x"); }));
  write_file(fixture.dir / "late/sub/y");
  REQUIRE(fixture.run_until([&] { return fixture.saw(ChangeKind::created, "late/sub/y"); }));
}

TEST_CASE("an event for an unknown watch descriptor -> rescan of the root") {
  WatchFixture fixture;
  auto api = std::make_shared<LimitedInotifyApi>();
  fixture.start_inotify(fixture.options(), api);
  api->inject(987654, IN_CREATE, "phantom");
  write_file(fixture.dir / "wake");  // makes the descriptor readable
  REQUIRE(fixture.run_until(
      [&] { return fixture.saw(ChangeKind::rescan, "") && fixture.mentions("wake"); }));
  CHECK_FALSE(fixture.mentions("phantom"));
  for (const Change& change : fixture.changes) {
    if (change.kind == ChangeKind::rescan) CHECK(change.reason == "unknown watch descriptor");
  }
}

TEST_CASE("an injected IN_Q_OVERFLOW -> rescan(root / overflow) / watches re-established") {
  WatchFixture fixture;
  make_dirs(fixture.dir / "a/b");
  auto api = std::make_shared<LimitedInotifyApi>();
  auto& watcher = fixture.start_inotify(fixture.options(), api);
  api->inject(-1, IN_Q_OVERFLOW, "");
  write_file(fixture.dir / "wake");
  REQUIRE(fixture.run_until(
      [&] { return fixture.saw(ChangeKind::rescan, "") && fixture.mentions("wake"); }));
  CHECK(watcher.inotify_watch_count() == 3);
  write_file(fixture.dir / "a/b/after");
  REQUIRE(fixture.run_until([&] { return fixture.saw(ChangeKind::created, "a/b/after"); }));
}

TEST_CASE("the root itself over the limit: the whole tree is polled") {
  WatchFixture fixture;
  make_dirs(fixture.dir / "sub");
  auto api = std::make_shared<LimitedInotifyApi>();
  api->budget = 0;
  auto options = fixture.options();
  options.poll_interval = 20ms;
  auto& watcher = fixture.start_inotify(options, api);
  CHECK(watcher.polled_subtrees() == std::vector<std::string>{""});
  CHECK(watcher.watched_directory_count() == 2);
  write_file(fixture.dir / "sub/x");
  REQUIRE(fixture.run_until([&] { return fixture.saw(ChangeKind::created, "sub/x"); }));
  REQUIRE(fixture.errors.size() == 1);
  CHECK(fixture.errors.front().message.find("fs.inotify.max_user_watches") != std::string::npos);
}

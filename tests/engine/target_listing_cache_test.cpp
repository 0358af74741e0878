// TargetListingCache and CachedTargetStream: a cached listing is the store's own listing,
// records are used only while their directory's mtime is unchanged and old enough, and the
// saved file cannot outlive a crash.

#include "tetherd/engine/target_listing_cache.hpp"

#include <doctest/doctest.h>
#include <sys/stat.h>
#include <uv.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "support/temp_dir.hpp"
#include "tetherd/engine/cached_target_stream.hpp"
#include "tetherd/engine/recording_target_stream.hpp"
#include "tetherd/stores/local_store.hpp"
#include "tetherd/stores/uv_executor.hpp"

using namespace tetherd;
namespace fs = std::filesystem;
using daemon::CachedTargetStream;
using daemon::TargetListingCache;
using tetherd::test_support::TempDir;

namespace {

struct Loop {
  uv_loop_t loop{};
  std::unique_ptr<stores::UvExecutor> executor;
  Loop() {
    uv_loop_init(&loop);
    executor = std::make_unique<stores::UvExecutor>(&loop);
  }
  ~Loop() {
    executor.reset();
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
  }
  void run_until(const bool& done) {
    while (!done)
      uv_run(&loop, UV_RUN_ONCE);
  }
};

/// "key type size mode mtime" lines of every entry of `stream`, in the order it delivers them.
std::vector<std::string> drain(Loop& loop, const core::EntryStreamPtr& stream) {
  std::vector<std::string> lines;
  for (;;) {
    bool done = false;
    core::Result<std::vector<core::EntryInfo>> batch = core::StoreError::make(core::Errc::IoError);
    stream->next([&](core::Result<std::vector<core::EntryInfo>> got) {
      batch = std::move(got);
      done = true;
    });
    loop.run_until(done);
    REQUIRE(batch.ok());
    if (batch->empty()) return lines;
    for (const auto& entry : *batch) {
      const auto mtime = entry.mtime ? entry.mtime->time_since_epoch().count() : -1;
      lines.push_back(entry.key.str() + " " + std::string(core::to_string(entry.type)) + " " +
                      std::to_string(entry.size) + " " + std::to_string(entry.mode.value_or(0)) +
                      " " + std::to_string(mtime));
    }
  }
}

std::vector<std::string> real_listing(Loop& loop, const core::StorePtr& store) {
  bool done = false;
  core::EntryStreamPtr stream;
  core::ListOptions options;
  options.recursive = true;
  options.batch_size = 3;
  store->list(core::StoreKey::root(), options, [&](core::Result<core::EntryStreamPtr> opened) {
    REQUIRE(opened.ok());
    stream = *opened;
    done = true;
  });
  loop.run_until(done);
  return drain(loop, stream);
}

std::shared_ptr<CachedTargetStream> open_cached(Loop& loop, const core::StorePtr& store,
                                                std::shared_ptr<TargetListingCache> previous,
                                                std::shared_ptr<TargetListingCache> fresh) {
  bool done = false;
  std::shared_ptr<CachedTargetStream> stream;
  CachedTargetStream::open(store, core::StoreKey::root(), std::move(previous), std::move(fresh), 3,
                           [&](core::Result<std::shared_ptr<CachedTargetStream>> opened) {
                             REQUIRE(opened.ok());
                             stream = *opened;
                             done = true;
                           });
  loop.run_until(done);
  return stream;
}

void write_file(const fs::path& path, const std::string& text) {
  fs::create_directories(path.parent_path());
  std::ofstream(path, std::ios::binary) << text;
}

/// Sets every directory's mtime well in the past (outside the racy window).
void age_directories(const fs::path& root) {
  const struct timespec old[2] = {{1'600'000'000, 0}, {1'600'000'000, 0}};
  std::vector<fs::path> dirs{root};
  for (auto& entry : fs::recursive_directory_iterator(root)) {
    if (entry.is_directory() && !entry.is_symlink()) dirs.push_back(entry.path());
  }
  for (const auto& dir : dirs)
    REQUIRE(::utimensat(AT_FDCWD, dir.c_str(), old, 0) == 0);
}

core::StorePtr local_store(Loop& loop, const fs::path& root) {
  stores::LocalStoreOptions options;
  options.root = root.string();
  auto store = stores::open_local_store(*loop.executor, options);
  REQUIRE(store.ok());
  return *store;
}

void make_tree(const fs::path& root) {
  write_file(root / "a.txt", "alpha");
  write_file(root / "d0" / "b", "bee");
  write_file(root / "d0" / "sub" / "deep", "deeper");
  write_file(root / "d1" / "c", "");
  write_file(root / "d1-" / "e", "dash sorts after the slash of d1/");
  fs::create_directories(root / "empty");
  fs::create_symlink("d0/b", root / "link");
  fs::permissions(root / "d1" / "c", fs::perms::owner_read);
}

/// make_tree() under a scratch directory, aged, with a local store on it and its real
/// recursive listing.
struct AgedTarget {
  TempDir scratch{"tetherd-tlc"};
  fs::path root = scratch.path() / "target";
  Loop loop;
  core::StorePtr store;
  std::vector<std::string> expected;
  AgedTarget() {
    make_tree(root);
    age_directories(root);
    store = local_store(loop, root);
    expected = real_listing(loop, store);
  }
};

std::shared_ptr<daemon::RecordingTargetStream> open_recording(
    Loop& loop, const core::StorePtr& store, std::shared_ptr<TargetListingCache> fresh) {
  bool done = false;
  std::shared_ptr<daemon::RecordingTargetStream> stream;
  daemon::RecordingTargetStream::open(
      store, core::StoreKey::root(), std::move(fresh), 3,
      [&](core::Result<std::shared_ptr<daemon::RecordingTargetStream>> opened) {
        REQUIRE(opened.ok());
        stream = *opened;
        done = true;
      });
  loop.run_until(done);
  return stream;
}

}  // namespace

TEST_CASE("listing cache: a cached listing is the store's recursive listing, then confirms it") {
  AgedTarget target;
  const fs::path& root = target.root;
  Loop& loop = target.loop;
  const core::StorePtr& store = target.store;
  const auto& expected = target.expected;

  auto first = std::make_shared<TargetListingCache>();
  auto listed = open_cached(loop, store, nullptr, first);
  CHECK(drain(loop, listed) == expected);
  CHECK(listed->counts().listed == 6);  // the root, d0, d0/sub, d1, d1-, empty
  CHECK(listed->counts().confirmed == 0);
  CHECK(first->directories() == 6);
  CHECK_FALSE(listed->from_record(*core::StoreKey::parse("d0/b")));

  auto second = std::make_shared<TargetListingCache>();
  auto confirmed = open_cached(loop, store, first, second);
  CHECK(drain(loop, confirmed) == expected);
  CHECK(confirmed->counts().listed == 0);
  CHECK(confirmed->counts().confirmed == 6);
  CHECK(confirmed->from_record(*core::StoreKey::parse("d0/b")));
  CHECK(second->directories() == 6);

  SUBCASE("a directory whose entries changed is listed again, and not recorded while racy") {
    // (Its own entry, in the root's confirmed record, then carries its new mtime: the
    // comparison with the real listing below includes mtimes.)
    write_file(root / "d0" / "new", "appeared on the target");
    auto third = std::make_shared<TargetListingCache>();
    auto after = open_cached(loop, store, second, third);
    const auto lines = drain(loop, after);
    CHECK(lines == real_listing(loop, store));
    CHECK(std::any_of(lines.begin(), lines.end(),
                      [](const std::string& line) { return line.starts_with("d0/new "); }));
    // d0 listed again; the root too, as its record still holds d0's old mtime (the root is
    // listed for its subdirectories' sake: they are most of it).
    CHECK(after->counts().listed == 2);
    CHECK(after->counts().confirmed == 4);
    CHECK_FALSE(after->from_record(*core::StoreKey::parse("d0/new")));
    CHECK(third->directories() == 5);  // d0 changed less than a second ago
  }
  SUBCASE("an invalidated directory is listed again though its mtime did not change") {
    ::chmod((root / "d0" / "b").c_str(), 0600);  // in place: d0's mtime stays
    second->invalidate("d0");
    auto third = std::make_shared<TargetListingCache>();
    auto after = open_cached(loop, store, second, third);
    CHECK(drain(loop, after) == real_listing(loop, store));
    CHECK(after->counts().listed == 1);
  }
  SUBCASE("a vanished subtree is skipped like a listing would") {
    fs::remove_all(root / "d0" / "sub");
    auto third = std::make_shared<TargetListingCache>();
    auto after = open_cached(loop, store, second, third);
    CHECK(drain(loop, after) == real_listing(loop, store));
  }
}

TEST_CASE("listing cache: a recursive listing passed through records every directory") {
  AgedTarget target;
  const fs::path& root = target.root;
  Loop& loop = target.loop;
  const core::StorePtr& store = target.store;
  const auto& expected = target.expected;

  auto recorded = std::make_shared<TargetListingCache>();
  auto recording = open_recording(loop, store, recorded);
  CHECK(drain(loop, recording) == expected);
  CHECK(recording->listed() == 6);
  CHECK(recorded->directories() == 6);

  // What it recorded is what a directory-by-directory walk confirms.
  auto again = std::make_shared<TargetListingCache>();
  auto confirmed = open_cached(loop, store, recorded, again);
  CHECK(drain(loop, confirmed) == expected);
  CHECK(confirmed->counts().confirmed == 6);
  CHECK(confirmed->counts().listed == 0);

  SUBCASE("a directory changed within the racy window is not recorded") {
    write_file(root / "d1" / "late", "x");
    auto racy = std::make_shared<TargetListingCache>();
    recording = open_recording(loop, store, racy);
    CHECK(drain(loop, recording) == real_listing(loop, store));
    CHECK(racy->directories() == 5);
    CHECK(racy->take("d1") == std::nullopt);
  }
}

TEST_CASE("listing cache: a directory whose mtime is inside the racy window is not recorded") {
  TargetListingCache cache;
  CHECK(cache.recordable(1'000'000'000, 3'000'000'000));
  CHECK_FALSE(cache.recordable(2'500'000'000, 3'000'000'000));
  const std::uint64_t before = cache.invalidations();
  cache.invalidate("elsewhere");
  cache.record("d", {}, before);  // an invalidation since the listing began: not trusted
  CHECK(cache.empty());
  cache.record("d", {}, cache.invalidations());
  CHECK(cache.directories() == 1);
  cache.record("d/e", {}, cache.invalidations());
  cache.record("d-f", {}, cache.invalidations());
  cache.invalidate_subtree("d");
  CHECK(cache.directories() == 1);  // d-f is not beneath d
}

TEST_CASE("listing cache: saved and loaded, in use while loaded, refused when damaged") {
  TempDir scratch{"tetherd-tlc"};
  const std::string file = (scratch.path() / "state" / "cache.bin").string();
  TargetListingCache cache;
  TargetListingCache::Directory directory;
  directory.mtime_ns = 1234;
  core::EntryInfo link;
  link.key = *core::StoreKey::parse("d/link");
  link.type = core::EntryType::Symlink;
  link.size = 6;
  link.link_target = "target";
  directory.entries.push_back(TargetListingCache::entry_of(link));
  core::EntryInfo plain;
  plain.key = *core::StoreKey::parse("d/plain");
  plain.size = 9;
  plain.mode = 0640;
  plain.mtime = core::TimePoint(std::chrono::nanoseconds(987654321));
  directory.entries.push_back(TargetListingCache::entry_of(plain));
  cache.record("d", directory, cache.invalidations());
  REQUIRE(cache.save(file, "context A").ok());

  SUBCASE("a round trip keeps every field, and the file is in use until restored") {
    auto loaded = TargetListingCache::load(file, "context A");
    REQUIRE(loaded.ok());
    CHECK_FALSE(fs::exists(file));
    CHECK(fs::exists(file + ".in-use"));
    auto record = loaded->take("d");
    REQUIRE(record.has_value());
    CHECK(record->mtime_ns == 1234);
    REQUIRE(record->entries.size() == 2);
    const auto back = TargetListingCache::info_of(*core::StoreKey::parse("d"), record->entries[1]);
    CHECK(back.key.str() == "d/plain");
    CHECK(back.size == 9);
    CHECK(back.mode == std::optional<std::uint32_t>(0640));
    CHECK(back.mtime->time_since_epoch().count() == 987654321);
    CHECK(record->entries[0].link_target == std::optional<std::string>("target"));
    CHECK_FALSE(record->entries[0].mode.has_value());
    REQUIRE(TargetListingCache::restore(file).ok());
    CHECK(fs::exists(file));
  }
  SUBCASE("a crash leaves only the in-use file, which the next load discards") {
    REQUIRE(TargetListingCache::load(file, "context A").ok());
    auto after_crash = TargetListingCache::load(file, "context A");
    REQUIRE(after_crash.ok());
    CHECK(after_crash->empty());
    CHECK_FALSE(fs::exists(file + ".in-use"));
  }
  SUBCASE("another rule's cache is not used") {
    auto other = TargetListingCache::load(file, "context B");
    REQUIRE(other.ok());
    CHECK(other->empty());
  }
  SUBCASE("a damaged file is an error, and is not used again") {
    {
      std::fstream damage(file, std::ios::in | std::ios::out | std::ios::binary);
      damage.seekp(20);
      damage.put('\x7f');
    }
    CHECK_FALSE(TargetListingCache::load(file, "context A").ok());
    auto next = TargetListingCache::load(file, "context A");
    REQUIRE(next.ok());
    CHECK(next->empty());
  }
}

TEST_CASE("listing cache: the racy window is the target's clock skew plus its granularity") {
  using namespace std::chrono_literals;
  TargetListingCache cache;
  // A local file system with nanoseconds: a tick of skew, so 1.5 s is long past.
  cache.set_target_clock(1ns, 20ms);
  CHECK(cache.recordable(2'900'000'000, 3'000'000'000));
  CHECK_FALSE(cache.recordable(2'990'000'000, 3'000'000'000));
  // A remote one: a second assumed.
  cache.set_target_clock(1ns, 1s);
  CHECK_FALSE(cache.recordable(2'500'000'000, 3'000'000'000));
  CHECK(cache.recordable(1'500'000'000, 3'000'000'000));
  // FAT keeps 2 s: a change 1.5 s after this mtime may leave it unchanged.
  cache.set_target_clock(2s, 20ms);
  CHECK_FALSE(cache.recordable(1'500'000'000, 3'000'000'000));
  CHECK(cache.recordable(0, 3'000'000'000));
  // A target that does not keep the mtimes it is given: its directories are never trusted.
  cache.set_target_clock(std::nullopt, 20ms);
  CHECK_FALSE(cache.recordable(-1'000'000'000'000, 3'000'000'000));
}

// SharedTrips: jobs submitted in one loop turn share worker trips, in order, each
// completing once; and the local store's writes that share trips (and parent
// directories) each land or fail on their own.

#include "tetherd/core/shared_trips.hpp"

#include <doctest/doctest.h>
#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <thread>

#include "fixtures.hpp"
#include "harness.hpp"
#include "tetherd/stores/fd_byte_source.hpp"
#include "tetherd/stores/local_store.hpp"

using namespace tetherd;
using namespace tetherd::test;
namespace fs = std::filesystem;

namespace {

// Forwards to the loop's executor, counting the worker trips.
class CountingExecutor final : public core::Executor {
 public:
  explicit CountingExecutor(core::Executor& inner) : inner_(inner) {}
  void post(Task task) override { inner_.post(std::move(task)); }
  void run_blocking(Task work, Task done) override {
    ++trips;
    inner_.run_blocking(std::move(work), std::move(done));
  }
  TimerId start_timer(std::chrono::milliseconds delay, Task task) override {
    return inner_.start_timer(delay, std::move(task));
  }
  void cancel_timer(TimerId timer) override { inner_.cancel_timer(timer); }
  int trips = 0;

 private:
  core::Executor& inner_;
};

// What a trip's jobs see: the jobs of the trip so far, and the thread they ran on.
struct Tally {
  std::vector<int> jobs;
  std::thread::id thread;
};

std::string slurp(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

}  // namespace

TEST_CASE("shared trips: a turn's jobs share few trips, run in order, complete once each") {
  TestLoop loop;
  CountingExecutor counting(loop.executor());
  auto trips = std::make_shared<core::SharedTrips<Tally>>(counting, 16, 4);
  constexpr int kJobs = 100;
  std::mutex mutex;
  std::vector<std::vector<int>> runs;  // per job: the trip's jobs up to it
  std::vector<int> completed(kJobs, 0);
  runs.resize(kJobs);
  for (int i = 0; i < kJobs; ++i) {
    trips->submit(
        [&, i](Tally& tally) {
          if (tally.jobs.empty()) tally.thread = std::this_thread::get_id();
          CHECK(tally.thread == std::this_thread::get_id());
          tally.jobs.push_back(i);
          std::lock_guard lock(mutex);
          runs[i] = tally.jobs;
        },
        [&, i] {
          // The whole trip ran before any of its completions.
          CHECK_FALSE(runs[i].empty());
          ++completed[i];
        });
  }
  CHECK(counting.trips == 0);  // nothing starts inline
  REQUIRE(loop.run_until([&] {
    return std::all_of(completed.begin(), completed.end(), [](int n) { return n > 0; });
  }));
  CHECK(counting.trips == 7);  // ceil(100 / 16)
  for (int i = 0; i < kJobs; ++i) {
    CHECK(completed[i] == 1);
    // Within a trip, jobs ran in submission order, consecutive.
    const auto& seen = runs[i];
    REQUIRE_FALSE(seen.empty());
    CHECK(seen.back() == i);
    for (std::size_t j = 1; j < seen.size(); ++j)
      CHECK(seen[j] == seen[j - 1] + 1);
    CHECK(seen.size() <= 16);
  }

  // A few jobs still spread over the minimum of trips; a lone job gets a trip of its own.
  counting.trips = 0;
  int done = 0;
  for (int i = 0; i < 6; ++i)
    trips->submit([](Tally&) {}, [&] { ++done; });
  REQUIRE(loop.run_until([&] { return done == 6; }));
  CHECK(counting.trips == 4);
  counting.trips = 0;
  trips->submit([](Tally&) {}, [&] { ++done; });
  REQUIRE(loop.run_until([&] { return done == 7; }));
  CHECK(counting.trips == 1);
}

TEST_CASE("local: writes sharing trips and parent directories land or fail each on their own") {
  TestLoop loop;
  TempDir top{kTempPrefix};
  const fs::path root = top.path() / "root";
  fs::create_directories(root);
  std::ofstream(root / "blocker", std::ios::binary) << "a file where a directory is wanted";
  const fs::path input = top.path() / "input";
  std::ofstream(input, std::ios::binary) << "payload";
  auto store = open_durable_local_store(loop.executor(), root);

  // Issued in one turn, so they share trips: runs of writes into one directory, with a
  // write that cannot create its parent in the middle of them.
  std::vector<std::string> keys;
  for (int dir = 0; dir < 5; ++dir) {
    for (int file = 0; file < 12; ++file) {
      keys.push_back("d" + std::to_string(dir) + "/f" + std::to_string(file));
      if (dir == 2 && file == 5) keys.push_back("blocker/inside");
    }
  }
  std::map<std::string, core::Result<core::EntryInfo>> results;
  for (const auto& name : keys) {
    const int fd = ::open(input.c_str(), O_RDONLY | O_CLOEXEC);
    REQUIRE(fd >= 0);
    auto source =
        std::make_shared<stores::FdByteSource>(loop.executor(), fd, 0, fs::file_size(input));
    core::WriteOptions write;
    write.mode = 0600;
    store->write(key(name), source, write, [&results, name](core::Result<core::EntryInfo> info) {
      results.emplace(name, std::move(info));
    });
  }
  REQUIRE(loop.run_until([&] { return results.size() == keys.size(); }));
  for (const auto& name : keys) {
    CAPTURE(name);
    const auto& outcome = results.at(name);
    if (name == "blocker/inside") {
      REQUIRE_FALSE(outcome.ok());
      CHECK(outcome.error().code == core::Errc::NotADirectory);
      continue;
    }
    REQUIRE(outcome.ok());
    CHECK(outcome->key.str() == name);
    CHECK(outcome->size == 7);
    CHECK(slurp(root / name) == "payload");
    CHECK((fs::status(root / name).permissions() & fs::perms::all) ==
          (fs::perms::owner_read | fs::perms::owner_write));
  }
  CHECK(slurp(root / "blocker") == "a file where a directory is wanted");
}

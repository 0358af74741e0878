// partition_by_directory: the writes a flush lets publish are cut into jobs that never
// share a directory, balanced by size, each keeping the writes' order.

#include "publish_partition.hpp"

#include <doctest/doctest.h>

#include <map>
#include <set>
#include <string>

using tetherd::stores::partition_by_directory;

namespace {

// Every index appears exactly once, each job is in increasing order and non-empty, and
// no directory is split across jobs.
void check_partition(const std::vector<std::string_view>& dirs,
                     const std::vector<std::vector<std::size_t>>& jobs) {
  std::set<std::size_t> seen;
  std::map<std::string_view, std::size_t> job_of_dir;
  for (std::size_t job = 0; job < jobs.size(); ++job) {
    REQUIRE_FALSE(jobs[job].empty());
    for (std::size_t k = 0; k < jobs[job].size(); ++k) {
      const std::size_t index = jobs[job][k];
      if (k > 0) CHECK(jobs[job][k - 1] < index);
      CHECK(seen.insert(index).second);
      auto [entry, added] = job_of_dir.try_emplace(dirs.at(index), job);
      CHECK(entry->second == job);
    }
  }
  CHECK(seen.size() == dirs.size());
}

}  // namespace

TEST_CASE("writes into one directory form one job") {
  const std::vector<std::string_view> dirs(10, "a/b");
  const auto jobs = partition_by_directory(dirs, 4);
  REQUIRE(jobs.size() == 1);
  CHECK(jobs[0].size() == 10);
  check_partition(dirs, jobs);
}

TEST_CASE("directories beyond the job limit are balanced, largest first") {
  // Sizes 5, 4, 3, 2, 1, 1 into 3 jobs: 5 | 4+1 | 3+2+1 (greedy, least loaded).
  std::vector<std::string_view> dirs;
  const std::vector<std::pair<std::string_view, int>> sizes = {{"e", 2}, {"a", 5}, {"f", 1},
                                                               {"b", 4}, {"c", 3}, {"", 1}};
  for (const auto& [dir, count] : sizes)
    dirs.insert(dirs.end(), count, dir);
  const auto jobs = partition_by_directory(dirs, 3);
  REQUIRE(jobs.size() == 3);
  check_partition(dirs, jobs);
  std::multiset<std::size_t> loads;
  for (const auto& job : jobs)
    loads.insert(job.size());
  CHECK(loads == std::multiset<std::size_t>{5, 5, 6});
}

TEST_CASE("interleaved directories, fewer than the limit, get a job each") {
  const std::vector<std::string_view> dirs = {"x", "y", "x", "z", "y", "x"};
  const auto jobs = partition_by_directory(dirs, 8);
  REQUIRE(jobs.size() == 3);
  check_partition(dirs, jobs);
  CHECK(jobs[0] == std::vector<std::size_t>{0, 2, 5});
  CHECK(jobs[1] == std::vector<std::size_t>{1, 4});
  CHECK(jobs[2] == std::vector<std::size_t>{3});
}

TEST_CASE("no writes, no jobs; a limit of zero still makes one job") {
  CHECK(partition_by_directory({}, 4).empty());
  const std::vector<std::string_view> dirs = {"a", "b"};
  const auto jobs = partition_by_directory(dirs, 0);
  REQUIRE(jobs.size() == 1);
  check_partition(dirs, jobs);
}

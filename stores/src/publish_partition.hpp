#pragma once

#include <algorithm>
#include <cstddef>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace tetherd::stores {

/// Cuts the writes a flush lets publish into at most `max_jobs` jobs, so that no two jobs
/// link into the same directory. Linking a name takes its directory's lock for nearly all
/// of the work (lookup, entry insertion, inode update), so parallel jobs in one directory
/// gain nothing: they spin on that lock, burning the CPU the copies need (measured: an
/// eighth of linkat's time in a 100,000-file initial sync). Whole directories go to the
/// least loaded job, the largest first; within a job, writes keep their order.
/// `directories[i]` is write i's parent directory. Returns the jobs' write indices; no job
/// is empty; fewer jobs than `max_jobs` when there are fewer directories.
inline std::vector<std::vector<std::size_t>> partition_by_directory(
    const std::vector<std::string_view>& directories, std::size_t max_jobs) {
  std::vector<std::vector<std::size_t>> groups;
  std::unordered_map<std::string_view, std::size_t> group_of;
  for (std::size_t i = 0; i < directories.size(); ++i) {
    auto [entry, added] = group_of.try_emplace(directories[i], groups.size());
    if (added) groups.emplace_back();
    groups[entry->second].push_back(i);
  }
  const std::size_t jobs = std::min(groups.size(), std::max<std::size_t>(max_jobs, 1));
  if (jobs == groups.size()) return groups;
  std::stable_sort(groups.begin(), groups.end(),
                   [](const auto& a, const auto& b) { return a.size() > b.size(); });
  std::vector<std::vector<std::size_t>> result(jobs);
  for (auto& group : groups) {
    auto lightest =
        std::min_element(result.begin(), result.end(),
                         [](const auto& a, const auto& b) { return a.size() < b.size(); });
    lightest->insert(lightest->end(), group.begin(), group.end());
  }
  for (auto& job : result)
    std::sort(job.begin(), job.end());
  return result;
}

}  // namespace tetherd::stores

#include "tetherd/service/resource_limits.hpp"

#include <sys/resource.h>

#include <algorithm>
#include <cstdlib>
#include <string>
#include <thread>

namespace tetherd::daemon {

namespace {
constexpr rlim_t kMostOpenFiles = 1 << 20;
constexpr std::size_t kReservedFiles = 128;
constexpr std::size_t kFilesPerWrite = 3;
constexpr std::size_t kFewestInFlight = 16;
constexpr std::size_t kMostInFlight = 4096;
}  // namespace

std::size_t raise_open_file_limit() noexcept {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) return 1024;
  rlim_t wanted =
      limit.rlim_max == RLIM_INFINITY ? kMostOpenFiles : std::min(limit.rlim_max, kMostOpenFiles);
  if (limit.rlim_cur != RLIM_INFINITY && limit.rlim_cur < wanted) {
    rlimit raised = limit;
    raised.rlim_cur = wanted;
    if (::setrlimit(RLIMIT_NOFILE, &raised) == 0) limit = raised;
  }
  if (limit.rlim_cur == RLIM_INFINITY) return kMostOpenFiles;
  return static_cast<std::size_t>(limit.rlim_cur);
}

std::size_t writes_in_flight_per_rule(std::size_t open_file_limit, std::size_t rules) noexcept {
  const std::size_t usable =
      open_file_limit > kReservedFiles ? open_file_limit - kReservedFiles : 0;
  const std::size_t share = usable / (kFilesPerWrite * std::max<std::size_t>(1, rules));
  return std::clamp(share, kFewestInFlight, kMostInFlight);
}

void configure_worker_threads() noexcept {
  const unsigned cpus = std::max(1u, std::thread::hardware_concurrency());
  const std::string threads = std::to_string(std::max(4u, 2 * cpus));
  ::setenv("UV_THREADPOOL_SIZE", threads.c_str(), 0);
}

}  // namespace tetherd::daemon

#include "mtime_precision.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <string>

#include "beneath.hpp"

namespace tetherd::stores {

std::optional<std::chrono::nanoseconds> precision_from_probe(std::int64_t set_ns,
                                                             std::int64_t read_ns) noexcept {
  static constexpr std::array<std::int64_t, 11> kGranularities{
      2'000'000'000, 1'000'000'000, 100'000'000, 10'000'000, 1'000'000, 100'000,
      10'000,        1'000,         100,         10,         1};
  const std::int64_t distance = set_ns > read_ns ? set_ns - read_ns : read_ns - set_ns;
  for (std::int64_t granularity : kGranularities) {
    // Truncated or rounded (up or down) to this granularity: a multiple of it, less than
    // one step away.
    if (read_ns % granularity == 0 && distance < granularity) {
      return std::chrono::nanoseconds(granularity);
    }
  }
  return std::nullopt;
}

MtimeProbe probe_mtime_precision(int dir_fd, bool allow_anonymous) noexcept {
  // An anonymous file where the file system has them: it changes no directory (a named
  // one would change the root's mtime, and so its listing-cache record, at every start).
  int fd = allow_anonymous ? ::openat(dir_fd, ".", O_TMPFILE | O_WRONLY | O_CLOEXEC, 0600) : -1;
  if (fd < 0) {
    // Else a fresh temporary name, unlinked at once; O_EXCL so nothing that exists is
    // ever touched.
    for (unsigned attempt = 0; attempt < 8 && fd < 0; ++attempt) {
      const std::string name = make_temp_name();
      fd = ::openat(dir_fd, name.c_str(), O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC | O_NOFOLLOW,
                    0600);
      if (fd >= 0) ::unlinkat(dir_fd, name.c_str(), 0);
      if (fd < 0 && errno != EEXIST) return {};
    }
    if (fd < 0) return {};
  }
  MtimeProbe probe;
  const timespec times[2] = {{0, UTIME_OMIT},
                             {static_cast<time_t>(kMtimeProbeNs / 1'000'000'000),
                              static_cast<long>(kMtimeProbeNs % 1'000'000'000)}};
  struct stat st {};
  if (::futimens(fd, times) == 0 && ::fstat(fd, &st) == 0) {
    const std::int64_t read_ns =
        static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec;
    probe.ran = true;
    probe.precision = precision_from_probe(kMtimeProbeNs, read_ns);
  }
  ::close(fd);
  return probe;
}

}  // namespace tetherd::stores

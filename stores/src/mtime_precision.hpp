#pragma once

// How finely the file system under a local store keeps modification times. ext4 (256-byte
// inodes), xfs, btrfs and tmpfs keep nanoseconds; ext4 with 128-byte inodes and ext3 keep
// seconds, exFAT 10 ms, FAT 2 s. The planner compares mtimes at this granularity, so a
// target that rounds them does not look changed (and get copied again) at every restart,
// and the listing cache widens its racy window by it.

#include <chrono>
#include <cstdint>
#include <optional>

namespace tetherd::stores {

/// The mtime a probe sets: an odd second with every sub-second digit set, so each
/// granularity (2 s down to 1 ns) truncates or rounds it to a different value.
inline constexpr std::int64_t kMtimeProbeNs = 1'700'000'001'999'999'999;

/// The granularity that turns `set_ns` into `read_ns`: the coarsest of 1 ns, 10 ns, …,
/// 100 ms, 1 s, 2 s of which `read_ns` is a multiple and that is within reach of `set_ns`.
/// nullopt: no granularity explains it (the file system does not keep what it is given).
std::optional<std::chrono::nanoseconds> precision_from_probe(std::int64_t set_ns,
                                                             std::int64_t read_ns) noexcept;

struct MtimeProbe {
  bool ran = false;  ///< false: no file could be created or timed here (a read-only target)
  std::optional<std::chrono::nanoseconds> precision;  ///< nullopt: the mtime set did not stay
};

/// Measures the granularity of the file system holding directory `dir_fd`: creates an
/// anonymous file (O_TMPFILE; where the file system lacks it, a file under a temporary
/// name, unlinked at once: only a crash in between leaves it, and listings remove it as
/// any temporary file), sets its mtime to kMtimeProbeNs and reads it back.
/// `allow_anonymous`: false always takes the named path (a test seam).
MtimeProbe probe_mtime_precision(int dir_fd, bool allow_anonymous = true) noexcept;

}  // namespace tetherd::stores

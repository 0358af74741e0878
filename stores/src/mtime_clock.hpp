#pragma once

// Whose clock stamps the mtimes under a local store, and so how far a change's mtime may
// trail this machine's wall clock (CapabilitySet::mtime_clock_skew): what the listing
// cache's racy window must cover. Disk and memory file systems take this kernel's clock;
// network and FUSE ones may take their server's.

#include <chrono>

namespace tetherd::stores {

/// The skew a local store declares (CapabilitySet::mtime_clock_skew) when its file system
/// stamps changes with this kernel's clock: the coarse clock it reads trails the wall clock
/// by under a tick (10 ms at HZ=100); twice that for margin.
inline constexpr std::chrono::nanoseconds kLocalClockSkew = std::chrono::milliseconds(20);

/// Whether a file system of statfs type `f_type` stamps mtimes with this kernel's clock
/// (ext2/3/4, xfs, btrfs, tmpfs, f2fs, overlayfs, FAT, exFAT, NTFS, …). Network and FUSE
/// file systems may take their server's: false, as for any type not known here.
bool stamps_with_local_clock(long f_type) noexcept;

/// The mtime_clock_skew of the file system holding `dir_fd`: kLocalClockSkew when it
/// stamps with this kernel's clock, else the assumed second.
std::chrono::nanoseconds mtime_clock_skew_of(int dir_fd) noexcept;

}  // namespace tetherd::stores

#include "mtime_clock.hpp"

#include <sys/vfs.h>

#include <array>

namespace tetherd::stores {

bool stamps_with_local_clock(long f_type) noexcept {
  // statfs(2) magic numbers of disk and memory file systems.
  static constexpr std::array<unsigned long, 16> kLocal{
      0xEF53,      // ext2, ext3, ext4
      0x58465342,  // xfs
      0x9123683E,  // btrfs
      0x01021994,  // tmpfs
      0x858458f6,  // ramfs
      0xF2F52010,  // f2fs
      0x794c7630,  // overlayfs
      0xca451a4e,  // bcachefs
      0x2FC12FC1,  // zfs
      0x52654973,  // reiserfs
      0x3153464a,  // jfs
      0x4d44,      // FAT (msdos, vfat)
      0x2011BAB0,  // exFAT
      0x7366746e,  // NTFS (ntfs3)
      0x5346544e,  // NTFS (ntfs)
      0x482b,      // HFS+
  };
  const auto type = static_cast<unsigned long>(f_type) & 0xFFFFFFFFul;
  for (unsigned long local : kLocal) {
    if (type == local) return true;
  }
  return false;
}

std::chrono::nanoseconds mtime_clock_skew_of(int dir_fd) noexcept {
  struct statfs fs {};
  if (::fstatfs(dir_fd, &fs) == 0 && stamps_with_local_clock(static_cast<long>(fs.f_type))) {
    return kLocalClockSkew;
  }
  return std::chrono::seconds(1);
}

}  // namespace tetherd::stores

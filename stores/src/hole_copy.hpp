#pragma once

// Copying file data without filling holes. The unwritten ranges of a sparse file (its
// holes) read as zeros and take no disk; a copy must keep them, or a 1 GiB file holding
// 4 KiB of data becomes 1 GiB of disk at the target. copy_file_range keeps holes on some
// file systems and fills them on others (ext4, tmpfs, and across file systems), and a
// read/write copy always fills them, so neither is relied on: a copy from a file walks its
// data with lseek(SEEK_DATA/SEEK_HOLE) and copies only that, and a stream with no file
// behind it leaves a hole wherever a whole block is zero (as cp --sparse=auto and rsync -S
// do). Everything here blocks: worker threads only.

#include <sys/stat.h>

#include <cstddef>
#include <cstdint>

#include "tetherd/core/result.hpp"
#include "tetherd/core/store.hpp"

namespace tetherd::stores {

/// Whether the file `info` describes may have holes: less disk allocated than its size
/// (the test cp makes). One that may not is copied as one run of data, without the walk
/// (two lseeks per file saved). Only a cost: walking a file without holes is still right.
bool may_have_holes(const struct stat& info) noexcept;

/// Copies bytes [offset, offset + length) of the regular file `in` to [0, length) of the
/// empty file `out`. Only the data is copied: all of the range unless `walk_holes`, else
/// the runs SEEK_DATA/SEEK_HOLE report; a hole of `in` is never written. Then `out` is
/// extended to the length copied, so a range that ends in a hole keeps its length. Copies by
/// copy_file_range where `allow_copy_file_range` and the file systems take it, else by
/// pread/pwrite. Returns the bytes of the range copied: fewer than `length` when `in` ended
/// early (it shrank meanwhile). Stops with Cancelled when `op` asks (checked between steps
/// of at most 64 MiB). Moves the file offset of `in` (lseek): its readers use pread.
core::Result<std::uint64_t> copy_data_keeping_holes(int in, std::uint64_t offset,
                                                    std::uint64_t length, int out, bool walk_holes,
                                                    bool allow_copy_file_range,
                                                    const core::OperationState* op);

/// Writes a stream of bytes into an empty file, in order, leaving a hole wherever a whole
/// block of the file (st_blksize, aligned in the file) would be all zeros. Zeros that share
/// a block with data are written. One writer per file, used by one thread at a time; call
/// finish() after the last bytes.
class HoleWriter {
 public:
  /// Appends `size` bytes of the stream to `fd`.
  core::Result<void> write(int fd, const std::byte* data, std::size_t size);
  /// Gives the file the stream's length where the stream ended in a hole.
  core::Result<void> finish(int fd);

 private:
  std::uint64_t length_ = 0;    // bytes of the stream so far
  std::uint64_t data_end_ = 0;  // the file's length: the end of the last bytes written
  std::size_t block_ = 0;       // the file's block; 0 until the first write asked
};

}  // namespace tetherd::stores

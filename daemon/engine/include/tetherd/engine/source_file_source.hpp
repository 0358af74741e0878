#pragma once

// A ByteSource that streams one source file and refuses to end with content that was
// never a real state of the file (docs/ARCHITECTURE.md: the target never shows a torn file).
//
// The file's identity (inode, size, mtime, ctime) is taken when it is opened. Reads run on
// worker threads. Before reporting the end of the data, the source re-checks the identity
// with fstat; if anything changed, or fewer or more bytes than the size were read, the
// last read fails with PreconditionFailed (retryable) instead of ending, so an atomic
// write discards its temporary file and the engine copies again once the file is quiet.
// A local store copies the file in the kernel instead (file_region) and asks
// check_region_copied() the same question before publishing.

#include <memory>

#include "tetherd/core/store.hpp"
#include "tetherd/engine/local_source_tree.hpp"

namespace tetherd::daemon {

class SourceFileSource final : public core::ByteSource {
 public:
  /// Takes ownership of `file.fd`.
  SourceFileSource(core::Executor& executor, OpenSourceFile file);
  /// Opens file `expected.path` of `tree` later, on a worker: in open_on_worker() (a local
  /// store's write job) or in the first read(). The file must still be in the state
  /// `expected` (as the engine examined it: same inode, size, times and mode), else the
  /// open fails with PreconditionFailed (retryable), so what is written always carries the
  /// attributes the engine planned with.
  SourceFileSource(core::Executor& executor, std::shared_ptr<const LocalSourceTree> tree,
                   SourceEntry expected);
  ~SourceFileSource() override;

  void read(std::size_t max_bytes, core::Callback<core::Bytes> done) override;
  void cancel() override;
  std::optional<std::uint64_t> size() const override { return state_.size; }
  /// The whole file as opened, for a consumer that copies in the kernel; such a consumer
  /// must call check_region_copied() before publishing, which applies the same identity
  /// check as the end of read().
  std::optional<FileRegion> file_region() const override;
  core::Result<void> check_region_copied(std::uint64_t copied) const override;
  bool opens_on_worker() const override { return tree_ != nullptr; }
  core::Result<void> open_on_worker() override;
  /// Closes the file on the consumer's worker (its state() stays).
  void release_region() override;

  /// The state the file had when opened (what the target will show once written). For a
  /// source opened on a worker: once a read or the consumer's write has completed.
  const SourceEntry& state() const noexcept { return state_; }

 private:
  core::Executor& executor_;
  std::shared_ptr<const LocalSourceTree> tree_;  ///< set when the file is opened on a worker
  int fd_;
  SourceEntry state_;
  std::uint64_t offset_ = 0;
  bool reading_ = false;
  bool at_end_ = false;  ///< the end has been reached and verified
  bool cancelled_ = false;
  std::optional<core::StoreError> failure_;
};

}  // namespace tetherd::daemon

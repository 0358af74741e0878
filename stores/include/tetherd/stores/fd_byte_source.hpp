#pragma once

// A ByteSource over a range of a local file descriptor: each read is a pread on a worker
// thread. It exposes its FileRegion, so a local store copies it in the kernel
// (FICLONE / copy_file_range) instead of pulling chunks through the loop.

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "tetherd/core/store.hpp"

namespace tetherd::stores {

class FdByteSource final : public core::ByteSource {
 public:
  /// Takes ownership of `fd`; delivers bytes [offset, offset + length). A file that
  /// shrinks meanwhile ends the stream early (the engine compares identities anyway).
  FdByteSource(core::Executor& executor, int fd, std::uint64_t offset, std::uint64_t length);
  ~FdByteSource() override;
  FdByteSource(const FdByteSource&) = delete;
  FdByteSource& operator=(const FdByteSource&) = delete;

  /// Opens a local file for reading (blocking: open + fstat). NotFound, IsDirectory, ...
  static core::Result<std::shared_ptr<FdByteSource>> open(core::Executor& executor,
                                                          const std::string& path);

  void read(std::size_t max_bytes, core::Callback<core::Bytes> done) override;
  void cancel() override { cancelled_.store(true, std::memory_order_release); }
  std::optional<std::uint64_t> size() const override { return length_; }
  std::optional<FileRegion> file_region() const override {
    return FileRegion{fd_, offset_, length_};
  }

 private:
  core::Executor& executor_;
  int fd_;
  std::uint64_t offset_;
  std::uint64_t length_;
  std::uint64_t position_ = 0;  // bytes delivered so far
  bool failed_ = false;
  core::StoreError failure_;
  std::atomic<bool> cancelled_{false};
};

}  // namespace tetherd::stores

#pragma once

// The seam between inotify_watcher and the kernel: every inotify system call goes through
// this interface so tests can inject failures (ENOSPC from inotify_add_watch, fabricated
// events from read). The default implementation calls the kernel directly.
//
// Each function follows the system call's convention: -1 with errno set on failure.

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <memory>

namespace tetherd::watchers {

class InotifyApi {
 public:
  virtual ~InotifyApi() = default;
  virtual int init1(int flags) = 0;
  virtual int add_watch(int fd, const char* path, std::uint32_t mask) = 0;
  virtual int rm_watch(int fd, int wd) = 0;
  virtual ssize_t read(int fd, void* buffer, std::size_t size) = 0;
};

/// The real system calls. Shared and stateless.
std::shared_ptr<InotifyApi> system_inotify_api();

}  // namespace tetherd::watchers

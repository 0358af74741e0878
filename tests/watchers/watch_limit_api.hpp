#pragma once

// LimitedInotifyApi: the real inotify calls, with a watch budget and injected events, for
// the tests of the watch limit and of kernel oddities.

#include <sys/inotify.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>

#include "tetherd/watchers/inotify_api.hpp"

namespace tetherd::test {

// The real system calls, except that inotify_add_watch fails with ENOSPC once `budget`
// watches were granted, or for paths ending in `refused_suffix`.
class LimitedInotifyApi final : public watchers::InotifyApi {
 public:
  int init1(int flags) override { return real_->init1(flags); }
  int add_watch(int fd, const char* path, std::uint32_t mask) override {
    const std::string_view view = path;
    const bool refused = (!refused_suffix.empty() && view.size() >= refused_suffix.size() &&
                          view.substr(view.size() - refused_suffix.size()) == refused_suffix) ||
                         granted >= budget;
    if (refused) {
      ++refusals;
      errno = ENOSPC;
      return -1;
    }
    const int wd = real_->add_watch(fd, path, mask);
    if (wd >= 0) ++granted;
    return wd;
  }
  int rm_watch(int fd, int wd) override { return real_->rm_watch(fd, wd); }
  ssize_t read(int fd, void* buffer, std::size_t size) override {
    if (!injected.empty() && size >= injected.size()) {
      std::memcpy(buffer, injected.data(), injected.size());
      const auto length = static_cast<ssize_t>(injected.size());
      injected.clear();
      return length;
    }
    return real_->read(fd, buffer, size);
  }

  /// The next read returns this fabricated event instead of what the kernel has.
  void inject(int wd, std::uint32_t mask, std::string_view name) {
    inotify_event header{};
    header.wd = wd;
    header.mask = mask;
    header.len = static_cast<std::uint32_t>((name.size() + 1 + 15) / 16 * 16);
    injected.assign(sizeof header + header.len, '\0');
    std::memcpy(injected.data(), &header, sizeof header);
    std::memcpy(injected.data() + sizeof header, name.data(), name.size());
  }

  std::size_t budget = static_cast<std::size_t>(-1);
  std::string refused_suffix;
  std::size_t granted = 0;
  std::size_t refusals = 0;
  std::string injected;

 private:
  std::shared_ptr<watchers::InotifyApi> real_ = watchers::system_inotify_api();
};

}  // namespace tetherd::test

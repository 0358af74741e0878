#include "tetherd/watchers/inotify_api.hpp"

#include <sys/inotify.h>
#include <unistd.h>

namespace tetherd::watchers {
namespace {

class SystemInotifyApi final : public InotifyApi {
 public:
  int init1(int flags) override { return ::inotify_init1(flags); }
  int add_watch(int fd, const char* path, std::uint32_t mask) override {
    return ::inotify_add_watch(fd, path, mask);
  }
  int rm_watch(int fd, int wd) override { return ::inotify_rm_watch(fd, wd); }
  ssize_t read(int fd, void* buffer, std::size_t size) override { return ::read(fd, buffer, size); }
};

}  // namespace

std::shared_ptr<InotifyApi> system_inotify_api() {
  static const std::shared_ptr<InotifyApi> api = std::make_shared<SystemInotifyApi>();
  return api;
}

}  // namespace tetherd::watchers

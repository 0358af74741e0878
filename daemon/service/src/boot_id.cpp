#include "tetherd/service/boot_id.hpp"

#include <fstream>

namespace tetherd::daemon {

std::string current_boot_id() {
  std::ifstream in("/proc/sys/kernel/random/boot_id");
  std::string id;
  if (!std::getline(in, id)) return {};
  // A UUID: anything else is not an id this check may rely on.
  if (id.size() != 36) return {};
  return id;
}

}  // namespace tetherd::daemon

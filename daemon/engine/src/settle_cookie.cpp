#include "tetherd/engine/settle_cookie.hpp"

#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>

namespace tetherd::daemon {

bool is_stale_settle_cookie(std::string_view name) {
  if (!is_settle_cookie(name)) return false;
  const std::string_view rest = name.substr(settle_cookie_prefix.size());
  long pid = 0;
  const auto [end, error] = std::from_chars(rest.data(), rest.data() + rest.size(), pid);
  if (error != std::errc() || end == rest.data() || pid <= 0 || *end != '.') return false;
  if (pid == static_cast<long>(::getpid())) return false;
  return ::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH;
}

}  // namespace tetherd::daemon

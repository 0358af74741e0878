// Settle cookie names: which are reserved, and which a dead process left behind.

#include "tetherd/engine/settle_cookie.hpp"

#include <doctest/doctest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>

namespace tetherd::daemon {
namespace {

std::string cookie_of(long pid) {
  return ".tetherd-settle." + std::to_string(pid) + ".7";
}

/// The id of a process that has exited and been reaped: no process has it (until reused).
pid_t gone_pid() {
  const pid_t child = ::fork();
  if (child == 0) ::_exit(0);
  int status = 0;
  ::waitpid(child, &status, 0);
  return child;
}

TEST_CASE("a cookie is stale only when the process its name gives is gone") {
  CHECK(is_stale_settle_cookie(cookie_of(gone_pid())));
  CHECK_FALSE(is_stale_settle_cookie(cookie_of(::getpid())));   // ours: a settle in flight
  CHECK_FALSE(is_stale_settle_cookie(cookie_of(::getppid())));  // alive
}

TEST_CASE("names that are not well-formed cookies are never stale") {
  const std::string gone = std::to_string(gone_pid());
  CHECK_FALSE(is_stale_settle_cookie("dir/.tetherd-settle." + gone + ".1"));  // not at the root
  CHECK_FALSE(is_stale_settle_cookie(".tetherd-settle." + gone));             // no number
  CHECK_FALSE(is_stale_settle_cookie(".tetherd-settle.x" + gone + ".1"));
  CHECK_FALSE(is_stale_settle_cookie(".tetherd-settle.-" + gone + ".1"));
  CHECK_FALSE(is_stale_settle_cookie(".tetherd-settle..1"));
  CHECK_FALSE(is_stale_settle_cookie("tetherd-settle." + gone + ".1"));
}

}  // namespace
}  // namespace tetherd::daemon

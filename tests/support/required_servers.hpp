#pragma once

// Whether a test server (sshd, radosgw) that cannot run on this machine may be skipped.
//
// A fixture whose server's prerequisites are missing (no root, no binaries) reports the
// case as skipped: it prints kSkippedMarker and the reason, and ctest's
// SKIP_REGULAR_EXPRESSION on the server-backed entries turns that into "Skipped" instead
// of a pass (tests/stores/CMakeLists.txt). With TETHERD_REQUIRE_SERVERS=1 in the
// environment (set by ctest where CI installs the servers) the same absence is a failure,
// so that a broken CI image cannot turn the server tests into silent skips.

#include <cstdlib>
#include <string_view>

namespace tetherd::test_support {

/// The output marker of a skipped case; tests/stores/CMakeLists.txt matches it.
inline constexpr std::string_view kSkippedMarker = "TETHERD-SKIPPED:";

/// True when TETHERD_REQUIRE_SERVERS is "1".
inline bool servers_required() {
  const char* value = std::getenv("TETHERD_REQUIRE_SERVERS");
  return value != nullptr && std::string_view(value) == "1";
}

}  // namespace tetherd::test_support

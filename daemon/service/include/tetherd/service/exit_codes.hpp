#pragma once

namespace tetherd::daemon {

/// Exit codes (sysexits.h meanings) shared by every subcommand.
namespace exit_code {
inline constexpr int ok = 0;
inline constexpr int usage = 64;
inline constexpr int no_input = 66;
inline constexpr int unavailable = 69;
inline constexpr int software = 70;
inline constexpr int io_error = 74;
inline constexpr int temp_fail = 75;
inline constexpr int config = 78;
}  // namespace exit_code

}  // namespace tetherd::daemon

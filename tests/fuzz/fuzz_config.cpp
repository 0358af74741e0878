// Fuzzes the config reader: any bytes must give either a config or problems with valid
// positions, never a crash, a hang or undefined behaviour.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "tetherd/config/load_config.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const tetherd::config::ConfigResult result = tetherd::config::parse_config(text, "fuzz.json");
  if (result.ok() != result.problems.empty()) std::abort();
  for (const tetherd::config::Problem& problem : result.problems) {
    // Positions are 1-based and never past the input; only an oversized input has none.
    if (problem.line == 0 && size > tetherd::config::max_config_bytes) continue;
    if (problem.line < 1 || problem.column < 1) std::abort();
    if (static_cast<std::size_t>(problem.line) > size + 1) std::abort();
    if (problem.to_string().empty()) std::abort();
  }
  return 0;
}

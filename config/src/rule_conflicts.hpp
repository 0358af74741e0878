#pragma once

// What no single rule shows, checked across all of them once each has been read:
// - two rules whose targets are one directory, or one inside the other (local targets by
//   what the paths are; targets in a remote store by store name and path): with "delete"
//   each deletes what the other copies, at every sync;
// - rules that feed each other in a loop (a rule's local target lies in another rule's
//   source, or holds it, and following such links leads back to the start): every copy is
//   copied again, deeper each time, without end. A chain without a loop is fine.
// Each problem is reported at the target of the rule that comes last in the file, and names
// every rule involved.

#include <string>
#include <vector>

#include "json_document.hpp"
#include "tetherd/config/config.hpp"
#include "value_reader.hpp"

namespace tetherd::config::detail {

/// Where the target of a rule in config.rules was written (same index).
struct RuleSite {
  TextPosition target_position;
  std::string target_path;  ///< JSON path, e.g. "rules[3].target"
};

/// `sites[i]` belongs to `config.rules[i]`.
void check_rule_conflicts(ValueReader& reader, const Config& config,
                          const std::vector<RuleSite>& sites);

}  // namespace tetherd::config::detail

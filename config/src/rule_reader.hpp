#pragma once

// The "rules" array: names, sources (existing directories), targets (a known store or an
// absolute path; a local one must exist and never overlap the source), glob lists and
// options; then what the rules do to each other (rule_conflicts.hpp).

#include "json_document.hpp"
#include "store_reader.hpp"
#include "tetherd/config/config.hpp"
#include "value_reader.hpp"

namespace tetherd::config::detail {

/// Adds every valid rule to config.rules (config.stores must be read already); reports the
/// rest.
void read_rules(ValueReader& reader, const JsonValue& value, Config& config,
                const StoreIndex& index);

}  // namespace tetherd::config::detail

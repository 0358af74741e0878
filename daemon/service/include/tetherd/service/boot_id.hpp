#pragma once

// Which boot of this machine the process runs in: what tells a restart that a reboot (and
// so maybe a power loss) came between it and the run that left some state behind.

#include <string>

namespace tetherd::daemon {

/// The kernel's random id of the current boot (/proc/sys/kernel/random/boot_id, 36
/// characters); empty when it cannot be read (no /proc), which callers must treat as
/// "unknown", never as equal to another empty id.
std::string current_boot_id();

}  // namespace tetherd::daemon

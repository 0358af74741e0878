#pragma once

// The systemd journal as a sink for the event log (README.md, under systemd). Each
// event becomes one journal entry: MESSAGE (the human line, valid UTF-8), PRIORITY (syslog
// level), SYSLOG_IDENTIFIER=tetherd, TETHERD_EVENT, and one TETHERD_<KEY> field per event
// field (TETHERD_RULE, TETHERD_PATH, TETHERD_RESULT, TETHERD_DURATION_MS, ...). Journal
// fields are binary-safe, so TETHERD_PATH and TETHERD_TO carry a path's exact bytes even
// when they are not UTF-8 (the "_base64" companions of the JSON line are left out).

#include <string>
#include <string_view>
#include <vector>

#include "tetherd/service/event_log.hpp"

namespace tetherd::daemon {

/// Whether $JOURNAL_STREAM ("DEVICE:INODE", set by systemd for a service whose stdout or
/// stderr goes to the journal) names the file open on `fd`: systemd's documented test for
/// "my stderr is the journal". False when unset, malformed or another file.
bool journal_stream_is(int fd) noexcept;

/// journald's socket; sd_journal_sendv always sends there.
inline constexpr const char* journal_socket_path = "/run/systemd/journal/socket";

/// Whether journald's socket exists. sd_journal_sendv reports success when it does not
/// (it drops the entry silently), so a sink asked for without journald checks this first.
bool journal_available() noexcept;

/// The journal field name for an event key: "TETHERD_" + the key upper-cased, with any
/// byte outside [A-Z0-9_] replaced by '_', cut to journald's limit of 64 characters.
std::string journal_field_name(std::string_view key);

/// syslog priority for an event level: debug 7, info 6, warn 4, error 3.
int journal_priority(EventLevel level) noexcept;

/// The entry for `event` as "FIELD=value" strings, in the order sd_journal_sendv takes.
/// Values are exact bytes (they may contain newlines or invalid UTF-8).
std::vector<std::string> journal_fields(const Event& event);

/// Sends `event` to journald (sd_journal_sendv). Returns 0, or a negative errno when the
/// journal cannot be reached.
int send_to_journal(const Event& event);

}  // namespace tetherd::daemon

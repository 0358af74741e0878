// EventLog::wanted: the engine skips building an event that no sink takes and no observer
// sees (one per copied file otherwise); every event that would reach a sink is wanted.

#include <doctest/doctest.h>

#include <filesystem>

#include "support/temp_dir.hpp"
#include "tetherd/service/event_log.hpp"

using tetherd::daemon::Event;
using tetherd::daemon::EventLevel;
using tetherd::daemon::EventLog;
using tetherd::daemon::EventLogOptions;
using tetherd::test_support::TempDir;

TEST_CASE("an event nobody would read is not wanted") {
  EventLogOptions options;
  options.stderr_format = EventLogOptions::StderrFormat::none;
  EventLog silent(options);
  CHECK_FALSE(silent.wanted(EventLevel::info));
  CHECK_FALSE(silent.wanted(EventLevel::error));
  bool observed = false;
  silent.set_observer([&observed](const Event&) { observed = true; });
  CHECK(silent.wanted(EventLevel::debug));  // the observer sees every level
  silent.emit(Event(EventLevel::debug, "copy"));
  CHECK(observed);
}

TEST_CASE("an event a sink takes is wanted, by its level") {
  TempDir dir("event-log-wanted");
  EventLogOptions options;
  options.stderr_format = EventLogOptions::StderrFormat::none;
  options.file = (std::filesystem::path(dir.path()) / "events.jsonl").string();
  options.level = EventLevel::warn;
  EventLog to_file(options);
  CHECK_FALSE(to_file.wanted(EventLevel::info));
  CHECK(to_file.wanted(EventLevel::warn));
  CHECK(to_file.wanted(EventLevel::error));

  EventLogOptions to_stderr;
  to_stderr.stderr_format = EventLogOptions::StderrFormat::json;
  CHECK(EventLog(to_stderr).wanted(EventLevel::info));
  CHECK_FALSE(EventLog(to_stderr).wanted(EventLevel::debug));
}

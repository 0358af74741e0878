#include "tetherd/service/event_log.hpp"

#include <spdlog/logger.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <stdexcept>

#include "fd_line_sink.hpp"
#include "tetherd/core/text.hpp"
#include "tetherd/service/journal_sink.hpp"

namespace tetherd::daemon {

EventLog::EventLog(EventLogOptions options) : options_(std::move(options)) {
  if (options_.journal && !journal_available()) {
    // --log-journal yes without journald: entries would vanish without an error.
    std::fprintf(stderr,
                 "tetherd: the systemd journal is not running (no %s); events go to stderr\n",
                 journal_socket_path);
    options_.journal = false;
  }
  if (!options_.file.empty()) {
    try {
      file_sink_ = FdLineSink::open_file(options_.file);
      file_ = std::make_shared<spdlog::logger>("tetherd-events-file", file_sink_);
    } catch (const std::exception& error) {
      throw std::runtime_error("cannot open the event log file " + options_.file + ": " +
                               error.what());
    }
    file_->set_pattern("%v");
    file_->set_level(spdlog::level::trace);
    file_->flush_on(spdlog::level::off);  // the sink writes each line, or the batch at flush()
  }
  if (options_.stderr_format != EventLogOptions::StderrFormat::none && !options_.journal) {
    stderr_sink_ = std::make_shared<FdLineSink>(STDERR_FILENO);
    stderr_ = std::make_shared<spdlog::logger>("tetherd-events-stderr", stderr_sink_);
    stderr_->set_pattern("%v");
    stderr_->set_level(spdlog::level::trace);
    stderr_->flush_on(spdlog::level::off);
  }
}

EventLog::~EventLog() {
  flush();
}

void EventLog::emit(const Event& event) {
  if (observer_) observer_(event);
  if (!enabled(event.level())) return;
  if (options_.journal) {
    if (const int failure = send_to_journal(event); failure < 0) {
      // The journal cannot be reached (--log-journal yes without journald): keep the
      // event on stderr rather than lose it.
      std::fprintf(stderr, "%s\n", event.to_human().c_str());
    }
  }
  if (file_ || (stderr_ && options_.stderr_format == EventLogOptions::StderrFormat::json)) {
    const std::string json = event.to_json();
    if (file_) file_->info(json);
    if (stderr_ && options_.stderr_format == EventLogOptions::StderrFormat::json) {
      stderr_->info(json);
    }
  }
  if (stderr_ && options_.stderr_format == EventLogOptions::StderrFormat::human) {
    stderr_->info(event.to_human());
  }
  report_sink_trouble();  // a write above may have ended a failure
}

void EventLog::flush() {
  if (file_) file_->flush();
  if (stderr_) stderr_->flush();
  report_sink_trouble();
}

void EventLog::reopen() {
  if (!file_sink_) return;
  file_->flush();  // what was emitted before goes to the file it was meant for
  if (auto failure = file_sink_->reopen()) {
    emit(Event(EventLevel::error, "event_log")
             .result("error")
             .text("file", options_.file)
             .message("cannot reopen the event log file: " + *failure +
                      "; still writing to the file opened before"));
    return;
  }
  emit(Event(EventLevel::info, "event_log").result("reopened").text("file", options_.file));
}

void EventLog::report_sink_trouble() {
  if ((!file_sink_ && !stderr_sink_) || reporting_) return;
  reporting_ = true;  // the events below are written through the same sinks
  bool reported = false;
  if (stderr_sink_) {
    if (const std::uint64_t dropped = stderr_sink_->take_dropped(); dropped > 0) {
      emit(Event(EventLevel::warn, "event_log")
               .result("dropped")
               .text("file", "stderr")
               .number("events", static_cast<std::int64_t>(dropped))
               .message("events were dropped from stderr: its reader did not keep up"));
      reported = true;
    }
  }
  if (!file_sink_) {
    if (reported && stderr_) stderr_->flush();
    reporting_ = false;
    return;
  }
  if (file_sink_->take_recreated()) {
    emit(Event(EventLevel::warn, "event_log")
             .result("recreated")
             .text("file", options_.file)
             .message("the event log file was removed; lines written since are lost"));
    reported = true;
  }
  if (const std::uint64_t dropped = file_sink_->take_dropped(); dropped > 0) {
    emit(Event(EventLevel::warn, "event_log")
             .result("dropped")
             .text("file", options_.file)
             .number("events", static_cast<std::int64_t>(dropped))
             .message("events that could not be written to the event log file were dropped"));
    reported = true;
  }
  if (reported) {
    file_->flush();
    if (stderr_) stderr_->flush();
  }
  reporting_ = false;
}

void EventLog::set_batching(bool on) {
  if (file_sink_) file_sink_->set_batching(on);
  if (stderr_sink_) stderr_sink_->set_batching(on);
}

}  // namespace tetherd::daemon

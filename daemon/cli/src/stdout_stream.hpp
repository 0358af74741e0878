#pragma once

// Standard output for a long-running printer on a libuv loop. A pipe, socket or terminal is
// written through a libuv stream, so a reader that stops reading never blocks the loop (and
// SIGTERM keeps working); at most `max_queued_bytes` wait in memory, beyond that write()
// refuses and the caller counts what it dropped. Regular files and other devices get plain
// blocking writes (they do not stall indefinitely).

#include <uv.h>

#include <cstddef>
#include <functional>
#include <string>

namespace tetherd::daemon {

class StdoutStream {
 public:
  static constexpr std::size_t max_queued_bytes = 16 * 1024 * 1024;

  /// `on_error` receives a negative errno (libuv convention) when writing fails.
  StdoutStream(uv_loop_t* loop, std::function<void(int)> on_error);
  ~StdoutStream();
  StdoutStream(const StdoutStream&) = delete;
  StdoutStream& operator=(const StdoutStream&) = delete;

  /// Queues `text` (written in order). Returns false, writing nothing, when the reader is
  /// more than max_queued_bytes behind.
  bool write(std::string text);
  /// Bytes written but not yet accepted by the reader.
  std::size_t queued() const;
  /// With `flush`, closes once everything queued is written; otherwise at once (queued text
  /// is dropped). `done` runs when the stream is closed (right away for blocking output).
  /// A second close(false) cuts a flush short.
  void close(bool flush, std::function<void()> done);

 private:
  static void on_written(uv_write_t* request, int status) noexcept;
  static void on_shutdown(uv_shutdown_t* request, int status) noexcept;
  void close_now();

  uv_loop_t* loop_;
  std::function<void(int)> on_error_;
  uv_stream_t* stream_ = nullptr;      // null: blocking stdio
  uv_shutdown_t* shutdown_ = nullptr;  // pending flush-then-close
  std::function<void()> done_;
  bool closing_ = false;
};

}  // namespace tetherd::daemon

#include "stdout_stream.hpp"

#include <cerrno>
#include <cstdio>
#include <memory>
#include <utility>

namespace tetherd::daemon {
namespace {

struct WriteRequest {
  uv_write_t request{};
  std::string text;
  StdoutStream* owner = nullptr;
};

}  // namespace

StdoutStream::StdoutStream(uv_loop_t* loop, std::function<void(int)> on_error)
    : loop_(loop), on_error_(std::move(on_error)) {
  const uv_handle_type type = uv_guess_handle(1);
  if (type == UV_TTY) {
    auto* tty = new uv_tty_t;
    if (uv_tty_init(loop_, tty, 1, 0) == 0) {
      stream_ = reinterpret_cast<uv_stream_t*>(tty);
    } else {
      delete tty;
    }
  } else if (type == UV_NAMED_PIPE) {
    auto* pipe = new uv_pipe_t;
    uv_pipe_init(loop_, pipe, 0);
    if (uv_pipe_open(pipe, 1) == 0) {
      stream_ = reinterpret_cast<uv_stream_t*>(pipe);
    } else {
      uv_close(reinterpret_cast<uv_handle_t*>(pipe),
               [](uv_handle_t* closed) { delete reinterpret_cast<uv_pipe_t*>(closed); });
    }
  }
  if (stream_ != nullptr) {
    stream_->data = this;
  } else {
    std::setvbuf(stdout, nullptr, _IOLBF, 0);
  }
}

StdoutStream::~StdoutStream() {
  if (stream_ != nullptr) {
    done_ = nullptr;
    close_now();
  }
}

std::size_t StdoutStream::queued() const {
  return stream_ == nullptr ? 0 : uv_stream_get_write_queue_size(stream_);
}

bool StdoutStream::write(std::string text) {
  if (text.empty() || closing_) return true;
  if (stream_ == nullptr) {
    if (std::fwrite(text.data(), 1, text.size(), stdout) != text.size() ||
        std::fflush(stdout) != 0) {
      if (on_error_) on_error_(-errno);
    }
    return true;
  }
  if (queued() > max_queued_bytes) return false;
  auto request = std::make_unique<WriteRequest>();
  request->text = std::move(text);
  request->owner = this;
  const uv_buf_t buffer =
      uv_buf_init(request->text.data(), static_cast<unsigned int>(request->text.size()));
  const int status = uv_write(&request->request, stream_, &buffer, 1, &StdoutStream::on_written);
  if (status != 0) {
    if (on_error_) on_error_(status);
    return true;  // not a reader that is behind: an error, reported
  }
  request.release();  // freed by on_written
  return true;
}

void StdoutStream::on_written(uv_write_t* request, int status) noexcept {
  std::unique_ptr<WriteRequest> owned(reinterpret_cast<WriteRequest*>(request));
  if (status < 0 && status != UV_ECANCELED && owned->owner->on_error_) {
    try {
      owned->owner->on_error_(status);
    } catch (...) {
      // noexcept boundary; the error handler only prints
    }
  }
}

void StdoutStream::close(bool flush, std::function<void()> done) {
  if (done) done_ = std::move(done);
  if (stream_ == nullptr) {
    std::fflush(stdout);
    if (auto finished = std::exchange(done_, nullptr)) finished();
    return;
  }
  if (flush && !closing_) {
    closing_ = true;
    auto* request = new uv_shutdown_t;
    request->data = this;
    if (uv_shutdown(request, stream_, &StdoutStream::on_shutdown) != 0) {
      delete request;
      close_now();
    } else {
      shutdown_ = request;
    }
    return;
  }
  close_now();
}

void StdoutStream::on_shutdown(uv_shutdown_t* request, int /*status*/) noexcept {
  auto* self = static_cast<StdoutStream*>(request->data);
  delete request;
  if (self == nullptr) return;  // closed (or destroyed) meanwhile
  self->shutdown_ = nullptr;
  self->close_now();
}

void StdoutStream::close_now() {
  closing_ = true;
  if (shutdown_ != nullptr) std::exchange(shutdown_, nullptr)->data = nullptr;
  if (stream_ == nullptr) return;
  uv_stream_t* stream = std::exchange(stream_, nullptr);
  stream->data = nullptr;
  if (!uv_is_closing(reinterpret_cast<uv_handle_t*>(stream))) {
    uv_close(reinterpret_cast<uv_handle_t*>(stream), [](uv_handle_t* closed) {
      if (closed->type == UV_TTY) {
        delete reinterpret_cast<uv_tty_t*>(closed);
      } else {
        delete reinterpret_cast<uv_pipe_t*>(closed);
      }
    });
  }
  if (auto finished = std::exchange(done_, nullptr)) {
    try {
      finished();
    } catch (...) {
      // noexcept paths call this; `done` only closes handles
    }
  }
}

}  // namespace tetherd::daemon

#pragma once

// HttpClient: libcurl's multi interface driven by a libuv loop. curl tells us which sockets
// to watch (CURLMOPT_SOCKETFUNCTION → one uv_poll_t per socket) and when to wake it
// (CURLMOPT_TIMERFUNCTION → one uv_timer_t); uv tells curl what happened through
// curl_multi_socket_action. Nothing blocks the loop thread: DNS for literal addresses and
// connects are non-blocking, bodies are in memory. Connections are kept alive and reused;
// at most `max_connections` are open, further requests wait inside curl.
//
// Threading: everything on the loop thread. A completion never runs inline from start():
// curl only acts from the loop's poll and timer callbacks.

#include <uv.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

namespace tetherd::stores::s3 {

struct HttpRequest {
  std::string method;  ///< GET, HEAD, PUT, POST, DELETE
  std::string url;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;  ///< sent as is (PUT, POST); empty for the others
};

struct HttpResponse {
  /// 0 when no HTTP answer came (see transport_error).
  long status = 0;
  /// Names lower-case; the last value of a repeated header wins.
  std::map<std::string, std::string> headers;
  std::string body;
  /// curl's code when the transfer itself failed (CURLE_*), 0 otherwise.
  int transport_code = 0;
  std::string transport_error;
  /// The request's body, handed back so that the request can be sent again (a throttled
  /// one) without keeping a copy while it is in flight.
  std::string request_body;

  const std::string* header(const std::string& lower_name) const {
    auto it = headers.find(lower_name);
    return it == headers.end() ? nullptr : &it->second;
  }
};

struct HttpClientOptions {
  long max_connections = 8;
  std::string ca_file;  ///< empty: the system's CAs. TLS peers are always verified.
  long connect_timeout_ms = 10'000;
  /// A transfer moving less than 1 byte/s for this long fails (CURLE_OPERATION_TIMEDOUT).
  long low_speed_time_s = 60;
};

class HttpClient {
 public:
  using RequestId = std::uint64_t;
  using Done = std::function<void(HttpResponse)>;

  HttpClient(uv_loop_t* loop, HttpClientOptions options);
  /// Requires close() to have been called (and the loop run until it completed).
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  /// Starts a request; `done` runs once, on the loop, unless the request is cancelled.
  RequestId start(HttpRequest request, Done done);
  /// Drops a request in flight: its connection is closed, `done` never runs. No effect on
  /// a finished or unknown request.
  void cancel(RequestId id);
  std::size_t in_flight() const noexcept { return transfers_.size(); }
  /// Drops every request (their callbacks never run) and closes the uv handles; `done`
  /// runs on the loop once they are closed.
  void close(std::function<void()> done);

 private:
  struct Transfer;
  struct Socket;
  static int on_socket(void* easy, int fd, int what, void* client, void* socket);
  static int on_timer(void* multi, long timeout_ms, void* client);
  void act(int fd, int events);
  void collect();
  void remove(Transfer* transfer);

  uv_loop_t* loop_;
  HttpClientOptions options_;
  void* multi_ = nullptr;  // CURLM*
  uv_timer_t* timer_ = nullptr;
  std::map<RequestId, std::unique_ptr<Transfer>> transfers_;
  std::set<Socket*> sockets_;  ///< watched now (closing ones are gone from here)
  RequestId next_id_ = 1;
  bool closed_ = false;
};

}  // namespace tetherd::stores::s3

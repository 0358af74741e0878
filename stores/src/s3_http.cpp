#include "s3_http.hpp"

#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <stdexcept>

namespace tetherd::stores::s3 {

namespace {

/// curl_global_init is not thread-safe before 7.84; once per process, first use.
void global_init() {
  static const bool done = [] {
    curl_global_init(CURL_GLOBAL_DEFAULT);
    return true;
  }();
  (void)done;
}

}  // namespace

struct HttpClient::Transfer {
  RequestId id = 0;
  CURL* easy = nullptr;
  curl_slist* headers = nullptr;
  HttpRequest request;
  HttpResponse response;
  Done done;
  char error[CURL_ERROR_SIZE] = {};

  ~Transfer() {
    if (headers) curl_slist_free_all(headers);
    if (easy) curl_easy_cleanup(easy);
  }

  static std::size_t on_body(char* data, std::size_t size, std::size_t count, void* self) {
    static_cast<Transfer*>(self)->response.body.append(data, size * count);
    return size * count;
  }
  static std::size_t on_header(char* data, std::size_t size, std::size_t count, void* self) {
    auto* transfer = static_cast<Transfer*>(self);
    std::string_view line(data, size * count);
    if (line.starts_with("HTTP/")) {
      transfer->response.headers.clear();  // a new response (after 100 Continue)
      return size * count;
    }
    auto colon = line.find(':');
    if (colon == std::string_view::npos) return size * count;
    std::string name(line.substr(0, colon));
    for (auto& c : name)
      c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    auto value = line.substr(colon + 1);
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t'))
      value.remove_prefix(1);
    while (!value.empty() && (value.back() == '\r' || value.back() == '\n' || value.back() == ' '))
      value.remove_suffix(1);
    transfer->response.headers[name] = std::string(value);
    return size * count;
  }
};

/// The uv_poll_t watching one of curl's sockets. Freed from its close callback.
struct HttpClient::Socket {
  uv_poll_t poll;
  HttpClient* client = nullptr;
  int fd = -1;
};

HttpClient::HttpClient(uv_loop_t* loop, HttpClientOptions options)
    : loop_(loop), options_(std::move(options)) {
  global_init();
  multi_ = curl_multi_init();
  if (!multi_) throw std::runtime_error("curl_multi_init failed");
  curl_multi_setopt(multi_, CURLMOPT_SOCKETFUNCTION, &HttpClient::on_socket);
  curl_multi_setopt(multi_, CURLMOPT_SOCKETDATA, this);
  curl_multi_setopt(multi_, CURLMOPT_TIMERFUNCTION, &HttpClient::on_timer);
  curl_multi_setopt(multi_, CURLMOPT_TIMERDATA, this);
  curl_multi_setopt(multi_, CURLMOPT_MAX_TOTAL_CONNECTIONS, options_.max_connections);
  curl_multi_setopt(multi_, CURLMOPT_MAX_HOST_CONNECTIONS, options_.max_connections);
  timer_ = new uv_timer_t;
  uv_timer_init(loop_, timer_);
  timer_->data = this;
}

HttpClient::~HttpClient() {
  // Normally close() ran already; otherwise the handles are closed now and freed by the
  // loop later (nothing of ours is touched from their callbacks).
  if (!closed_) close([] {});
}

HttpClient::RequestId HttpClient::start(HttpRequest request, Done done) {
  auto transfer = std::make_unique<Transfer>();
  transfer->id = next_id_++;
  transfer->request = std::move(request);
  transfer->done = std::move(done);
  CURL* easy = curl_easy_init();
  if (!easy) throw std::runtime_error("curl_easy_init failed");
  transfer->easy = easy;
  const auto& r = transfer->request;
  curl_easy_setopt(easy, CURLOPT_URL, r.url.c_str());
  curl_easy_setopt(easy, CURLOPT_PRIVATE, transfer.get());
  curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, transfer->error);
  curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, &Transfer::on_body);
  curl_easy_setopt(easy, CURLOPT_WRITEDATA, transfer.get());
  curl_easy_setopt(easy, CURLOPT_HEADERFUNCTION, &Transfer::on_header);
  curl_easy_setopt(easy, CURLOPT_HEADERDATA, transfer.get());
  curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, options_.connect_timeout_ms);
  curl_easy_setopt(easy, CURLOPT_LOW_SPEED_LIMIT, 1L);
  curl_easy_setopt(easy, CURLOPT_LOW_SPEED_TIME, options_.low_speed_time_s);
  curl_easy_setopt(easy, CURLOPT_SSL_VERIFYPEER, 1L);
  curl_easy_setopt(easy, CURLOPT_SSL_VERIFYHOST, 2L);
  curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
  if (!options_.ca_file.empty()) curl_easy_setopt(easy, CURLOPT_CAINFO, options_.ca_file.c_str());
  if (r.method == "GET") {
    curl_easy_setopt(easy, CURLOPT_HTTPGET, 1L);
  } else if (r.method == "HEAD") {
    curl_easy_setopt(easy, CURLOPT_NOBODY, 1L);
  } else {
    // The body goes out from memory as is; curl's defaults for a POST body (a form
    // Content-Type, Expect: 100-continue) are switched off below.
    curl_easy_setopt(easy, CURLOPT_CUSTOMREQUEST, r.method.c_str());
    curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(r.body.size()));
    curl_easy_setopt(easy, CURLOPT_POSTFIELDS, r.body.data());
  }
  bool content_type = false;
  for (const auto& header : r.headers) {
    std::string line = header.first + ": " + header.second;
    if (header.second.empty()) line = header.first + ";";  // curl's way to send it empty
    transfer->headers = curl_slist_append(transfer->headers, line.c_str());
    if (header.first == "Content-Type" || header.first == "content-type") content_type = true;
  }
  if (!content_type) transfer->headers = curl_slist_append(transfer->headers, "Content-Type:");
  transfer->headers = curl_slist_append(transfer->headers, "Expect:");
  transfer->headers = curl_slist_append(transfer->headers, "Accept:");
  curl_easy_setopt(easy, CURLOPT_HTTPHEADER, transfer->headers);
  const RequestId id = transfer->id;
  transfers_.emplace(id, std::move(transfer));
  curl_multi_add_handle(multi_, easy);  // asks for a timer: the transfer starts from there
  return id;
}

void HttpClient::cancel(RequestId id) {
  auto it = transfers_.find(id);
  if (it == transfers_.end()) return;
  curl_multi_remove_handle(multi_, it->second->easy);
  transfers_.erase(it);
}

void HttpClient::remove(Transfer* transfer) {
  curl_multi_remove_handle(multi_, transfer->easy);
  transfers_.erase(transfer->id);
}

int HttpClient::on_socket(void*, int fd, int what, void* client_pointer, void* socket_pointer) {
  auto* client = static_cast<HttpClient*>(client_pointer);
  auto* socket = static_cast<Socket*>(socket_pointer);
  if (what == CURL_POLL_REMOVE) {
    if (socket) {
      client->sockets_.erase(socket);
      uv_poll_stop(&socket->poll);
      uv_close(reinterpret_cast<uv_handle_t*>(&socket->poll),
               [](uv_handle_t* handle) { delete static_cast<Socket*>(handle->data); });
      if (client->multi_) curl_multi_assign(client->multi_, fd, nullptr);
    }
    return 0;
  }
  if (!socket) {
    socket = new Socket;
    socket->client = client;
    socket->fd = fd;
    socket->poll.data = socket;
    client->sockets_.insert(socket);
    uv_poll_init_socket(client->loop_, &socket->poll, fd);
    curl_multi_assign(client->multi_, fd, socket);
  }
  int events = 0;
  if (what == CURL_POLL_IN || what == CURL_POLL_INOUT) events |= UV_READABLE;
  if (what == CURL_POLL_OUT || what == CURL_POLL_INOUT) events |= UV_WRITABLE;
  uv_poll_start(&socket->poll, events, [](uv_poll_t* poll, int status, int ready) {
    auto* socket = static_cast<Socket*>(poll->data);
    int flags = 0;
    if (status < 0) flags = CURL_CSELECT_ERR;
    if (ready & UV_READABLE) flags |= CURL_CSELECT_IN;
    if (ready & UV_WRITABLE) flags |= CURL_CSELECT_OUT;
    socket->client->act(socket->fd, flags);
  });
  return 0;
}

int HttpClient::on_timer(void*, long timeout_ms, void* client_pointer) {
  auto* client = static_cast<HttpClient*>(client_pointer);
  if (timeout_ms < 0) {
    uv_timer_stop(client->timer_);
    return 0;
  }
  // Never act from inside curl's own call (timeout 0 comes from curl_multi_add_handle):
  // a zero timer runs on the loop's next turn.
  uv_timer_start(
      client->timer_,
      [](uv_timer_t* timer) {
        if (timer->data) static_cast<HttpClient*>(timer->data)->act(CURL_SOCKET_TIMEOUT, 0);
      },
      static_cast<std::uint64_t>(timeout_ms), 0);
  return 0;
}

void HttpClient::act(int fd, int events) {
  int running = 0;
  curl_multi_socket_action(multi_, fd, events, &running);
  collect();
}

void HttpClient::collect() {
  int pending = 0;
  while (CURLMsg* message = curl_multi_info_read(multi_, &pending)) {
    if (message->msg != CURLMSG_DONE) continue;
    Transfer* transfer = nullptr;
    curl_easy_getinfo(message->easy_handle, CURLINFO_PRIVATE, &transfer);
    const CURLcode code = message->data.result;
    HttpResponse response = std::move(transfer->response);
    if (code == CURLE_OK) {
      curl_easy_getinfo(transfer->easy, CURLINFO_RESPONSE_CODE, &response.status);
    } else {
      response.status = 0;
      response.transport_code = static_cast<int>(code);
      response.transport_error = transfer->error[0] ? transfer->error : curl_easy_strerror(code);
    }
    response.request_body = std::move(transfer->request.body);
    Done done = std::move(transfer->done);
    remove(transfer);  // before the callback: it may start or cancel requests
    if (done) done(std::move(response));
    if (closed_) return;
  }
}

void HttpClient::close(std::function<void()> done) {
  for (auto& [id, transfer] : transfers_)
    curl_multi_remove_handle(multi_, transfer->easy);
  transfers_.clear();
  // Cleaning up the multi handle closes its connections, which reports CURL_POLL_REMOVE for
  // each socket: their poll handles close before the timer's callback below runs.
  curl_multi_cleanup(multi_);
  multi_ = nullptr;
  closed_ = true;
  for (Socket* socket : sockets_) {  // any curl did not report removed
    uv_poll_stop(&socket->poll);
    uv_close(reinterpret_cast<uv_handle_t*>(&socket->poll),
             [](uv_handle_t* handle) { delete static_cast<Socket*>(handle->data); });
  }
  sockets_.clear();
  uv_timer_stop(timer_);
  timer_->data = new std::function<void()>(std::move(done));
  uv_close(reinterpret_cast<uv_handle_t*>(timer_), [](uv_handle_t* handle) {
    auto* callback = static_cast<std::function<void()>*>(handle->data);
    delete reinterpret_cast<uv_timer_t*>(handle);
    (*callback)();
    delete callback;
  });
  timer_ = nullptr;
}

}  // namespace tetherd::stores::s3

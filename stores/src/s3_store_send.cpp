// How the S3 store sends a request: signed at the moment it goes out, and sent again after
// a backoff when the server throttles it (see S3Store::send in s3_store_impl.hpp).

#include <curl/curl.h>

#include <chrono>
#include <memory>
#include <random>

#include "s3_store_impl.hpp"
#include "s3_throttle.hpp"

namespace tetherd::stores::s3 {

/// One request of the store's, across its attempts. Exactly one of `http` (an attempt in
/// flight) and `timer` (waiting to retry) is set while the call is in calls_.
struct S3Store::Call {
  RequestId id = 0;
  std::string method;
  std::string key;
  Pairs query;
  Pairs headers;
  std::string body;  ///< between attempts only: in flight, the HttpClient holds it
  Reply reply;
  int retries = 0;  ///< attempts made after the first
  s3::HttpClient::RequestId http = 0;
  uv_timer_t* timer = nullptr;
  std::shared_ptr<S3Store> store;  ///< set while the timer waits (its callback needs it)
};

S3Store::RequestId S3Store::send(std::string method, const std::string& key, const Pairs& query,
                                 Pairs headers, std::string body, Reply reply) {
  if (!client_) {  // closed: streams outliving the store fail like a lost connection
    executor().post([reply] {
      HttpResponse response;
      response.transport_code = CURLE_COULDNT_CONNECT;
      response.transport_error = "the store is closed";
      reply(std::move(response));
    });
    return 0;
  }
  // A request that may change an object makes what is known of its metadata stale
  // (DeleteObjects, on the bucket, forgets its keys itself).
  if (method != "GET" && method != "HEAD" && !key.empty()) metadata_->forget(key);
  // Any PUT or POST to a key may create that object (a part or an initiation does not,
  // but counting them costs only a real check later).
  if ((method == "PUT" || method == "POST") && !key.empty()) known_keys_.exists(key);
  auto call = std::make_shared<Call>();
  call->id = next_call_++;
  call->method = std::move(method);
  call->key = key;
  call->query = query;
  call->headers = std::move(headers);
  call->body = std::move(body);
  call->reply = std::move(reply);
  calls_.emplace(call->id, call);
  attempt(call);
  return call->id;
}

void S3Store::attempt(const CallPtr& call) {
  // Signed anew for every attempt: the signature carries the time it was made.
  auto request = s3::make_request(endpoint_, call->method, call->key, call->query, call->headers,
                                  std::move(call->body), std::chrono::system_clock::now());
  call->body.clear();
  auto store = self();
  call->http = client_->start(std::move(request), [store, call](HttpResponse response) {
    store->answered(call, std::move(response));
  });
}

void S3Store::answered(const CallPtr& call, HttpResponse response) {
  call->http = 0;
  if (!calls_.count(call->id)) return;
  if (client_ && s3::throttled(response) && call->retries < options_.throttle_retries) {
    std::optional<std::chrono::seconds> retry_after;
    if (auto* header = response.header("retry-after"))
      retry_after = s3::parse_retry_after(*header, std::chrono::system_clock::now());
    const s3::ThrottlePolicy policy{options_.throttle_base_delay, options_.throttle_max_wait};
    // A server asking for a longer pause than we wait is not asked again sooner than it
    // wants: the throttled answer goes to the caller (whose retries are paced by the engine).
    if (!retry_after || *retry_after <= policy.cap) {
      const double jitter = std::uniform_real_distribution<double>(0.0, 1.0)(jitter_);
      const auto delay = s3::throttle_delay(policy, call->retries, retry_after, jitter);
      ++call->retries;
      call->body = std::move(response.request_body);
      call->store = self();
      call->timer = new uv_timer_t;
      uv_timer_init(loop_, call->timer);
      call->timer->data = call.get();  // valid: a call in calls_ stays alive, its timer with it
      uv_timer_start(
          call->timer,
          [](uv_timer_t* timer) {
            auto* waiting = static_cast<Call*>(timer->data);
            auto store = std::move(waiting->store);
            auto call = store->calls_.at(waiting->id);
            store->stop_timer(*call);
            store->attempt(call);
          },
          static_cast<std::uint64_t>(delay.count()), 0);
      return;
    }
  }
  calls_.erase(call->id);
  call->reply(std::move(response));
}

void S3Store::stop_timer(Call& call) {
  if (call.timer) {
    uv_timer_stop(call.timer);
    uv_close(reinterpret_cast<uv_handle_t*>(call.timer),
             [](uv_handle_t* handle) { delete reinterpret_cast<uv_timer_t*>(handle); });
    call.timer = nullptr;
  }
  call.store.reset();
}

std::vector<S3Store::Reply> S3Store::drop_calls() {
  std::vector<Reply> replies;
  for (auto& [id, call] : calls_) {
    stop_timer(*call);
    replies.push_back(std::move(call->reply));
  }
  calls_.clear();
  return replies;
}

void S3Store::cancel_request(RequestId id) {
  auto it = calls_.find(id);
  if (it == calls_.end()) return;
  auto call = it->second;
  calls_.erase(it);
  if (call->http != 0 && client_) client_->cancel(call->http);
  call->http = 0;
  stop_timer(*call);
}

}  // namespace tetherd::stores::s3

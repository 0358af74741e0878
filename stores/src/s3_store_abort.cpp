// The S3 store's aborts of multipart uploads, sent again until the server has them.

#include <algorithm>
#include <chrono>
#include <utility>

#include "s3_store_impl.hpp"

namespace tetherd::stores::s3 {

namespace {

constexpr std::chrono::milliseconds kFirstPause{1000};
constexpr std::chrono::milliseconds kLongestPause{std::chrono::minutes(5)};

/// Whether the server has the abort: done, or the upload is gone already (completed,
/// or aborted by someone else). A refusal (403) is final too: sending it again would not
/// change the answer, and the sweep at a later open tries with what it then knows.
bool abort_settled(const HttpResponse& response) {
  if (response.transport_code != 0) return false;
  return response.status < 500;
}

}  // namespace

void S3Store::abort_upload(std::string object, std::string upload_id, std::function<void()> done) {
  auto store = self();
  send("DELETE", object, {{"uploadId", upload_id}}, {}, {},
       [store, object, upload_id, done = std::move(done)](HttpResponse response) {
         if (!abort_settled(response) && !store->closed_) {
           store->pending_aborts_.emplace_back(object, upload_id);
           store->schedule_aborts();
         }
         done();
       });
}

void S3Store::schedule_aborts() {
  if (abort_timer_ || pending_aborts_.empty() || closed_) return;
  abort_pause_ =
      abort_pause_.count() == 0 ? kFirstPause : std::min(abort_pause_ * 2, kLongestPause);
  std::weak_ptr<S3Store> weak = self();
  abort_timer_ = executor().start_timer(abort_pause_, [weak] {
    auto store = weak.lock();
    if (!store) return;
    store->abort_timer_.reset();
    store->send_pending_aborts();
  });
}

void S3Store::send_pending_aborts() {
  if (closed_) return;
  auto pending = std::exchange(pending_aborts_, {});
  auto left = std::make_shared<std::size_t>(pending.size());
  auto store = self();
  for (auto& abort : pending) {
    std::string object = std::move(abort.first);
    std::string upload_id = std::move(abort.second);
    send("DELETE", object, {{"uploadId", upload_id}}, {}, {},
         [store, left, object, upload_id](HttpResponse response) {
           if (!abort_settled(response) && !store->closed_) {
             store->pending_aborts_.emplace_back(object, upload_id);
           }
           if (--*left > 0) return;
           // A round that got everything through starts the next failure from 1 s again.
           if (store->pending_aborts_.empty()) store->abort_pause_ = {};
           store->schedule_aborts();
         });
  }
}

}  // namespace tetherd::stores::s3

// The sweep of stale multipart uploads (the rule: sweep_s3_uploads in s3_store.hpp).

#include <memory>

#include "s3_store_impl.hpp"

namespace tetherd::stores::s3 {

namespace {

/// One sweep: pages through ListMultipartUploads, then aborts what is stale.
struct Sweep : std::enable_shared_from_this<Sweep> {
  std::shared_ptr<S3Store> store;
  std::string prefix;
  std::chrono::system_clock::time_point cutoff;
  std::vector<UploadInProgress> stale;
  Callback<std::size_t> done;

  void list(const std::string& key_marker, const std::string& upload_id_marker) {
    Pairs query{{"uploads", ""}, {"prefix", prefix}};
    if (!key_marker.empty()) query.emplace_back("key-marker", key_marker);
    if (!upload_id_marker.empty()) query.emplace_back("upload-id-marker", upload_id_marker);
    auto self = shared_from_this();
    store->send("GET", "", query, {}, {}, [self](HttpResponse response) {
      if (!ok_status(response)) return self->done(map_failure(response, "ListMultipartUploads"));
      auto page = parse_uploads_page(response.body);
      if (!page) return self->done(error_of(Errc::Protocol, "ListMultipartUploads: unreadable"));
      for (auto& upload : page->uploads) {
        // The server filters by prefix; checked again, as aborting is not undone.
        if (upload.key.compare(0, self->prefix.size(), self->prefix) != 0) continue;
        if (upload.initiated && *upload.initiated < self->cutoff)
          self->stale.push_back(std::move(upload));
      }
      if (page->truncated) return self->list(page->next_key_marker, page->next_upload_id_marker);
      self->abort_all();
    });
  }

  void abort_all() {
    auto self = shared_from_this();
    auto count = stale.size();
    S3Store::for_all<UploadInProgress>(
        std::move(stale),
        [self](const UploadInProgress& upload, std::function<void(Result<void>)> next) {
          self->store->send("DELETE", upload.key, {{"uploadId", upload.upload_id}}, {}, {},
                            [next](HttpResponse response) {
                              // Gone already (completed or aborted by someone else): fine.
                              if (ok_status(response) || response.status == 404)
                                return next(core::success());
                              next(map_failure(response, "AbortMultipartUpload"));
                            });
        },
        [self, count](Result<void> aborted) {
          if (!aborted) return self->done(aborted.error());
          self->done(count);
        });
  }
};

}  // namespace

void S3Store::sweep_stale_uploads(Callback<std::size_t> done) {
  auto sweep = std::make_shared<Sweep>();
  sweep->store = self();
  sweep->prefix = dir_prefix(StoreKey::root());
  sweep->cutoff = opened_ - options_.stale_upload_age;
  sweep->done = std::move(done);
  sweep->list({}, {});
}

}  // namespace tetherd::stores::s3

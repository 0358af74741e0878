// The S3 store's copy of an object too large for CopyObject (S3 refuses sources over
// 5 GiB): a multipart upload at the destination whose parts are UploadPartCopy ranges of
// the source, completed with their ETags (the contract: S3Store::copy_parts).

#include <algorithm>
#include <map>
#include <memory>

#include "s3_store_impl.hpp"

namespace tetherd::stores::s3 {

namespace {

/// One multipart copy. States: creating the upload, copying parts (up to max_concurrency
/// at once), completing; or, once `error` is set, winding down: no part starts, and the
/// upload is aborted when nothing it started is in flight any more.
struct PartCopy : std::enable_shared_from_this<PartCopy> {
  S3StorePtr store;
  std::string from;  ///< full object keys
  std::string to;
  ObjectHead source;
  OperationRef op;  ///< null: not cancellable
  std::function<void(Result<void>)> done;

  std::uint64_t part_size = 0;
  std::size_t parts = 0;
  std::string upload_id;
  std::vector<std::string> etags;  ///< by part index, once copied
  std::size_t next_part = 0;
  std::size_t copied = 0;
  std::map<std::size_t, S3Store::RequestId> in_flight;  ///< part copies, by part index
  bool creating = false;   ///< CreateMultipartUpload is out: it runs to its answer
  bool committed = false;  ///< CompleteMultipartUpload is out: a cancel no longer stops us
  bool finished = false;
  std::optional<StoreError> error;

  std::shared_ptr<PartCopy> self() { return shared_from_this(); }

  void start() {
    auto chosen = part_size_for(source.size, store->options().copy_part_size);
    if (!chosen) {
      finished = true;
      return done(chosen.error());
    }
    part_size = *chosen;
    parts = static_cast<std::size_t>((source.size + part_size - 1) / part_size);
    etags.resize(parts);
    auto job = self();
    if (op) op->set_cancel_hook([job] { job->on_cancel(); });
    if (finished) return;  // cancelled before it began
    creating = true;
    // The metadata CopyObject would have kept (mtime, mode, content type) goes on the upload.
    store->send("POST", to, {{"uploads", ""}}, source.carried, {}, [job](HttpResponse response) {
      job->creating = false;
      std::optional<std::string> id;
      if (ok_status(response)) id = s3::parse_upload_id(response.body);
      if (id) job->upload_id = *id;
      if (!ok_status(response))
        return job->stop(s3::map_failure(response, "CreateMultipartUpload"));
      if (!id) return job->stop(error_of(Errc::Protocol, "CreateMultipartUpload: no UploadId"));
      if (job->error) return job->settle();  // cancelled meanwhile: abort
      job->launch();
    });
  }

  void on_cancel() {
    if (committed || finished) return;
    stop(error_of(Errc::Cancelled, {}), true);
  }

  /// Starts parts until max_concurrency are in flight or none is left.
  void launch() {
    const auto width = static_cast<std::size_t>(std::max(1L, store->options().max_concurrency));
    while (!error && in_flight.size() < width && next_part < parts)
      copy_part(next_part++);
  }

  void copy_part(std::size_t index) {
    const std::uint64_t first = index * part_size;
    const std::uint64_t last = std::min(source.size, first + part_size) - 1;
    Pairs headers{
        {"x-amz-copy-source", store->copy_source(from)},
        {"x-amz-copy-source-range", "bytes=" + std::to_string(first) + "-" + std::to_string(last)}};
    // Every part from the version we looked at: a source rewritten meanwhile fails the
    // copy (412) rather than splice two versions.
    if (!source.etag.empty()) headers.emplace_back("x-amz-copy-source-if-match", source.etag);
    auto job = self();
    in_flight[index] = store->send(
        "PUT", to, {{"partNumber", std::to_string(index + 1)}, {"uploadId", upload_id}},
        std::move(headers), {}, [job, index](HttpResponse response) {
          job->in_flight.erase(index);
          auto failed = [&]() -> std::optional<StoreError> {
            if (response.status == 412)
              return error_of(Errc::PreconditionFailed, "the source changed while it was copied");
            // Like CopyObject, it may fail after its 200 header went out: the error is the body.
            if (ok_status(response) && s3::parse_error(response.body)) response.status = 500;
            if (!ok_status(response)) return s3::map_failure(response, "UploadPartCopy");
            auto etag = s3::parse_copy_part_etag(response.body);
            if (!etag) return error_of(Errc::Protocol, "UploadPartCopy: no ETag");
            job->etags[index] = std::move(*etag);
            return std::nullopt;
          }();
          if (failed) {
            if (failed->code == Errc::PreconditionFailed) failed->retryable = true;
            return job->stop(std::move(*failed));
          }
          if (job->error) return job->settle();
          if (++job->copied == job->parts) return job->check_source();
          job->launch();
        });
  }

  /// The parts are pinned to the source's ETag, but radosgw 16 ignores
  /// x-amz-copy-source-if-match on UploadPartCopy (AWS honours it): so the source is looked
  /// at once more before completing. Changed since the copy began, the parts may come from
  /// two versions: the copy fails (PreconditionFailed, retryable) rather than splice them.
  void check_source() {
    if (source.etag.empty()) return complete();
    auto job = self();
    store->head(from, [job](Result<std::optional<ObjectHead>> now) {
      if (job->error) return job->settle();  // cancelled meanwhile
      if (!now) return job->stop(now.error());
      if (!*now || (*now)->etag != job->source.etag) {
        auto changed = error_of(Errc::PreconditionFailed, "the source changed while it was copied");
        changed.retryable = true;
        return job->stop(std::move(changed));
      }
      job->complete();
    });
  }

  void complete() {
    committed = true;
    auto job = self();
    store->send("POST", to, {{"uploadId", upload_id}}, {}, s3::complete_multipart_body(etags),
                [job](HttpResponse response) {
                  auto body_error = s3::parse_error(response.body);
                  if (ok_status(response) && !body_error) {
                    job->finished = true;
                    return job->done(core::success());
                  }
                  if (ok_status(response)) response.status = 500;
                  job->stop(s3::map_failure(response, "CompleteMultipartUpload"));
                });
  }

  /// Winds the copy down with `failure` (the first one counts). `drop`: the parts in flight
  /// are dropped (a cancel: prompt); otherwise their answers are awaited, so that no part
  /// lands after the abort.
  void stop(StoreError failure, bool drop = false) {
    if (!error) error = std::move(failure);
    if (drop) {
      for (const auto& [index, request] : in_flight)
        store->cancel_request(request);
      in_flight.clear();
    }
    settle();
  }

  /// Once nothing is in flight: aborts the upload (no parts stay stored and billed), then
  /// reports the error. A failed abort is not reported over it: the sweep of stale uploads
  /// (sweep_s3_uploads) catches what it left.
  void settle() {
    if (finished || creating || !in_flight.empty()) return;
    finished = true;
    if (upload_id.empty()) return done(*error);
    auto job = self();
    store->send("DELETE", to, {{"uploadId", upload_id}}, {}, {},
                [job](HttpResponse) { job->done(*job->error); });
  }
};

}  // namespace

void S3Store::copy_parts(const std::string& from, const std::string& to, const ObjectHead& source,
                         const OperationRef& op, std::function<void(Result<void>)> done) {
  auto job = std::make_shared<PartCopy>();
  job->store = self();
  job->from = from;
  job->to = to;
  job->source = source;
  job->op = op;
  job->done = std::move(done);
  job->start();
}

}  // namespace tetherd::stores::s3

// The S3 store's writes: one PUT up to the multipart threshold, a multipart upload above it.

#include <chrono>
#include <memory>

#include "s3_store_impl.hpp"

namespace tetherd::stores::s3 {

namespace {

/// One write: buffers the source; a single PUT up to the multipart threshold, a multipart
/// upload above it (parts uploaded as they fill, aborted on failure or cancel).
struct WriteJob : std::enable_shared_from_this<WriteJob> {
  S3StorePtr store;
  StoreKey key;
  std::string object;
  core::ByteSourcePtr source;
  core::WriteOptions options;
  OperationRef op;
  Callback<EntryInfo> done;
  TimePoint mtime;

  std::string buffer;
  std::uint64_t total = 0;
  std::string upload_id;
  std::vector<std::string> etags;
  S3Store::RequestId request = 0;  ///< in flight, cancellable
  bool reading = false;
  bool initiating = false;
  bool committed = false;  ///< the final request is out: a cancel no longer stops us
  bool finished = false;

  std::shared_ptr<WriteJob> self() { return shared_from_this(); }

  void start() {
    auto job = self();
    op->set_cancel_hook([job] { job->on_cancel(); });
    store->check_file_target(key, [job](Result<void> ok) {
      job->request = 0;
      if (!ok) return job->fail(ok.error());
      job->pump();
    });
  }

  void on_cancel() {
    if (committed || finished) return;
    source->cancel();  // a pending read completes with Cancelled and fails the job
    // CreateMultipartUpload runs to its answer: dropped, it could leave an upload whose id
    // we never learn. Its callback goes on to upload_part, which sees the cancel and aborts.
    if (!reading && !initiating) fail(error_of(Errc::Cancelled, {}));
  }

  void pump() {
    if (finished) return;
    if (op->cancel_requested()) return fail(error_of(Errc::Cancelled, {}));
    reading = true;
    auto job = self();
    source->read(kSourceChunk, [job](Result<Bytes> chunk) {
      job->reading = false;
      if (job->finished) return;
      if (!chunk) return job->fail(chunk.error());
      if (chunk->empty()) return job->finish_data();
      job->buffer.append(reinterpret_cast<const char*>(chunk->data()), chunk->size());
      job->total += chunk->size();
      const auto& options = job->store->options();
      if (job->upload_id.empty() && job->buffer.size() > options.multipart_threshold)
        return job->initiate();
      if (!job->upload_id.empty() && job->buffer.size() >= options.part_size)
        return job->upload_part(false);
      job->pump();
    });
  }

  Pairs object_headers() const {
    Pairs headers = metadata_headers(mtime, options.mode);
    headers.emplace_back("Content-Type", "application/octet-stream");
    return headers;
  }

  void initiate() {
    auto job = self();
    initiating = true;
    store->send(
        "POST", object, {{"uploads", ""}}, object_headers(), {}, [job](HttpResponse response) {
          job->initiating = false;
          if (!ok_status(response))
            return job->fail(s3::map_failure(response, "CreateMultipartUpload"));
          auto id = s3::parse_upload_id(response.body);
          if (!id) return job->fail(error_of(Errc::Protocol, "CreateMultipartUpload: no UploadId"));
          job->upload_id = *id;
          job->upload_part(false);
        });
  }

  /// Uploads the next part (a full one, or with `last` whatever is left), then goes on.
  void upload_part(bool last) {
    if (op->cancel_requested()) return fail(error_of(Errc::Cancelled, {}));
    const std::size_t size =
        last ? buffer.size() : static_cast<std::size_t>(store->options().part_size);
    std::string part = buffer.substr(0, size);
    buffer.erase(0, size);
    const std::string number = std::to_string(etags.size() + 1);
    Pairs headers{{"Content-MD5", s3::md5_base64(part)}};
    auto job = self();
    request = store->send("PUT", object, {{"partNumber", number}, {"uploadId", upload_id}},
                          std::move(headers), std::move(part), [job, last](HttpResponse response) {
                            job->request = 0;
                            if (!ok_status(response))
                              return job->fail(s3::map_failure(response, "UploadPart"));
                            auto* etag = response.header("etag");
                            if (!etag)
                              return job->fail(error_of(Errc::Protocol, "UploadPart: no ETag"));
                            job->etags.push_back(*etag);
                            if (last) return job->complete();
                            if (job->buffer.size() >= job->store->options().part_size)
                              return job->upload_part(false);
                            job->pump();
                          });
  }

  void finish_data() {
    if (op->cancel_requested()) return fail(error_of(Errc::Cancelled, {}));
    if (!upload_id.empty()) {
      // A size that is a whole number of parts leaves nothing for a last part: no empty
      // part is sent (S3 may refuse one; it would be a useless request anyway).
      if (buffer.empty() && !etags.empty()) return complete();
      return upload_part(true);
    }
    committed = true;
    Pairs headers = object_headers();
    headers.emplace_back("Content-MD5", s3::md5_base64(buffer));
    if (!options.overwrite) headers.emplace_back("If-None-Match", "*");
    auto job = self();
    store->send("PUT", object, {}, std::move(headers), std::move(buffer),
                [job](HttpResponse response) {
                  if (ok_status(response)) {
                    job->remember_written(response);
                    return job->succeed();
                  }
                  if (response.status == 412 && !job->options.overwrite)
                    return job->fail(error_of(Errc::AlreadyExists, {}));
                  job->fail(s3::map_failure(response, "PUT"));
                });
  }

  void complete() {
    if (op->cancel_requested()) return fail(error_of(Errc::Cancelled, {}));
    auto job = self();
    auto send_complete = [job] {
      job->committed = true;
      Pairs headers;
      if (!job->options.overwrite) headers.emplace_back("If-None-Match", "*");
      job->store->send("POST", job->object, {{"uploadId", job->upload_id}}, std::move(headers),
                       s3::complete_multipart_body(job->etags), [job](HttpResponse response) {
                         auto body_error = s3::parse_error(response.body);
                         if (ok_status(response) && !body_error) {
                           job->upload_id.clear();
                           return job->succeed();
                         }
                         if (response.status == 412 && !job->options.overwrite)
                           return job->fail(error_of(Errc::AlreadyExists, {}));
                         if (ok_status(response)) response.status = 500;
                         job->fail(s3::map_failure(response, "CompleteMultipartUpload"));
                       });
    };
    if (options.overwrite) return send_complete();
    // radosgw 16 ignores If-None-Match on CompleteMultipartUpload (AWS honours it), so a
    // no-clobber multipart write also looks first; between that HEAD and the completion
    // another writer could still slip in (see s3_store.hpp).
    store->head(object, [job, send_complete](Result<std::optional<ObjectHead>> existing) {
      if (!existing) return job->fail(existing.error());
      if (*existing) return job->fail(error_of(Errc::AlreadyExists, {}));
      if (job->op->cancel_requested()) return job->fail(error_of(Errc::Cancelled, {}));
      send_complete();
    });
  }

  /// Records the metadata the PUT stored, under the ETag it answered with, so that the
  /// next listing reports it without a HEAD.
  void remember_written(const HttpResponse& response) {
    const auto* etag = response.header("etag");
    if (!etag) return;
    S3MetadataCache::Version version;
    version.etag = *etag;
    version.size = total;
    version.mtime_ns = mtime.time_since_epoch().count();
    version.mode = options.mode;
    store->metadata().remember(object, std::move(version));
  }

  void succeed() {
    if (finished) return;
    finished = true;
    EntryInfo info;
    info.key = key;
    info.type = EntryType::File;
    info.size = total;
    info.mtime = mtime;
    info.mode = options.mode;
    done(std::move(info));
  }

  void fail(StoreError error) {
    if (finished) return;
    finished = true;
    if (request != 0) store->cancel_request(request);
    request = 0;
    if (upload_id.empty()) return done(std::move(error));
    // Abort the upload so no parts stay stored (and billed); then report.
    auto job = self();
    store->abort_upload(object, upload_id,
                        [job, error = std::move(error)]() mutable { job->done(std::move(error)); });
  }
};

}  // namespace

void S3Store::do_write(const StoreKey& key, core::ByteSourcePtr source, core::WriteOptions options,
                       const OperationRef& op, Callback<EntryInfo> done) {
  auto job = std::make_shared<WriteJob>();
  job->store = self();
  job->key = key;
  job->object = object_key(key);
  job->source = std::move(source);
  job->options = options;
  job->op = op;
  job->done = std::move(done);
  job->mtime =
      options.mtime.value_or(TimePoint(std::chrono::system_clock::now().time_since_epoch()));
  job->start();
}

}  // namespace tetherd::stores::s3

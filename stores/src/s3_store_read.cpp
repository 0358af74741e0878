// The S3 store's reads (ranged GETs pinned to one object version).

#include <algorithm>
#include <charconv>
#include <limits>
#include <memory>

#include "s3_store_impl.hpp"

namespace tetherd::stores::s3 {

namespace {

/// Streams a byte range of one object version in kReadChunk-sized ranged GETs, each pinned
/// with If-Match to the ETag of the first.
class S3ByteSource final : public core::ByteSource {
 public:
  S3ByteSource(S3StorePtr store, std::string key, std::string etag, std::string first,
               std::uint64_t next, std::uint64_t end)
      : store_(std::move(store)),
        key_(std::move(key)),
        etag_(std::move(etag)),
        buffer_(std::move(first)),
        next_(next),
        end_(end),
        total_((end - next) + buffer_.size()) {}

  void read(std::size_t max_bytes, Callback<Bytes> done) override {
    auto& executor = store_->executor();
    if (cancelled_) return executor.post([done] { done(error_of(Errc::Cancelled, {})); });
    if (error_) return executor.post([done, error = *error_] { done(error); });
    if (position_ < buffer_.size()) {
      const std::size_t count = std::min(max_bytes, buffer_.size() - position_);
      auto chunk = core::to_bytes(std::string_view(buffer_).substr(position_, count));
      position_ += count;
      return executor.post([done, chunk = std::move(chunk)] { done(chunk); });
    }
    if (next_ >= end_) return executor.post([done] { done(Bytes{}); });
    fetch(max_bytes, std::move(done));
  }

  void cancel() override {
    cancelled_ = true;
    if (pending_) {
      store_->cancel_request(request_);
      auto done = std::move(pending_);
      pending_ = nullptr;
      store_->executor().post([done] { done(error_of(Errc::Cancelled, {})); });
    }
  }

  std::optional<std::uint64_t> size() const override { return total_; }

 private:
  void fetch(std::size_t max_bytes, Callback<Bytes> done) {
    const std::uint64_t last = std::min(end_, next_ + kReadChunk) - 1;
    Pairs headers{{"Range", "bytes=" + std::to_string(next_) + "-" + std::to_string(last)}};
    if (!etag_.empty()) headers.emplace_back("If-Match", etag_);
    pending_ = std::move(done);
    auto self = std::static_pointer_cast<S3ByteSource>(shared_from_this());
    request_ = store_->send(
        "GET", key_, {}, std::move(headers), {}, [self, max_bytes](HttpResponse response) {
          auto done = std::move(self->pending_);
          self->pending_ = nullptr;
          if (!done) return;
          if (response.status == 206 && !response.body.empty()) {
            self->next_ += response.body.size();
            self->buffer_ = std::move(response.body);
            self->position_ = 0;
            return self->read(max_bytes, std::move(done));
          }
          StoreError error =
              response.status == 412
                  ? error_of(Errc::PreconditionFailed, "the object changed while it was read")
                  : s3::map_failure(response, "GET");
          if (response.status == 412) error.retryable = true;
          if (response.status == 206 || response.status == 200)
            error = error_of(Errc::Protocol, "GET: unexpected range answer");
          self->error_ = error;
          done(error);
        });
  }

  S3StorePtr store_;
  std::string key_;
  std::string etag_;
  std::string buffer_;
  std::size_t position_ = 0;
  std::uint64_t next_;   ///< offset of the next byte to fetch
  std::uint64_t end_;    ///< offset past the last byte to deliver
  std::uint64_t total_;  ///< bytes the source delivers in all
  bool cancelled_ = false;
  std::optional<StoreError> error_;
  Callback<Bytes> pending_;
  S3Store::RequestId request_ = 0;
};

}  // namespace

void S3Store::do_read(const StoreKey& key, core::ReadRange range, const OperationRef&,
                      Callback<core::ByteSourcePtr> done) {
  auto store = self();
  const std::string object = object_key(key);
  auto not_found = [store, key, done] {
    store->probe(key, [done](Result<Probe> found) {
      if (!found) return done(found.error());
      if (found->kind == Probe::Kind::Directory)
        return done(error_of(Errc::IsDirectory, "read takes files"));
      done(error_of(Errc::NotFound, {}));
    });
  };
  auto empty = [store, object] {
    return std::make_shared<S3ByteSource>(store, object, std::string(), std::string(), 0, 0);
  };
  if (range.length && *range.length == 0) {
    return head(object, [not_found, empty, done](Result<std::optional<ObjectHead>> file) {
      if (!file) return done(file.error());
      if (!*file) return not_found();
      done(core::ByteSourcePtr(empty()));
    });
  }
  const std::uint64_t want_end =
      range.length ? range.offset + *range.length : std::numeric_limits<std::uint64_t>::max();
  const std::uint64_t first_end = std::min(want_end, range.offset + kReadChunk);
  Pairs headers{
      {"Range", "bytes=" + std::to_string(range.offset) + "-" + std::to_string(first_end - 1)}};
  send("GET", object, {}, std::move(headers), {},
       [store, object, range, want_end, not_found, empty, done](HttpResponse response) {
         if (response.status == 404) return not_found();
         if (response.status == 416) return done(core::ByteSourcePtr(empty()));
         if (!ok_status(response)) return done(s3::map_failure(response, "GET"));
         std::string etag = response.header("etag") ? *response.header("etag") : std::string();
         std::uint64_t total = 0;
         std::string body = std::move(response.body);
         if (response.status == 206) {
           // Content-Range: bytes FIRST-LAST/TOTAL
           const std::string* content_range = response.header("content-range");
           auto slash = content_range ? content_range->rfind('/') : std::string::npos;
           if (slash == std::string::npos)
             return done(error_of(Errc::Protocol, "GET: 206 without Content-Range"));
           std::from_chars(content_range->data() + slash + 1,
                           content_range->data() + content_range->size(), total);
         } else {  // the whole object (servers answer an empty object so)
           total = body.size();
           body = range.offset < body.size() ? body.substr(range.offset) : std::string();
         }
         const std::uint64_t end = std::min(want_end, total);
         const std::uint64_t next = std::min(end, range.offset + body.size());
         if (body.size() > end - std::min(end, range.offset))
           body.resize(end - std::min(end, range.offset));
         done(core::ByteSourcePtr(std::make_shared<S3ByteSource>(store, object, std::move(etag),
                                                                 std::move(body), next, end)));
       });
}

}  // namespace tetherd::stores::s3

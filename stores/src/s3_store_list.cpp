// The S3 store's listings: a stream that fetches ListObjectsV2 pages as the consumer asks
// for entries, and puts them in StoreKey order with a bounded reorder buffer (ListOrder,
// s3_list_order.hpp). Recursive listings are flat (no delimiter, one request per page of
// keys); the others are delimited by '/'.

#include <algorithm>
#include <memory>

#include "s3_list_order.hpp"
#include "s3_store_impl.hpp"

namespace tetherd::stores::s3 {

namespace {

/// Pages a listing holds in memory (ready and held entries) before it stops fetching and
/// hands out or probes instead; see ListOrder.
constexpr std::size_t kHeldPages = 4;

class S3EntryStream final : public core::EntryStream {
 public:
  using Batch = std::vector<EntryInfo>;

  S3EntryStream(S3StorePtr store, StoreKey dir, std::string prefix, core::ListOptions options)
      : store_(std::move(store)),
        dir_(std::move(dir)),
        prefix_(std::move(prefix)),
        recursive_(options.recursive),
        batch_(std::max<std::size_t>(1, options.batch_size)),
        page_size_(store_->options().list_page_size),
        order_(options.recursive, kHeldPages * static_cast<std::size_t>(page_size_)) {}

  void next(Callback<Batch> done) override {
    if (cancelled_) return post(std::move(done), error_of(Errc::Cancelled, {}));
    if (error_) return post(std::move(done), *error_);
    pending_ = std::move(done);
    step();
  }

  /// Drops the request in flight, if any; a pending next() completes with Cancelled.
  void cancel() override {
    if (cancelled_) return;
    cancelled_ = true;
    if (request_ != 0) store_->cancel_request(request_);
    request_ = 0;
    if (pending_) post(std::exchange(pending_, nullptr), error_of(Errc::Cancelled, {}));
  }

 private:
  std::shared_ptr<S3EntryStream> self() {
    return std::static_pointer_cast<S3EntryStream>(shared_from_this());
  }

  /// Answers a next() on a later turn; a cancel before then turns the answer into Cancelled.
  void post(Callback<Batch> done, Result<Batch> result) {
    store_->executor().post(
        [stream = self(), done = std::move(done), result = std::move(result)]() mutable {
          if (stream->cancelled_) result = error_of(Errc::Cancelled, {});
          done(std::move(result));
        });
  }

  /// Does what the reorder buffer says until the pending next() is answered.
  void step() {
    if (!pending_ || cancelled_ || request_ != 0) return;
    const auto next = order_.next_step(batch_);
    switch (next.kind) {
      case ListOrder::Step::Kind::Deliver: {
        auto entries = order_.take(batch_);
        for (auto& entry : entries)
          entry.key = dir_.join(entry.key);  // keys are relative to the store root
        return post(std::exchange(pending_, nullptr), std::move(entries));
      }
      case ListOrder::Step::Kind::Probe:
        return probe(next.probe);
      case ListOrder::Step::Kind::Fetch:
        return fetch();
    }
  }

  void fetch() {
    auto stream = self();
    request_ = store_->list_page(prefix_, !recursive_, page_size_, token_,
                                 [stream](Result<s3::ListPage> page) {
                                   stream->request_ = 0;
                                   if (stream->cancelled_) return;
                                   if (!page) return stream->fail(page.error());
                                   stream->take_page(std::move(*page));
                                   stream->step();
                                 });
  }

  void take_page(s3::ListPage page) {
    // The page's last key in S3's order: its last object or its last common prefix, which
    // stands for every key below it.
    std::string_view position;
    bool rolled = false;
    auto& metadata = store_->metadata();
    for (const auto& object : page.objects) {
      if (recursive_) store_->known_keys().exists(object.key);
      const std::string_view relative = std::string_view(object.key).substr(prefix_.size());
      std::optional<TimePoint> mtime;
      std::optional<std::uint32_t> mode;
      if (const auto* known =
              metadata.match(object.key, object.etag, object.size, object.modified_s)) {
        if (known->mtime_ns) mtime = TimePoint(std::chrono::nanoseconds(*known->mtime_ns));
        mode = known->mode;
      }
      order_.add_object(relative, object.size, mtime, mode);
      position = relative;
    }
    for (const auto& common : page.common_prefixes) {
      const std::string_view relative = std::string_view(common).substr(prefix_.size());
      order_.add_common_prefix(relative);
      if (relative > position) position = relative, rolled = true;
    }
    if (!page.truncated) {
      // Every key below the prefix has now been seen (or recorded as it was created).
      if (recursive_) store_->known_keys().complete(prefix_);
      return order_.end();
    }
    token_ = std::move(page.continuation);
    if (!position.empty()) order_.advance(position, rolled);
  }

  /// Whether any key lies below `dir` + "/" (relative to the listing).
  void probe(const std::string& dir) {
    auto stream = self();
    request_ = store_->list_page(prefix_ + dir + "/", false, 1, {},
                                 [stream, dir](Result<s3::ListPage> page) {
                                   stream->request_ = 0;
                                   if (stream->cancelled_) return;
                                   if (!page) return stream->fail(page.error());
                                   stream->order_.resolve(dir, !page->objects.empty());
                                   stream->step();
                                 });
  }

  /// A failed request ends the stream: this next() and the later ones fail with it.
  void fail(StoreError error) {
    error_ = error;
    if (pending_) post(std::exchange(pending_, nullptr), std::move(error));
  }

  S3StorePtr store_;
  StoreKey dir_;
  std::string prefix_;  ///< of the listed directory's keys
  bool recursive_;
  std::size_t batch_;
  int page_size_;
  ListOrder order_;
  std::string token_;  ///< continuation of the next page
  Callback<Batch> pending_;
  S3Store::RequestId request_ = 0;  ///< the page or probe in flight
  bool cancelled_ = false;
  std::optional<StoreError> error_;
};

}  // namespace

void S3Store::do_list(const StoreKey& dir, core::ListOptions options, const OperationRef&,
                      Callback<core::EntryStreamPtr> done) {
  auto store = self();
  probe(dir, [store, dir, options, done](Result<Probe> found) {
    if (!found) return done(found.error());
    if (found->kind == Probe::Kind::Missing) return done(error_of(Errc::NotFound, {}));
    if (found->kind == Probe::Kind::File)
      return done(error_of(Errc::NotADirectory, "list takes directories"));
    // No page yet: the first next() fetches the first.
    done(core::EntryStreamPtr(
        std::make_shared<S3EntryStream>(store, dir, store->dir_prefix(dir), options)));
  });
}

}  // namespace tetherd::stores::s3

// The request helpers every S3 store operation is built from: sending a signed request,
// HEAD, listings, what a key is (probe) and the checks before a write, copy and delete of
// one object.

#include <algorithm>
#include <charconv>
#include <ctime>
#include <memory>

#include "s3_store_impl.hpp"

namespace tetherd::stores::s3 {

namespace {

/// "Mon, 07 Dec 2026 11:00:00 GMT" (HEAD's Last-Modified).
std::optional<TimePoint> parse_http_date(const std::string& text) {
  std::tm tm{};
  const char* end = strptime(text.c_str(), "%a, %d %b %Y %H:%M:%S GMT", &tm);
  if (!end) return std::nullopt;
  return TimePoint(std::chrono::seconds(timegm(&tm)));
}

std::string mtime_value(TimePoint when) {
  return std::to_string(when.time_since_epoch().count());
}

std::string mode_value(std::uint32_t mode) {
  char buffer[16];
  auto result = std::to_chars(buffer, buffer + sizeof buffer, mode & 07777u, 8);
  return std::string(buffer, result.ptr);
}

}  // namespace

ObjectHead head_of(const HttpResponse& response) {
  ObjectHead head;
  if (auto* length = response.header("content-length"))
    std::from_chars(length->data(), length->data() + length->size(), head.size);
  if (auto* etag = response.header("etag")) head.etag = *etag;
  if (auto* mtime = response.header("x-amz-meta-mtime")) {
    std::int64_t ns = 0;
    auto parsed = std::from_chars(mtime->data(), mtime->data() + mtime->size(), ns);
    if (parsed.ec == std::errc() && parsed.ptr == mtime->data() + mtime->size())
      head.mtime = TimePoint(std::chrono::nanoseconds(ns));
  }
  if (auto* modified = response.header("last-modified")) {
    if (auto when = parse_http_date(*modified)) {
      head.modified_s =
          std::chrono::duration_cast<std::chrono::seconds>(when->time_since_epoch()).count();
      if (!head.mtime) head.mtime = when;
    }
  }
  if (auto* mode = response.header("x-amz-meta-mode")) {
    std::uint32_t value = 0;
    auto parsed = std::from_chars(mode->data(), mode->data() + mode->size(), value, 8);
    if (parsed.ec == std::errc() && value <= 07777u) head.mode = value;
  }
  // What CopyObject's COPY directive keeps: user metadata and the content headers.
  static constexpr std::string_view kContentHeaders[] = {"cache-control",    "content-disposition",
                                                         "content-encoding", "content-language",
                                                         "content-type",     "expires"};
  for (const auto& [name, value] : response.headers) {
    const bool content = std::find(std::begin(kContentHeaders), std::end(kContentHeaders), name) !=
                         std::end(kContentHeaders);
    if (content || name.starts_with("x-amz-meta-")) head.carried.emplace_back(name, value);
  }
  return head;
}

Pairs metadata_headers(const std::optional<TimePoint>& mtime,
                       const std::optional<std::uint32_t>& mode) {
  Pairs headers;
  if (mtime) headers.emplace_back("x-amz-meta-mtime", mtime_value(*mtime));
  if (mode) headers.emplace_back("x-amz-meta-mode", mode_value(*mode));
  return headers;
}

void S3Store::head(const std::string& key,
                   std::function<void(Result<std::optional<ObjectHead>>)> done) {
  auto store = self();
  send("HEAD", key, {}, {}, {}, [store, key, done](HttpResponse response) {
    if (ok_status(response)) {
      auto found = head_of(response);
      if (!key.ends_with('/')) {  // markers are not listed as files: nothing to record
        S3MetadataCache::Version version{found.etag, found.size, found.modified_s, std::nullopt,
                                         found.mode};
        if (found.mtime) version.mtime_ns = found.mtime->time_since_epoch().count();
        store->metadata().remember(key, std::move(version));
      }
      return done(std::optional<ObjectHead>(std::move(found)));
    }
    if (response.status == 404) return done(std::optional<ObjectHead>());
    done(s3::map_failure(response, "HEAD"));
  });
}

S3Store::RequestId S3Store::list_page(const std::string& prefix, bool delimited, int max_keys,
                                      const std::string& token,
                                      std::function<void(Result<s3::ListPage>)> done) {
  Pairs query{{"list-type", "2"},
              {"prefix", prefix},
              {"encoding-type", "url"},
              {"max-keys", std::to_string(max_keys)}};
  if (delimited) query.emplace_back("delimiter", "/");
  if (!token.empty()) query.emplace_back("continuation-token", token);
  return send("GET", "", query, {}, {}, [done](HttpResponse response) {
    if (!ok_status(response)) return done(s3::map_failure(response, "ListObjectsV2"));
    auto page = s3::parse_list_page(response.body);
    if (!page) return done(error_of(Errc::Protocol, "ListObjectsV2: unreadable answer"));
    done(std::move(*page));
  });
}

namespace {

/// One each_page walk: a page being stepped through while the next one is fetched.
struct PageWalk : std::enable_shared_from_this<PageWalk> {
  S3StorePtr store;
  std::string prefix;
  S3Store::PageStep step;
  std::function<void(Result<void>)> done;
  std::optional<s3::ListPage> fetched;  ///< the next page, waiting for the step
  bool fetching = false;
  bool stepping = false;
  bool last_stepped = false;  ///< the step has the listing's last page
  std::optional<StoreError> error;
  bool finished = false;

  void fetch(const std::string& token) {
    fetching = true;
    auto walk = shared_from_this();
    store->list_page(prefix, false, store->options().list_page_size, token,
                     [walk](Result<s3::ListPage> page) {
                       walk->fetching = false;
                       if (!page) {
                         if (!walk->error) walk->error = page.error();
                       } else {
                         walk->fetched = std::move(*page);
                       }
                       walk->advance();
                     });
  }

  /// Starts the step on the fetched page once the previous step is done; ends the walk
  /// after the last page, or after an error once nothing runs any more.
  void advance() {
    if (finished || stepping) return;
    if (error || last_stepped) {
      if (!fetching) finish();
      return;
    }
    if (!fetched) return;  // on its way
    auto page = std::move(*fetched);
    fetched.reset();
    last_stepped = !page.truncated;
    if (page.truncated) fetch(page.continuation);
    stepping = true;
    auto walk = shared_from_this();
    step(std::move(page.objects), [walk](Result<void> stepped) {
      walk->stepping = false;
      if (!stepped && !walk->error) walk->error = stepped.error();
      walk->advance();
    });
  }

  void finish() {
    finished = true;
    if (error) return done(*error);
    done(core::success());
  }
};

}  // namespace

void S3Store::each_page(std::string prefix, PageStep step, std::function<void(Result<void>)> done) {
  auto walk = std::make_shared<PageWalk>();
  walk->store = self();
  walk->prefix = std::move(prefix);
  walk->step = std::move(step);
  walk->done = std::move(done);
  walk->fetch({});
}

void S3Store::probe(const StoreKey& key, std::function<void(Result<Probe>)> done) {
  if (key.is_root()) return done(Probe{Probe::Kind::Directory, {}, false});
  if (known_keys_.certainly_missing(object_key(key))) return done(Probe{});
  auto store = self();
  head(object_key(key), [store, key, done](Result<std::optional<ObjectHead>> file) {
    if (!file) return done(file.error());
    if (*file) return done(Probe{Probe::Kind::File, **file, false});
    const std::string prefix = store->dir_prefix(key);
    store->list_page(prefix, false, 1, {}, [store, prefix, done](Result<s3::ListPage> page) {
      if (!page) return done(page.error());
      if (page->objects.empty()) return done(Probe{});
      if (page->objects.front().key != prefix)
        return done(Probe{Probe::Kind::Directory, {}, false});
      store->head(prefix, [done](Result<std::optional<ObjectHead>> marker) {
        if (!marker) return done(marker.error());
        if (!*marker) return done(Probe{Probe::Kind::Directory, {}, false});
        done(Probe{Probe::Kind::Directory, **marker, true});
      });
    });
  });
}

void S3Store::has_children(const StoreKey& key, std::function<void(Result<bool>)> done) {
  if (!key.is_root() && !known_keys_.may_have_children(object_key(key))) return done(false);
  const std::string prefix = dir_prefix(key);
  list_page(prefix, false, 2, {}, [prefix, done](Result<s3::ListPage> page) {
    if (!page) return done(page.error());
    for (const auto& object : page->objects)
      if (object.key != prefix) return done(true);
    done(false);
  });
}

void S3Store::check_ancestors(const StoreKey& key, std::function<void(Result<void>)> done) {
  std::vector<StoreKey> ancestors;
  for (auto parent = key.parent(); !parent.is_root(); parent = parent.parent()) {
    if (known_keys_.may_be_file(object_key(parent))) ancestors.push_back(parent);
  }
  if (ancestors.empty()) return done(core::success());
  struct Gather {
    std::size_t pending;
    std::optional<StoreError> error;
    std::function<void(Result<void>)> done;
  };
  auto gather = std::make_shared<Gather>(Gather{ancestors.size(), std::nullopt, done});
  for (const auto& ancestor : ancestors) {
    head(object_key(ancestor), [gather, ancestor](Result<std::optional<ObjectHead>> found) {
      if (!gather->error) {
        if (!found) {
          gather->error = found.error();
        } else if (*found) {
          gather->error =
              error_of(Errc::NotADirectory, "'" + core::printable(ancestor.str()) + "' is a file");
        }
      }
      if (--gather->pending > 0) return;
      if (gather->error) return gather->done(*gather->error);
      gather->done(core::success());
    });
  }
}

void S3Store::check_file_target(const StoreKey& key, std::function<void(Result<void>)> done) {
  auto store = self();
  has_children(key, [store, key, done](Result<bool> children) {
    if (!children) return done(children.error());
    if (*children) return done(error_of(Errc::IsDirectory, "a directory exists there"));
    store->check_ancestors(key, done);
  });
}

std::string S3Store::copy_source(const std::string& from) const {
  return "/" + endpoint_.bucket + "/" + s3::uri_encode(from, true);
}

void S3Store::copy_object(const std::string& from, const std::string& to, Pairs headers,
                          std::function<void(Result<void>)> done) {
  headers.emplace_back("x-amz-copy-source", copy_source(from));
  send("PUT", to, {}, std::move(headers), {}, [done](HttpResponse response) {
    // CopyObject may fail after its 200 header went out: the error is then the body.
    auto body_error = s3::parse_error(response.body);
    if (ok_status(response) && !body_error) return done(core::success());
    if (ok_status(response)) response.status = 500;
    done(s3::map_failure(response, "CopyObject"));
  });
}

void S3Store::copy_file(const std::string& from, const std::string& to, const ObjectHead& source,
                        const OperationRef& op, std::function<void(Result<void>)> done) {
  if (source.size > options_.copy_threshold) return copy_parts(from, to, source, op, done);
  copy_object(from, to, {}, std::move(done));
}

void S3Store::delete_object(const std::string& key, std::function<void(Result<void>)> done) {
  auto store = self();
  send("DELETE", key, {}, {}, {}, [store, key, done](HttpResponse response) {
    if (ok_status(response) || response.status == 404) {
      store->known_keys().deleted(key);
      return done(core::success());
    }
    done(s3::map_failure(response, "DELETE"));
  });
}

void S3Store::check_destination(const StoreKey& to, bool overwrite, bool directory,
                                std::function<void(Result<void>)> done) {
  auto store = self();
  probe(to, [store, to, overwrite, directory, done](Result<Probe> found) {
    if (!found) return done(found.error());
    if (found->kind == Probe::Kind::Directory && !directory)
      return done(error_of(Errc::IsDirectory, "the destination is a directory"));
    if (found->kind == Probe::Kind::File && directory)
      return done(error_of(Errc::NotADirectory, "the destination is a file"));
    if (found->kind != Probe::Kind::Missing && !overwrite)
      return done(error_of(Errc::AlreadyExists, {}));
    auto then = [store, to, done](Result<void> ok) {
      if (!ok) return done(ok.error());
      store->check_ancestors(to, done);
    };
    if (found->kind == Probe::Kind::Directory) {
      return store->has_children(to, [then](Result<bool> children) {
        if (!children) return then(children.error());
        if (*children) return then(error_of(Errc::DirectoryNotEmpty, {}));
        then(core::success());
      });
    }
    then(core::success());
  });
}
}  // namespace tetherd::stores::s3

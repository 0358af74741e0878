// The S3 store's deletes: remove (one object) and rmdir (a marker, or a whole tree).

#include <memory>

#include "s3_sigv4.hpp"
#include "s3_store_impl.hpp"

namespace tetherd::stores::s3 {

void S3Store::do_remove(const StoreKey& key, bool missing_ok, const OperationRef&,
                        Callback<void> done) {
  auto store = self();
  head(object_key(key), [store, key, missing_ok, done](Result<std::optional<ObjectHead>> file) {
    if (!file) return done(file.error());
    if (*file) return store->delete_object(store->object_key(key), done);
    store->has_children(key, [store, key, missing_ok, done](Result<bool> directory) {
      if (!directory) return done(directory.error());
      if (*directory) return done(error_of(Errc::IsDirectory, "rmdir removes directories"));
      // A marker alone is an (empty) directory too.
      store->head(store->dir_prefix(key),
                  [store, key, missing_ok, done](Result<std::optional<ObjectHead>> marker) {
                    if (!marker) return done(marker.error());
                    if (*marker)
                      return done(error_of(Errc::IsDirectory, "rmdir removes directories"));
                    store->check_ancestors(key, [missing_ok, done](Result<void> ancestors) {
                      if (!ancestors) return done(ancestors.error());
                      if (missing_ok) return done(core::success());
                      done(error_of(Errc::NotFound, {}));
                    });
                  });
    });
  });
}

void S3Store::do_rmdir(const StoreKey& key, bool recursive, const OperationRef&,
                       Callback<void> done) {
  auto store = self();
  probe(key, [store, key, recursive, done](Result<Probe> found) {
    if (!found) return done(found.error());
    if (found->kind == Probe::Kind::Missing) return done(error_of(Errc::NotFound, {}));
    if (found->kind == Probe::Kind::File)
      return done(error_of(Errc::NotADirectory, "remove deletes files"));
    if (!recursive) {
      return store->has_children(key, [store, key, done](Result<bool> children) {
        if (!children) return done(children.error());
        if (*children) return done(error_of(Errc::DirectoryNotEmpty, {}));
        store->delete_object(store->dir_prefix(key), done);
      });
    }
    // Page by page: each page's keys go in one DeleteObjects while the next page is listed
    // (pages continue after the last key listed, so the deletes do not disturb them).
    store->each_page(
        store->dir_prefix(key),
        [store](std::vector<s3::ListedObject> objects, std::function<void(Result<void>)> next) {
          std::vector<std::string> keys;
          keys.reserve(objects.size());
          for (auto& object : objects)
            keys.push_back(std::move(object.key));
          store->delete_objects(std::move(keys), std::move(next));
        },
        done);
  });
}

void S3Store::delete_objects(std::vector<std::string> keys,
                             std::function<void(Result<void>)> done) {
  /// S3's limit on the keys of one DeleteObjects request.
  constexpr std::size_t kBatch = 1000;
  std::vector<std::vector<std::string>> batches;  // a batch of one unsafe key: plain DELETE
  std::vector<std::string> batch;
  for (auto& key : keys) {
    if (!s3::xml_safe_key(key)) {
      batches.push_back({std::move(key)});
      continue;
    }
    batch.push_back(std::move(key));
    if (batch.size() == kBatch) batches.push_back(std::move(batch)), batch.clear();
  }
  if (!batch.empty()) batches.push_back(std::move(batch));
  auto store = self();
  for_all<std::vector<std::string>>(
      std::move(batches),
      [store](const std::vector<std::string>& batch, std::function<void(Result<void>)> next) {
        if (batch.size() == 1 && !s3::xml_safe_key(batch.front()))
          return store->delete_object(batch.front(), std::move(next));
        for (const auto& key : batch)
          store->metadata().forget(key);
        std::string body = s3::delete_objects_body(batch);
        // S3 (and radosgw) require an integrity header on DeleteObjects.
        Pairs headers{{"Content-MD5", s3::md5_base64(body)}, {"Content-Type", "application/xml"}};
        store->send("POST", "", {{"delete", ""}}, std::move(headers), std::move(body),
                    [store, batch, next](HttpResponse response) {
                      if (!ok_status(response))
                        return next(s3::map_failure(response, "DeleteObjects"));
                      auto failures = s3::parse_delete_result(response.body);
                      if (!failures)
                        return next(error_of(Errc::Protocol, "DeleteObjects: unreadable answer"));
                      for (const auto& failure : *failures) {
                        if (failure.code == "NoSuchKey") continue;  // gone already: deleted
                        // The per-key error mapped as if it were the answer to that key alone.
                        HttpResponse as_one;
                        as_one.status = failure.code == "AccessDenied" ? 403 : 500;
                        as_one.body = "<Error><Code>" + failure.code + "</Code></Error>";
                        auto error = s3::map_failure(
                            as_one, "DeleteObjects: '" + core::printable(failure.key) + "'");
                        if (!failure.message.empty()) error.detail += ": " + failure.message;
                        return next(std::move(error));
                      }
                      for (const auto& key : batch)
                        store->known_keys().deleted(key);
                      next(core::success());
                    });
      },
      std::move(done));
}

}  // namespace tetherd::stores::s3

// The S3 store's deletes: remove (one object) and rmdir (a marker, or a whole tree).

#include <memory>

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
    store->list_all(
        store->dir_prefix(key), [store, done](Result<std::vector<s3::ListedObject>> objects) {
          if (!objects) return done(objects.error());
          for_all<s3::ListedObject>(
              std::move(*objects),
              [store](const s3::ListedObject& object, std::function<void(Result<void>)> next) {
                store->delete_object(object.key, std::move(next));
              },
              done);
        });
  });
}
}  // namespace tetherd::stores::s3

// The S3 store's copy (CopyObject) and move (CopyObject, then DELETE of the source).

#include <memory>

#include "s3_store_impl.hpp"

namespace tetherd::stores::s3 {

void S3Store::do_copy(const StoreKey& from, const StoreKey& to, bool overwrite, const OperationRef&,
                      Callback<void> done) {
  auto store = self();
  probe(from, [store, from, to, overwrite, done](Result<Probe> source) {
    if (!source) return done(source.error());
    if (source->kind == Probe::Kind::Missing) return done(error_of(Errc::NotFound, {}));
    if (source->kind == Probe::Kind::Directory)
      return done(error_of(Errc::IsDirectory, "copy takes files; this is a directory"));
    if (from == to) return done(core::success());
    store->check_destination(to, overwrite, false, [store, from, to, done](Result<void> ok) {
      if (!ok) return done(ok.error());
      store->copy_object(store->object_key(from), store->object_key(to), {}, done);
    });
  });
}

void S3Store::do_move(const StoreKey& from, const StoreKey& to, bool overwrite,
                      const OperationRef& op, Callback<void> done) {
  auto store = self();
  probe(from, [store, from, to, overwrite, op, done](Result<Probe> source) {
    if (!source) return done(source.error());
    if (source->kind == Probe::Kind::Missing) return done(error_of(Errc::NotFound, {}));
    if (from == to) return done(core::success());
    const bool directory = source->kind == Probe::Kind::Directory;
    if (directory && to.is_within(from))
      return done(error_of(Errc::InvalidPath, "cannot move a directory into itself"));
    store->check_destination(
        to, overwrite, directory, [store, from, to, directory, op, done](Result<void> ok) {
          if (!ok) return done(ok.error());
          // Past this point the move runs to its end: each object is copied, then its source
          // deleted, so an interruption leaves it at one place or the other.
          if (op->cancel_requested()) return done(error_of(Errc::Cancelled, {}));
          if (!directory) {
            const auto source_key = store->object_key(from);
            return store->copy_object(source_key, store->object_key(to), {},
                                      [store, source_key, done](Result<void> copied) {
                                        if (!copied) return done(copied.error());
                                        store->delete_object(source_key, done);
                                      });
          }
          const std::string from_prefix = store->dir_prefix(from);
          const std::string to_prefix = store->dir_prefix(to);
          store->list_all(from_prefix, [store, from_prefix, to_prefix,
                                        done](Result<std::vector<s3::ListedObject>> objects) {
            if (!objects) return done(objects.error());
            for_all<s3::ListedObject>(
                std::move(*objects),
                [store, from_prefix, to_prefix](const s3::ListedObject& object,
                                                std::function<void(Result<void>)> next) {
                  const std::string target = to_prefix + object.key.substr(from_prefix.size());
                  const std::string source_key = object.key;
                  store->copy_object(source_key, target, {},
                                     [store, source_key, next](Result<void> copied) {
                                       if (!copied) return next(copied.error());
                                       store->delete_object(source_key, next);
                                     });
                },
                done);
          });
        });
  });
}

}  // namespace tetherd::stores::s3

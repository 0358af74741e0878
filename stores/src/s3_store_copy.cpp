// The S3 store's copy and move (a server-side copy, then DELETE of the source). A copy is a
// CopyObject, or above copy_threshold a multipart copy (s3_store_part_copy.cpp).

#include <memory>

#include "s3_store_impl.hpp"

namespace tetherd::stores::s3 {

void S3Store::do_copy(const StoreKey& from, const StoreKey& to, bool overwrite,
                      const OperationRef& op, Callback<void> done) {
  auto store = self();
  probe(from, [store, from, to, overwrite, op, done](Result<Probe> source) {
    if (!source) return done(source.error());
    if (source->kind == Probe::Kind::Missing) return done(error_of(Errc::NotFound, {}));
    if (source->kind == Probe::Kind::Directory)
      return done(error_of(Errc::IsDirectory, "copy takes files; this is a directory"));
    if (from == to) return done(core::success());
    store->check_destination(
        to, overwrite, false, [store, from, to, head = source->head, op, done](Result<void> ok) {
          if (!ok) return done(ok.error());
          store->copy_file(store->object_key(from), store->object_key(to), head, op, done);
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
        to, overwrite, directory,
        [store, from, to, directory, head = source->head, op, done](Result<void> ok) {
          if (!ok) return done(ok.error());
          if (op->cancel_requested()) return done(error_of(Errc::Cancelled, {}));
          if (!directory) {
            // The source goes only once the copy is complete. A multipart copy may still be
            // cancelled (then aborted: the file stays at the source); a CopyObject, once sent,
            // runs to its end and the move with it.
            const auto source_key = store->object_key(from);
            return store->copy_file(source_key, store->object_key(to), head, op,
                                    [store, source_key, done](Result<void> copied) {
                                      if (!copied) return done(copied.error());
                                      store->delete_object(source_key, done);
                                    });
          }
          // A directory, page by page: each object copied, then its source deleted, so an
          // interruption leaves it at one place or the other. Past this point the move runs
          // to its end (no cancel).
          const std::string from_prefix = store->dir_prefix(from);
          const std::string to_prefix = store->dir_prefix(to);
          store->each_page(
              from_prefix,
              [store, from_prefix, to_prefix](std::vector<s3::ListedObject> objects,
                                              std::function<void(Result<void>)> page_done) {
                for_all<s3::ListedObject>(
                    std::move(objects),
                    [store, from_prefix, to_prefix](const s3::ListedObject& object,
                                                    std::function<void(Result<void>)> next) {
                      store->move_object(object, to_prefix + object.key.substr(from_prefix.size()),
                                         std::move(next));
                    },
                    std::move(page_done));
              },
              done);
        });
  });
}

void S3Store::move_object(const s3::ListedObject& object, const std::string& to,
                          std::function<void(Result<void>)> done) {
  auto store = self();
  const std::string from = object.key;
  auto then_delete = [store, from, done](Result<void> copied) {
    if (!copied) return done(copied.error());
    store->delete_object(from, done);
  };
  if (object.size <= options_.copy_threshold) return copy_object(from, to, {}, then_delete);
  // A multipart copy needs the metadata to carry and the version to pin: a HEAD.
  head(from, [store, from, to, then_delete](Result<std::optional<ObjectHead>> found) {
    if (!found) return then_delete(found.error());
    if (!*found)
      return then_delete(error_of(Errc::NotFound, "'" + core::printable(from) + "' vanished"));
    store->copy_file(from, to, **found, nullptr, then_delete);
  });
}

}  // namespace tetherd::stores::s3

#include "tetherd/core/store.hpp"

#include <algorithm>
#include <array>
#include <exception>
#include <initializer_list>
#include <stdexcept>
#include <utility>

namespace tetherd::core {

Bytes to_bytes(std::string_view text) {
  Bytes bytes(text.size());
  for (std::size_t i = 0; i < text.size(); ++i)
    bytes[i] = static_cast<std::byte>(text[i]);
  return bytes;
}

std::string bytes_to_string(const Bytes& bytes) {
  std::string text(bytes.size(), '\0');
  for (std::size_t i = 0; i < bytes.size(); ++i)
    text[i] = static_cast<char>(bytes[i]);
  return text;
}

std::string_view to_string(EntryType type) noexcept {
  switch (type) {
    case EntryType::File:
      return "file";
    case EntryType::Directory:
      return "directory";
    case EntryType::Symlink:
      return "symlink";
    case EntryType::Other:
      return "other";
  }
  return "other";
}

// ---------------------------------------------------------------- OperationState

void OperationState::set_cancel_hook(std::function<void()> hook) {
  if (finished_) return;
  if (cancel_requested()) {
    if (hook) hook();
    return;
  }
  hook_ = std::move(hook);
}

void OperationState::request_cancel() {
  if (finished_ || cancel_requested()) return;
  cancelled_.store(true, std::memory_order_release);
  auto hook = std::move(hook_);
  hook_ = nullptr;
  if (hook) hook();
}

// ---------------------------------------------------------------- ByteSource

Result<void> ByteSource::check_region_copied(std::uint64_t copied) const {
  const auto region = file_region();
  if (region && copied == region->length) return success();
  return StoreError::make(Errc::PreconditionFailed,
                          "the data changed while it was copied (" + std::to_string(copied) +
                              " bytes copied of " + std::to_string(region ? region->length : 0) +
                              ")");
}

// ---------------------------------------------------------------- MemoryByteSource

MemoryByteSource::MemoryByteSource(Executor& executor, Bytes data)
    : executor_(executor), data_(std::move(data)) {}

std::shared_ptr<MemoryByteSource> MemoryByteSource::make(Executor& executor, Bytes data) {
  return std::make_shared<MemoryByteSource>(executor, std::move(data));
}

void MemoryByteSource::read(std::size_t max_bytes, Callback<Bytes> done) {
  auto self = std::static_pointer_cast<MemoryByteSource>(shared_from_this());
  executor_.post([self, max_bytes, done = std::move(done)] {
    if (self->cancelled_) {
      done(StoreError::make(Errc::Cancelled, "read cancelled"));
      return;
    }
    std::size_t count =
        std::min(max_bytes == 0 ? 1 : max_bytes, self->data_.size() - self->position_);
    auto begin = self->data_.begin() + static_cast<std::ptrdiff_t>(self->position_);
    Bytes chunk(begin, begin + static_cast<std::ptrdiff_t>(count));
    self->position_ += count;
    done(std::move(chunk));
  });
}

// ---------------------------------------------------------------- Store front

namespace {
// The capabilities one operation needs: at most a few, kept inline (no allocation per
// operation).
class NeededCapabilities {
 public:
  NeededCapabilities(std::initializer_list<Capability> needs) {
    for (Capability capability : needs)
      push_back(capability);
  }
  void push_back(Capability capability) {
    if (count_ == slots_.size()) throw std::logic_error("an operation needs too many capabilities");
    slots_[count_++] = capability;
  }
  const Capability* begin() const noexcept { return slots_.data(); }
  const Capability* end() const noexcept { return slots_.data() + count_; }

 private:
  std::array<Capability, 6> slots_{};
  std::size_t count_ = 0;
};
}  // namespace

struct Store::Checks {
  NeededCapabilities needs;
  const StoreKey* key = nullptr;
  const StoreKey* destination = nullptr;
  bool key_needs_name = false;  // the root is refused as key and as destination
  const char* root_refusal = "key names the store root, a file name is required";
};

Store::Store(Executor& executor, std::string name, CapabilitySet capabilities)
    : executor_(executor), name_(std::move(name)), capabilities_(std::move(capabilities)) {}

std::optional<StoreError> Store::reject_key(const StoreKey&) const {
  return std::nullopt;
}

template <typename T>
void Store::fail_later(StoreError error, Callback<T> done) {
  executor_.post(
      [error = std::move(error), done = std::move(done)]() mutable { done(std::move(error)); });
}

void Store::decorate(const OperationState& state, StoreError& error) const {
  if (error.store.empty()) error.store = name_;
  if (!error.operation) error.operation = state.operation_;
  if (error.key.empty()) error.key = printable(state.key_);
  if (!error.destination && state.destination_) error.destination = printable(*state.destination_);
}

// The completion a backend calls, exactly once whatever it does. Backends copy their
// callback into the closures of their steps, so the callback itself only points here: a
// copy costs a reference count, not a copy of the caller's closure.
template <typename T>
struct Store::Completion {
  std::shared_ptr<Store> store;
  OperationRef state;
  Callback<T> done;

  void finish(Result<T> result) {
    if (state->finished_) return;
    state->finished_ = true;
    state->hook_ = nullptr;
    if (!result) store->decorate(*state, result.error());
    // `done` may drop the last reference to this completion: what runs after it holds
    // its own.
    auto owner = store;
    const std::uint64_t id = state->id_;
    auto callback = std::move(done);
    if (state->starting_) {  // completed inside launch: report on a later turn, never inline
      owner->executor_.post(
          [owner, id, callback = std::move(callback), result = std::move(result)]() mutable {
            callback(std::move(result));
            owner->operation_finished(id);
          });
      return;
    }
    callback(std::move(result));
    owner->operation_finished(id);
  }
};

template <typename T, typename Run>
OperationHandle Store::launch(Operation operation, const Checks& checks, Callback<T> done,
                              Run run) {
  auto state = std::make_shared<OperationState>(operation);
  if (checks.key) state->key_ = checks.key->str();
  if (checks.destination) state->destination_ = checks.destination->str();
  auto refuse = [&](StoreError error) {
    decorate(*state, error);
    state->finished_ = true;
    fail_later<T>(std::move(error), std::move(done));
    return OperationHandle(state);
  };

  if (closing_) {
    auto error = StoreError::make(Errc::Unavailable, "the store is closed");
    error.retryable = false;
    return refuse(std::move(error));
  }
  for (auto capability : checks.needs) {
    if (!capabilities_.has(capability)) {
      return refuse(
          StoreError::make(Errc::CapabilityNotSupported,
                           "this store does not support " + std::string(to_string(capability))));
    }
  }
  if (checks.key_needs_name) {
    for (const StoreKey* key : {checks.key, checks.destination}) {
      if (key && key->is_root()) {
        return refuse(StoreError::make(Errc::InvalidPath, checks.root_refusal));
      }
    }
  }
  for (const StoreKey* key : {checks.key, checks.destination}) {
    if (!key) continue;
    if (auto rejected = reject_key(*key)) return refuse(std::move(*rejected));
  }

  state->id_ = next_operation_id_++;
  in_flight_.emplace(state->id_, state);
  auto completion =
      std::make_shared<Completion<T>>(Completion<T>{shared_from_this(), state, std::move(done)});
  Callback<T> complete = [completion](Result<T> result) { completion->finish(std::move(result)); };
  try {
    run(state, complete);
  } catch (const std::exception& exception) {
    complete(StoreError::make(Errc::IoError, std::string("internal error: ") + exception.what()));
  }
  state->starting_ = false;
  return OperationHandle(state);
}

void Store::operation_finished(std::uint64_t id) {
  in_flight_.erase(id);
  release_backend_if_idle();
}

void Store::release_backend_if_idle() {
  if (!closing_ || !in_flight_.empty() || backend_closed_) return;
  backend_closed_ = true;
  auto self = shared_from_this();
  do_close([self](Result<void> result) {
    self->close_result_ = result;
    auto waiters = std::move(self->close_waiters_);
    self->close_waiters_.clear();
    for (auto& waiter : waiters) {
      self->executor_.post([waiter, result] { waiter(result); });
    }
  });
}

void Store::close(Callback<void> done) {
  if (close_result_) {  // closed already: report how it went
    executor_.post([done = std::move(done), result = *close_result_] { done(result); });
    return;
  }
  close_waiters_.push_back(std::move(done));
  if (closing_) return;
  closing_ = true;
  std::vector<std::pair<std::uint64_t, OperationRef>> running;
  for (auto& [id, weak] : in_flight_) {
    if (auto state = weak.lock()) running.emplace_back(id, std::move(state));
  }
  std::sort(running.begin(), running.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  for (auto& [id, state] : running)
    state->request_cancel();
  release_backend_if_idle();
}

OperationHandle Store::stat(const StoreKey& key, Callback<EntryInfo> done) {
  Checks checks{{Capability::Metadata}, &key};
  return launch<EntryInfo>(Operation::Stat, checks, std::move(done),
                           [&](const OperationRef& op, Callback<EntryInfo> complete) {
                             do_stat(key, op, std::move(complete));
                           });
}

OperationHandle Store::list(const StoreKey& dir, ListOptions options,
                            Callback<EntryStreamPtr> done) {
  if (options.batch_size == 0) options.batch_size = 1;
  Checks checks{{Capability::List}, &dir};
  return launch<EntryStreamPtr>(Operation::List, checks, std::move(done),
                                [&](const OperationRef& op, Callback<EntryStreamPtr> complete) {
                                  do_list(dir, options, op, std::move(complete));
                                });
}

OperationHandle Store::read(const StoreKey& key, ReadRange range, Callback<ByteSourcePtr> done) {
  Checks checks{{Capability::Read}, &key};
  checks.key_needs_name = true;
  return launch<ByteSourcePtr>(Operation::Read, checks, std::move(done),
                               [&](const OperationRef& op, Callback<ByteSourcePtr> complete) {
                                 do_read(key, range, op, std::move(complete));
                               });
}

OperationHandle Store::write(const StoreKey& key, ByteSourcePtr source, WriteOptions options,
                             Callback<EntryInfo> done) {
  Checks checks{{Capability::Write}, &key};
  checks.key_needs_name = true;
  if (options.atomic) checks.needs.push_back(Capability::AtomicWrite);
  if (options.mtime) checks.needs.push_back(Capability::SetMtime);
  if (options.mode) checks.needs.push_back(Capability::SetMode);
  if (!source) {
    return launch<EntryInfo>(Operation::Write, checks, std::move(done),
                             [](const OperationRef&, Callback<EntryInfo> complete) {
                               complete(StoreError::make(Errc::InvalidPath, "no data source"));
                             });
  }
  return launch<EntryInfo>(Operation::Write, checks, std::move(done),
                           [&](const OperationRef& op, Callback<EntryInfo> complete) {
                             do_write(key, std::move(source), options, op, std::move(complete));
                           });
}

OperationHandle Store::copy(const StoreKey& from, const StoreKey& to, bool overwrite,
                            Callback<void> done) {
  Checks checks{{Capability::Copy}, &from, &to};
  checks.key_needs_name = true;
  return launch<void>(Operation::Copy, checks, std::move(done),
                      [&](const OperationRef& op, Callback<void> complete) {
                        do_copy(from, to, overwrite, op, std::move(complete));
                      });
}

OperationHandle Store::move(const StoreKey& from, const StoreKey& to, bool overwrite,
                            Callback<void> done) {
  Checks checks{{Capability::Move}, &from, &to};
  checks.key_needs_name = true;
  checks.root_refusal = "the store root cannot be moved or replaced";
  return launch<void>(Operation::Move, checks, std::move(done),
                      [&](const OperationRef& op, Callback<void> complete) {
                        do_move(from, to, overwrite, op, std::move(complete));
                      });
}

OperationHandle Store::remove(const StoreKey& key, bool missing_ok, Callback<void> done) {
  Checks checks{{Capability::Delete}, &key};
  checks.key_needs_name = true;
  checks.root_refusal = "refusing to remove the store root";
  return launch<void>(Operation::Remove, checks, std::move(done),
                      [&](const OperationRef& op, Callback<void> complete) {
                        do_remove(key, missing_ok, op, std::move(complete));
                      });
}

OperationHandle Store::mkdir(const StoreKey& key, MkdirOptions options, Callback<void> done) {
  Checks checks{{Capability::Mkdir}, &key};
  checks.key_needs_name = true;
  checks.root_refusal = "the store root always exists";
  if (options.mode) checks.needs.push_back(Capability::SetMode);
  return launch<void>(Operation::Mkdir, checks, std::move(done),
                      [&](const OperationRef& op, Callback<void> complete) {
                        do_mkdir(key, options, op, std::move(complete));
                      });
}

OperationHandle Store::rmdir(const StoreKey& key, bool recursive, Callback<void> done) {
  Checks checks{{Capability::Delete}, &key};
  checks.key_needs_name = true;
  checks.root_refusal = "refusing to remove the store root";
  return launch<void>(Operation::Rmdir, checks, std::move(done),
                      [&](const OperationRef& op, Callback<void> complete) {
                        do_rmdir(key, recursive, op, std::move(complete));
                      });
}

OperationHandle Store::set_attrs(const StoreKey& key, Attrs attrs, Callback<void> done) {
  Checks checks{{}, &key};
  checks.key_needs_name = true;
  checks.root_refusal = "the store root's attributes are not managed by the store";
  if (attrs.mtime) checks.needs.push_back(Capability::SetMtime);
  if (attrs.mode) checks.needs.push_back(Capability::SetMode);
  return launch<void>(Operation::SetAttrs, checks, std::move(done),
                      [&](const OperationRef& op, Callback<void> complete) {
                        do_set_attrs(key, attrs, op, std::move(complete));
                      });
}

OperationHandle Store::symlink(const StoreKey& key, std::string target, Callback<void> done) {
  Checks checks{{Capability::Symlink}, &key};
  checks.key_needs_name = true;
  if (target.empty() || target.find('\0') != std::string::npos) {
    return launch<void>(
        Operation::Symlink, checks, std::move(done),
        [](const OperationRef&, Callback<void> complete) {
          complete(StoreError::make(Errc::InvalidPath, "symlink target is empty or holds a NUL"));
        });
  }
  return launch<void>(Operation::Symlink, checks, std::move(done),
                      [&](const OperationRef& op, Callback<void> complete) {
                        do_symlink(key, std::move(target), op, std::move(complete));
                      });
}

OperationHandle Store::readlink(const StoreKey& key, Callback<std::string> done) {
  Checks checks{{Capability::Symlink}, &key};
  checks.key_needs_name = true;
  return launch<std::string>(Operation::Readlink, checks, std::move(done),
                             [&](const OperationRef& op, Callback<std::string> complete) {
                               do_readlink(key, op, std::move(complete));
                             });
}

Resolution Store::resolve(const StoreKey& key) const {
  return do_resolve(key);
}

// ---------------------------------------------------------------- child stores

namespace {

EntryInfo rebase(EntryInfo entry, const StoreKey& prefix) {
  entry.key = entry.key.relative_to(prefix);
  return entry;
}

class ScopedEntryStream final : public EntryStream {
 public:
  ScopedEntryStream(EntryStreamPtr inner, StoreKey prefix)
      : inner_(std::move(inner)), prefix_(std::move(prefix)) {}
  void next(Callback<std::vector<EntryInfo>> done) override {
    inner_->next([prefix = prefix_, done = std::move(done)](Result<std::vector<EntryInfo>> batch) {
      if (!batch) {
        done(std::move(batch).error());
        return;
      }
      for (auto& entry : *batch)
        entry = rebase(std::move(entry), prefix);
      done(std::move(batch));
    });
  }
  void cancel() override { inner_->cancel(); }

 private:
  EntryStreamPtr inner_;
  StoreKey prefix_;
};

// A store scoped to a folder of another: prefixes keys on the way in and strips the
// prefix from keys on the way out. Keys cannot hold "..", so nothing outside the prefix
// can be named; the parent's own confinement (e.g. no symlink following) still applies.
class ScopedStore final : public Store {
 public:
  ScopedStore(StorePtr parent, StoreKey prefix)
      : Store(parent->executor(), parent->name(), parent->capabilities()),
        parent_(std::move(parent)),
        prefix_(std::move(prefix)) {}

 protected:
  void do_stat(const StoreKey& key, const OperationRef& op, Callback<EntryInfo> done) override {
    auto handle = parent_->stat(full(key), [prefix = prefix_, done](Result<EntryInfo> entry) {
      if (!entry) return done(std::move(entry).error());
      done(rebase(std::move(entry).value(), prefix));
    });
    forward_cancel(op, handle);
  }
  void do_list(const StoreKey& dir, ListOptions options, const OperationRef& op,
               Callback<EntryStreamPtr> done) override {
    auto handle =
        parent_->list(full(dir), options, [prefix = prefix_, done](Result<EntryStreamPtr> stream) {
          if (!stream) return done(std::move(stream).error());
          done(EntryStreamPtr(std::make_shared<ScopedEntryStream>(*stream, prefix)));
        });
    forward_cancel(op, handle);
  }
  void do_read(const StoreKey& key, ReadRange range, const OperationRef& op,
               Callback<ByteSourcePtr> done) override {
    forward_cancel(op, parent_->read(full(key), range, std::move(done)));
  }
  void do_write(const StoreKey& key, ByteSourcePtr source, WriteOptions options,
                const OperationRef& op, Callback<EntryInfo> done) override {
    auto handle = parent_->write(full(key), std::move(source), options,
                                 [prefix = prefix_, done](Result<EntryInfo> entry) {
                                   if (!entry) return done(std::move(entry).error());
                                   done(rebase(std::move(entry).value(), prefix));
                                 });
    forward_cancel(op, handle);
  }
  void do_copy(const StoreKey& from, const StoreKey& to, bool overwrite, const OperationRef& op,
               Callback<void> done) override {
    forward_cancel(op, parent_->copy(full(from), full(to), overwrite, std::move(done)));
  }
  void do_move(const StoreKey& from, const StoreKey& to, bool overwrite, const OperationRef& op,
               Callback<void> done) override {
    forward_cancel(op, parent_->move(full(from), full(to), overwrite, std::move(done)));
  }
  void do_remove(const StoreKey& key, bool missing_ok, const OperationRef& op,
                 Callback<void> done) override {
    forward_cancel(op, parent_->remove(full(key), missing_ok, std::move(done)));
  }
  void do_mkdir(const StoreKey& key, MkdirOptions options, const OperationRef& op,
                Callback<void> done) override {
    forward_cancel(op, parent_->mkdir(full(key), options, std::move(done)));
  }
  void do_rmdir(const StoreKey& key, bool recursive, const OperationRef& op,
                Callback<void> done) override {
    forward_cancel(op, parent_->rmdir(full(key), recursive, std::move(done)));
  }
  void do_set_attrs(const StoreKey& key, Attrs attrs, const OperationRef& op,
                    Callback<void> done) override {
    forward_cancel(op, parent_->set_attrs(full(key), attrs, std::move(done)));
  }
  void do_symlink(const StoreKey& key, std::string target, const OperationRef& op,
                  Callback<void> done) override {
    forward_cancel(op, parent_->symlink(full(key), std::move(target), std::move(done)));
  }
  void do_readlink(const StoreKey& key, const OperationRef& op,
                   Callback<std::string> done) override {
    forward_cancel(op, parent_->readlink(full(key), std::move(done)));
  }
  Resolution do_resolve(const StoreKey& key) const override { return parent_->resolve(full(key)); }
  void do_close(Callback<void> done) override { done(success()); }

 private:
  StoreKey full(const StoreKey& key) const { return prefix_.join(key); }
  static void forward_cancel(const OperationRef& op, OperationHandle handle) {
    op->set_cancel_hook([handle] { handle.cancel(); });
  }

  StorePtr parent_;
  StoreKey prefix_;
};

}  // namespace

std::shared_ptr<Store> Store::child(const StoreKey& subpath) {
  return std::make_shared<ScopedStore>(shared_from_this(), subpath);
}

}  // namespace tetherd::core

#include "tetherd/stores/memory_store.hpp"

#include <algorithm>
#include <functional>
#include <map>
#include <vector>

namespace tetherd::stores {

using namespace core;

namespace {

constexpr std::size_t kWriteChunk = 1 << 20;

struct Node {
  EntryType type = EntryType::File;
  std::shared_ptr<const Bytes> data;  // files; shared so reads snapshot without copying
  TimePoint mtime;
  std::uint32_t mode = 0644;
  std::string target;  // symlinks
};

TimePoint now() {
  return std::chrono::time_point_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now());
}

StoreError error(Errc code, std::string detail = {}) {
  return StoreError::make(code, std::move(detail));
}

StoreError cancelled() {
  return error(Errc::Cancelled, "operation cancelled");
}

bool matches(const Fault& fault, Operation operation, const StoreKey& key) {
  if (fault.operation && *fault.operation != operation) return false;
  if (fault.under && !key.is_within(*fault.under)) return false;
  return true;
}

}  // namespace

class MemoryStoreImpl;

namespace {

class MemoryEntryStream final : public EntryStream {
 public:
  MemoryEntryStream(std::shared_ptr<MemoryStoreImpl> store, StoreKey dir, ListOptions options)
      : store_(std::move(store)), dir_(std::move(dir)), options_(options) {}
  void next(Callback<std::vector<EntryInfo>> done) override;
  void cancel() override { cancelled_ = true; }

 private:
  std::shared_ptr<MemoryStoreImpl> store_;
  StoreKey dir_;
  ListOptions options_;
  std::optional<StoreKey> last_;
  bool cancelled_ = false;
};

}  // namespace

class MemoryStoreImpl final : public MemoryStore {
 public:
  MemoryStoreImpl(Executor& executor, std::string name, CapabilitySet capabilities)
      : MemoryStore(executor, std::move(name), std::move(capabilities)) {}

  std::shared_ptr<MemoryStoreImpl> self() {
    return std::static_pointer_cast<MemoryStoreImpl>(shared_from_this());
  }

  // ------------------------------------------------------------ faults
  struct ActiveFault {
    Fault fault;
    std::uint32_t matched = 0;
    std::uint32_t applied = 0;
  };
  struct Hung {
    FaultId fault;
    OperationRef operation;
    std::function<void()> resume;
  };
  std::map<FaultId, ActiveFault> faults_;
  FaultId next_fault_ = 1;
  std::map<std::uint64_t, Hung> hung_;
  std::uint64_t next_hung_ = 1;

  // Every backend call passes here: counts it, applies the first fault that matches.
  void gate(Operation operation, const StoreKey& key, const OperationRef& op,
            std::function<void()> proceed, std::function<void(StoreError)> fail) {
    ++backend_calls_;
    for (auto& [id, active] : faults_) {
      if (!matches(active.fault, operation, key)) continue;
      std::uint32_t seen = active.matched++;
      if (seen < active.fault.skip) continue;
      if (active.fault.times && active.applied >= *active.fault.times) continue;
      ++active.applied;
      apply(id, active.fault, op, std::move(proceed), std::move(fail));
      return;
    }
    proceed();
  }

  void apply(FaultId id, const Fault& fault, const OperationRef& op, std::function<void()> proceed,
             std::function<void(StoreError)> fail) {
    switch (fault.kind) {
      case Fault::Kind::Fail:
        fail(fault.error);
        return;
      case Fault::Kind::Delay: {
        auto timer = executor().start_timer(fault.delay, proceed);
        op->set_cancel_hook([store = self(), timer, fail] {
          store->executor().cancel_timer(timer);
          fail(cancelled());
        });
        return;
      }
      case Fault::Kind::Hang: {
        std::uint64_t hung = next_hung_++;
        hung_.emplace(hung, Hung{id, op, std::move(proceed)});
        op->set_cancel_hook([store = self(), hung, fail] {
          store->hung_.erase(hung);
          fail(cancelled());
        });
        return;
      }
    }
  }

  FaultId add_fault(Fault fault) {
    FaultId id = next_fault_++;
    faults_.emplace(id, ActiveFault{std::move(fault)});
    return id;
  }

  void lift_fault(FaultId id) {
    faults_.erase(id);
    std::vector<Hung> released;
    for (auto it = hung_.begin(); it != hung_.end();) {
      if (it->second.fault == id) {
        released.push_back(std::move(it->second));
        it = hung_.erase(it);
      } else {
        ++it;
      }
    }
    for (auto& hung : released) {
      hung.operation->set_cancel_hook(nullptr);
      executor().post(std::move(hung.resume));
    }
  }

  // ------------------------------------------------------------ tree helpers
  std::map<StoreKey, Node> nodes_;  // the root is implicit

  Node* find(const StoreKey& key) {
    auto found = nodes_.find(key);
    return found == nodes_.end() ? nullptr : &found->second;
  }

  // Ancestors of `key` must be directories: NotADirectory for a file or symlink among
  // them, NotFound (unless create) for a missing one.
  Result<void> check_parents(const StoreKey& key, bool create) {
    std::vector<StoreKey> chain;
    for (StoreKey ancestor = key.parent(); !ancestor.is_root(); ancestor = ancestor.parent()) {
      chain.push_back(ancestor);
    }
    std::reverse(chain.begin(), chain.end());
    for (const auto& ancestor : chain) {
      Node* node = find(ancestor);
      if (!node) {
        if (create) break;  // everything below is missing too
        return error(Errc::NotFound,
                     "parent directory '" + printable(ancestor.str()) + "' does not exist");
      }
      if (node->type != EntryType::Directory) {
        return error(Errc::NotADirectory, "'" + printable(ancestor.str()) + "' is not a directory");
      }
    }
    return success();
  }

  void create_parents(const StoreKey& key) {
    for (StoreKey ancestor = key.parent(); !ancestor.is_root(); ancestor = ancestor.parent()) {
      if (find(ancestor)) break;
      nodes_.emplace(ancestor, Node{EntryType::Directory, nullptr, now(), 0755, {}});
      names_changed(ancestor);
    }
  }

  /// An entry was added at `key`, or removed or renamed from there: its directory's mtime
  /// moves, as on a POSIX file system (the listing cache counts on it).
  void names_changed(const StoreKey& key) {
    if (key.is_root() || key.parent().is_root()) return;  // the root keeps no mtime
    if (Node* parent = find(key.parent()); parent && parent->type == EntryType::Directory) {
      parent->mtime = kept_mtime(now());
    }
  }

  // The node at key (root: nullptr with success); NotFound/NotADirectory otherwise.
  Result<Node*> lookup(const StoreKey& key) {
    if (key.is_root()) return static_cast<Node*>(nullptr);
    if (auto parents = check_parents(key, false); !parents) return parents.error();
    Node* node = find(key);
    if (!node) return error(Errc::NotFound);
    return node;
  }

  bool has_children(const StoreKey& key) {
    auto next = nodes_.upper_bound(key);
    return next != nodes_.end() && next->first.is_within(key);
  }

  EntryInfo describe(const StoreKey& key, const Node* node) {
    EntryInfo info;
    info.key = key;
    if (!node) {
      info.type = EntryType::Directory;
      info.mode = 0755;
      return info;
    }
    info.type = node->type;
    info.size = node->type == EntryType::File      ? node->data->size()
                : node->type == EntryType::Symlink ? node->target.size()
                                                   : 0;
    info.mtime = node->mtime;
    info.mode = node->mode;
    if (node->type == EntryType::Symlink) info.link_target = node->target;
    return info;
  }

  template <typename T>
  void perform(Operation operation, const StoreKey& key, const OperationRef& op, Callback<T> done,
               std::function<Result<T>()> action) {
    gate(
        operation, key, op, [done, action] { done(action()); },
        [done](StoreError failure) { done(std::move(failure)); });
  }

  // ------------------------------------------------------------ operations
  void do_stat(const StoreKey& key, const OperationRef& op, Callback<EntryInfo> done) override {
    perform<EntryInfo>(Operation::Stat, key, op, done, [this, key]() -> Result<EntryInfo> {
      auto node = lookup(key);
      if (!node) return node.error();
      return describe(key, *node);
    });
  }

  void do_list(const StoreKey& dir, ListOptions options, const OperationRef& op,
               Callback<EntryStreamPtr> done) override {
    perform<EntryStreamPtr>(
        Operation::List, dir, op, done, [this, dir, options]() -> Result<EntryStreamPtr> {
          auto node = lookup(dir);
          if (!node) return node.error();
          if (*node && (*node)->type != EntryType::Directory) {
            return error(Errc::NotADirectory);
          }
          return EntryStreamPtr(std::make_shared<MemoryEntryStream>(self(), dir, options));
        });
  }

  void do_read(const StoreKey& key, ReadRange range, const OperationRef& op,
               Callback<ByteSourcePtr> done) override {
    perform<ByteSourcePtr>(
        Operation::Read, key, op, done, [this, key, range]() -> Result<ByteSourcePtr> {
          auto node = lookup(key);
          if (!node) return node.error();
          if (auto refused = not_a_file(*node)) return *refused;
          const Bytes& data = *(*node)->data;
          std::uint64_t begin = std::min<std::uint64_t>(range.offset, data.size());
          std::uint64_t end = data.size();
          if (range.length) end = std::min<std::uint64_t>(end, begin + *range.length);
          Bytes slice(data.begin() + static_cast<std::ptrdiff_t>(begin),
                      data.begin() + static_cast<std::ptrdiff_t>(end));
          return ByteSourcePtr(MemoryByteSource::make(executor(), std::move(slice)));
        });
  }

  static std::optional<StoreError> not_a_file(const Node* node) {
    if (!node || node->type == EntryType::Directory) return error(Errc::IsDirectory);
    if (node->type != EntryType::File) {
      return error(Errc::InvalidPath, "is a symbolic link, not a regular file");
    }
    return std::nullopt;
  }

  // Whether `key` may receive a new file: parents fine, not a directory, clobber rules.
  Result<void> check_destination(const StoreKey& key, bool overwrite) {
    if (auto parents = check_parents(key, true); !parents) return parents;
    Node* existing = find(key);
    if (!existing) return success();
    if (existing->type == EntryType::Directory) return error(Errc::IsDirectory);
    if (!overwrite) return error(Errc::AlreadyExists);
    return success();
  }

  struct WriteJob : std::enable_shared_from_this<WriteJob> {
    std::shared_ptr<MemoryStoreImpl> store;
    StoreKey key;
    ByteSourcePtr source;
    WriteOptions options;
    OperationRef op;
    Callback<EntryInfo> done;
    Bytes buffer;

    void pump() {
      source->read(kWriteChunk, [job = shared_from_this()](Result<Bytes> chunk) {
        if (job->op->cancel_requested()) return job->done(cancelled());
        if (!chunk) return job->done(std::move(chunk).error());
        if (chunk->empty()) return job->done(job->store->commit(*job));
        job->buffer.insert(job->buffer.end(), chunk->begin(), chunk->end());
        job->pump();
      });
    }
  };

  /// An mtime as the store keeps it: cut to its declared precision (a memory store that
  /// plays one with whole seconds, as SFTP v3 keeps them).
  TimePoint kept_mtime(TimePoint mtime) const {
    const auto precision = capabilities().mtime_precision;
    if (!precision || *precision <= std::chrono::nanoseconds(1)) return mtime;
    const auto since_epoch = mtime.time_since_epoch();
    return TimePoint(since_epoch - since_epoch % *precision);
  }

  Result<EntryInfo> commit(WriteJob& job) {
    // Checked again: the tree may have changed while the data streamed in.
    if (auto destination = check_destination(job.key, job.options.overwrite); !destination) {
      return destination.error();
    }
    create_parents(job.key);
    Node node{EntryType::File,
              std::make_shared<const Bytes>(std::move(job.buffer)),
              kept_mtime(job.options.mtime.value_or(now())),
              job.options.mode.value_or(0644) & 07777,
              {}};
    nodes_[job.key] = std::move(node);
    names_changed(job.key);
    return describe(job.key, find(job.key));
  }

  void do_write(const StoreKey& key, ByteSourcePtr source, WriteOptions options,
                const OperationRef& op, Callback<EntryInfo> done) override {
    auto job = std::make_shared<WriteJob>();
    job->store = self();
    job->key = key;
    job->source = std::move(source);
    job->options = options;
    job->op = op;
    job->done = done;
    gate(
        Operation::Write, key, op,
        [job] {
          // Fail fast before consuming the source.
          if (auto destination = job->store->check_destination(job->key, job->options.overwrite);
              !destination) {
            return job->done(destination.error());
          }
          job->op->set_cancel_hook([source = job->source] { source->cancel(); });
          job->pump();
        },
        [done](StoreError failure) { done(std::move(failure)); });
  }

  void do_copy(const StoreKey& from, const StoreKey& to, bool overwrite, const OperationRef& op,
               Callback<void> done) override {
    perform<void>(Operation::Copy, from, op, done, [this, from, to, overwrite]() -> Result<void> {
      auto source = lookup(from);
      if (!source) return source.error();
      if (auto refused = not_a_file(*source)) return *refused;
      if (from == to) return success();
      Node copy = **source;
      if (auto destination = check_destination(to, overwrite); !destination) return destination;
      create_parents(to);
      nodes_[to] = std::move(copy);
      names_changed(to);
      return success();
    });
  }

  void do_move(const StoreKey& from, const StoreKey& to, bool overwrite, const OperationRef& op,
               Callback<void> done) override {
    perform<void>(Operation::Move, from, op, done, [this, from, to, overwrite]() -> Result<void> {
      auto source = lookup(from);
      if (!source) return source.error();
      if (from == to) return success();
      bool is_dir = (*source)->type == EntryType::Directory;
      if (is_dir && to.is_within(from)) {
        return error(Errc::InvalidPath, "cannot move a directory into itself");
      }
      if (auto parents = check_parents(to, true); !parents) return parents;
      if (Node* existing = find(to)) {
        if (!overwrite) return error(Errc::AlreadyExists);
        bool existing_dir = existing->type == EntryType::Directory;
        if (existing_dir && !is_dir) return error(Errc::IsDirectory);
        if (!existing_dir && is_dir) return error(Errc::NotADirectory);
        if (existing_dir && has_children(to)) return error(Errc::DirectoryNotEmpty);
        nodes_.erase(to);
      }
      create_parents(to);
      std::vector<std::pair<StoreKey, Node>> moved;
      for (auto it = nodes_.find(from); it != nodes_.end() && it->first.is_within(from);) {
        moved.emplace_back(to.join(it->first.relative_to(from)), std::move(it->second));
        it = nodes_.erase(it);
      }
      for (auto& [key, node] : moved)
        nodes_.emplace(std::move(key), std::move(node));
      names_changed(from);
      names_changed(to);
      return success();
    });
  }

  void do_remove(const StoreKey& key, bool missing_ok, const OperationRef& op,
                 Callback<void> done) override {
    perform<void>(Operation::Remove, key, op, done, [this, key, missing_ok]() -> Result<void> {
      auto node = lookup(key);
      if (!node) {
        if (missing_ok && node.error().code == Errc::NotFound) return success();
        return node.error();
      }
      if ((*node)->type == EntryType::Directory) return error(Errc::IsDirectory);
      nodes_.erase(key);
      names_changed(key);
      return success();
    });
  }

  void do_mkdir(const StoreKey& key, MkdirOptions options, const OperationRef& op,
                Callback<void> done) override {
    perform<void>(Operation::Mkdir, key, op, done, [this, key, options]() -> Result<void> {
      if (auto parents = check_parents(key, true); !parents) return parents;
      if (Node* existing = find(key)) {
        if (existing->type != EntryType::Directory) {
          return error(Errc::AlreadyExists, "exists and is not a directory");
        }
        if (options.mode) existing->mode = *options.mode & 07777;
        return success();
      }
      create_parents(key);
      nodes_.emplace(
          key, Node{EntryType::Directory, nullptr, now(), options.mode.value_or(0755) & 07777, {}});
      names_changed(key);
      return success();
    });
  }

  void do_rmdir(const StoreKey& key, bool recursive, const OperationRef& op,
                Callback<void> done) override {
    perform<void>(Operation::Rmdir, key, op, done, [this, key, recursive]() -> Result<void> {
      auto node = lookup(key);
      if (!node) return node.error();
      if ((*node)->type != EntryType::Directory) return error(Errc::NotADirectory);
      if (!recursive && has_children(key)) return error(Errc::DirectoryNotEmpty);
      for (auto it = nodes_.find(key); it != nodes_.end() && it->first.is_within(key);) {
        it = nodes_.erase(it);
      }
      names_changed(key);
      return success();
    });
  }

  void do_set_attrs(const StoreKey& key, Attrs attrs, const OperationRef& op,
                    Callback<void> done) override {
    perform<void>(Operation::SetAttrs, key, op, done, [this, key, attrs]() -> Result<void> {
      auto node = lookup(key);
      if (!node) return node.error();
      if (attrs.mode && (*node)->type == EntryType::Symlink) {
        return error(Errc::PermissionDenied, "symbolic links have no mode of their own");
      }
      if (attrs.mtime) (*node)->mtime = kept_mtime(*attrs.mtime);
      if (attrs.mode) (*node)->mode = *attrs.mode & 07777;
      return success();
    });
  }

  void do_symlink(const StoreKey& key, std::string target, const OperationRef& op,
                  Callback<void> done) override {
    perform<void>(Operation::Symlink, key, op, done, [this, key, target]() -> Result<void> {
      if (auto parents = check_parents(key, true); !parents) return parents;
      if (find(key)) return error(Errc::AlreadyExists);
      create_parents(key);
      nodes_.emplace(key, Node{EntryType::Symlink, nullptr, now(), 0777, target});
      names_changed(key);
      return success();
    });
  }

  void do_readlink(const StoreKey& key, const OperationRef& op,
                   Callback<std::string> done) override {
    perform<std::string>(Operation::Readlink, key, op, done, [this, key]() -> Result<std::string> {
      auto node = lookup(key);
      if (!node) return node.error();
      if ((*node)->type != EntryType::Symlink) {
        return error(Errc::InvalidPath, "not a symbolic link");
      }
      return (*node)->target;
    });
  }

  Resolution do_resolve(const StoreKey& key) const override {
    return {"memory", "memory:" + name() + "/" + key.str(), "in-process memory store"};
  }

  void do_close(Callback<void> done) override {
    faults_.clear();
    done(success());
  }
};

namespace {
void MemoryEntryStream::next(Callback<std::vector<EntryInfo>> done) {
  auto self = std::static_pointer_cast<MemoryEntryStream>(shared_from_this());
  store_->executor().post([self, done = std::move(done)] {
    if (self->cancelled_) return done(cancelled());
    auto& nodes = self->store_->nodes_;
    auto it = self->last_ ? nodes.upper_bound(*self->last_) : nodes.upper_bound(self->dir_);
    std::vector<EntryInfo> batch;
    std::size_t child_depth = self->dir_.depth() + 1;
    while (it != nodes.end() && it->first.is_within(self->dir_) &&
           batch.size() < self->options_.batch_size) {
      self->last_ = it->first;
      if (self->options_.recursive || it->first.depth() == child_depth) {
        batch.push_back(self->store_->describe(it->first, &it->second));
      }
      ++it;
    }
    done(std::move(batch));
  });
}
}  // namespace

MemoryStore::MemoryStore(Executor& executor, std::string name, CapabilitySet capabilities)
    : Store(executor, std::move(name), std::move(capabilities)) {}

MemoryStore::FaultId MemoryStore::inject(Fault fault) {
  return static_cast<MemoryStoreImpl*>(this)->add_fault(std::move(fault));
}

void MemoryStore::clear_fault(FaultId fault) {
  static_cast<MemoryStoreImpl*>(this)->lift_fault(fault);
}

void MemoryStore::clear_faults() {
  auto* impl = static_cast<MemoryStoreImpl*>(this);
  std::vector<FaultId> ids;
  for (const auto& entry : impl->faults_)
    ids.push_back(entry.first);
  for (auto id : ids)
    impl->lift_fault(id);
}

std::size_t MemoryStore::hung_operations() const noexcept {
  return static_cast<const MemoryStoreImpl*>(this)->hung_.size();
}

CapabilitySet full_memory_capabilities() {
  CapabilitySet set{
      Capability::Read,         Capability::Write,         Capability::Delete,
      Capability::List,         Capability::Move,          Capability::Copy,
      Capability::AtomicWrite,  Capability::Metadata,      Capability::SetMtime,
      Capability::SetMode,      Capability::Symlink,       Capability::Mkdir,
      Capability::AtomicMove,   Capability::AtomicReplace, Capability::NoClobberCreate,
      Capability::ExplicitDirs, Capability::LazyRead,      Capability::ServerSideCopy};
  set.mtime_precision = std::chrono::nanoseconds(1);
  return set;
}

std::shared_ptr<MemoryStore> open_memory_store(Executor& executor, MemoryStoreOptions options) {
  auto capabilities = options.capabilities.value_or(full_memory_capabilities());
  return std::make_shared<MemoryStoreImpl>(executor, std::move(options.name),
                                           std::move(capabilities));
}

}  // namespace tetherd::stores

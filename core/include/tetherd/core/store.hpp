#pragma once

// The Store contract: every action the sync engine takes on a target goes through it.
//
// Threading. A Store, its streams and sources belong to one event loop (the "loop
// thread"). Every public function is called on the loop thread. Every completion
// callback runs on the loop thread, exactly once, and never inline from the call that
// started the operation (so a caller may start an operation while holding its own
// invariants half-updated). Blocking work happens on worker threads through the
// Executor; many operations may be in flight at once.
//
// Ownership. Stores, ByteSources and EntryStreams are owned through std::shared_ptr; an
// operation in flight keeps what it needs alive. The Executor must outlive every store,
// stream and source that uses it, and must keep running until their operations have
// completed (close() the store and wait for its callback).
//
// Checks in one place. The public functions below are non-virtual: they refuse a closed
// store, an undeclared capability (CapabilityNotSupported) and the root key where a name
// is required (InvalidPath) before the backend sees the call, so no backend does I/O for
// an operation it did not declare. Backends implement the protected do_* functions.

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "tetherd/core/capability.hpp"
#include "tetherd/core/errors.hpp"
#include "tetherd/core/result.hpp"
#include "tetherd/core/store_key.hpp"

namespace tetherd::core {

using Bytes = std::vector<std::byte>;
Bytes to_bytes(std::string_view text);
std::string bytes_to_string(const Bytes& bytes);

/// Completion of an asynchronous operation.
template <typename T>
using Callback = std::function<void(Result<T>)>;

/// What the functions that open a store return: asks an open under way to give up, so that
/// a stopping daemon does not wait for a server that does not answer. The open's callback
/// then runs soon (on the loop thread, never inside this call) with Cancelled, or with the
/// outcome it already had. Calling it after the callback ran, or twice, does nothing.
using CancelOpen = std::function<void()>;

/// Nanoseconds since the Unix epoch.
using TimePoint = std::chrono::time_point<std::chrono::system_clock, std::chrono::nanoseconds>;

/// The event loop as stores see it. Core stays free of libuv: stores/ provides the
/// libuv implementation (UvExecutor). All functions are called on the loop thread.
class Executor {
 public:
  using Task = std::function<void()>;
  using TimerId = std::uint64_t;

  virtual ~Executor() = default;
  /// Runs `task` on the loop thread on a later turn, never inline.
  virtual void post(Task task) = 0;
  /// Runs `work` on a worker thread, then `done` on the loop thread. `work` must not touch
  /// loop-owned state; exceptions must not leave it.
  virtual void run_blocking(Task work, Task done) = 0;
  /// Like run_blocking, for a short job that much other work waits on (a flush): it runs
  /// on a thread of its own, never queued behind ordinary blocking jobs. These jobs run
  /// one at a time, in order. By default an ordinary blocking job.
  virtual void run_blocking_dedicated(Task work, Task done) {
    run_blocking(std::move(work), std::move(done));
  }
  /// Runs `task` on the loop thread after `delay` unless cancelled first.
  virtual TimerId start_timer(std::chrono::milliseconds delay, Task task) = 0;
  /// Cancels a timer; no effect if it has fired or was cancelled already.
  virtual void cancel_timer(TimerId timer) = 0;
  /// The monotonic clock the timers count in. A simulation's executor keeps time of its
  /// own, so what is scheduled by now() + delay and what start_timer(delay) fires agree.
  virtual std::chrono::steady_clock::time_point now() const {
    return std::chrono::steady_clock::now();
  }
};

/// Shared state of one operation in flight: its cancellation request and the hook a
/// backend installs to react to it (stop a timer, cancel a source read).
class OperationState {
 public:
  explicit OperationState(Operation operation) : operation_(operation) {}
  Operation operation() const noexcept { return operation_; }
  /// Any thread: whether cancel() was called. Workers poll this between chunks.
  bool cancel_requested() const noexcept { return cancelled_.load(std::memory_order_acquire); }
  /// Loop thread: installs (replaces) the hook run by the first cancel request. If a
  /// cancel was already requested the hook runs immediately.
  void set_cancel_hook(std::function<void()> hook);
  /// Loop thread: requests cancellation; runs the hook once. No effect once finished.
  void request_cancel();
  bool finished() const noexcept { return finished_; }

 private:
  friend class Store;
  Operation operation_;
  std::atomic<bool> cancelled_{false};
  bool finished_ = false;
  bool starting_ = true;
  std::function<void()> hook_;
  std::uint64_t id_ = 0;  ///< the store's in-flight number
  /// The keys as given, for the errors the operation reports (made printable only then).
  std::string key_;
  std::optional<std::string> destination_;
};
using OperationRef = std::shared_ptr<OperationState>;

/// The caller's handle on an operation in flight. Cheap to copy; may outlive it.
class OperationHandle {
 public:
  OperationHandle() = default;
  explicit OperationHandle(OperationRef state) : state_(std::move(state)) {}
  /// Asks the operation to stop. Its callback still runs exactly once: with Cancelled,
  /// or with its real result if it had already passed the point of no return (a write
  /// whose rename was done succeeds). A cancelled write leaves no partial target and no
  /// temporary file. No effect after completion.
  void cancel() const {
    if (state_) state_->request_cancel();
  }
  bool pending() const noexcept { return state_ && !state_->finished(); }

 private:
  OperationRef state_;
};

enum class EntryType { File, Directory, Symlink, Other };
std::string_view to_string(EntryType type) noexcept;

/// What a store knows about one entry. Symlinks are described, never followed.
struct EntryInfo {
  StoreKey key;  ///< relative to the store root
  EntryType type = EntryType::File;
  std::uint64_t size = 0;                  ///< bytes of content; 0 for directories
  std::optional<TimePoint> mtime;          ///< when the store keeps one
  std::optional<std::uint32_t> mode;       ///< permission bits (07777) when the store keeps them
  std::optional<std::string> link_target;  ///< symlinks: the target, bytes as stored
};

/// A pull-based asynchronous byte stream: the data of a write, or the result of a read.
class ByteSource : public std::enable_shared_from_this<ByteSource> {
 public:
  virtual ~ByteSource() = default;
  /// Delivers the next chunk of 1..max_bytes bytes, or an empty chunk at the end. At most
  /// one read at a time; the callback runs on the loop thread, never inline. An error is
  /// final: later reads fail the same way. A pending read keeps the source alive.
  virtual void read(std::size_t max_bytes, Callback<Bytes> done) = 0;
  /// Makes a pending read complete soon with Cancelled; later reads fail with Cancelled.
  virtual void cancel() = 0;
  /// Total bytes the source delivers, when known in advance.
  virtual std::optional<std::uint64_t> size() const { return std::nullopt; }

  /// A source that is a range of a local file descriptor may say so, letting a local
  /// consumer copy in the kernel (copy_file_range, FICLONE) on a worker thread instead of
  /// pulling chunks. A consumer that uses the region never calls read(); the descriptor
  /// stays open while the source lives.
  struct FileRegion {
    int fd = -1;
    std::uint64_t offset = 0;
    std::uint64_t length = 0;
  };
  virtual std::optional<FileRegion> file_region() const { return std::nullopt; }
  /// With file_region(): called by the consumer on its worker thread once it has copied
  /// `copied` bytes of the region, before it makes them visible. An error means those bytes
  /// are not a state the data really had (the file changed while it was copied): the
  /// consumer discards them and fails with this error. Must be thread-safe. The default
  /// accepts exactly the region's length.
  virtual Result<void> check_region_copied(std::uint64_t copied) const;
  /// A source over a local file may leave opening it to the consumer's worker, saving a
  /// trip to a worker of its own: then opens_on_worker() is true, file_region() has no
  /// answer until open_on_worker() succeeded, and a consumer that wants the region calls
  /// open_on_worker() first, once, on its worker thread (an error there fails the consumer
  /// with it; it must be thread-safe). read() opens the file by itself.
  virtual bool opens_on_worker() const { return false; }
  virtual Result<void> open_on_worker() { return success(); }
  /// With file_region(): called by the consumer on its worker thread once it is done with
  /// the region (copied and checked, or given up), so that the source may close its
  /// descriptor there rather than on the loop thread. Neither file_region() nor read() is
  /// called afterwards. The default keeps the descriptor until the source is destroyed.
  virtual void release_region() {}
};
using ByteSourcePtr = std::shared_ptr<ByteSource>;

/// A ByteSource over bytes in memory. Completions are posted to the executor.
class MemoryByteSource final : public ByteSource {
 public:
  MemoryByteSource(Executor& executor, Bytes data);
  static std::shared_ptr<MemoryByteSource> make(Executor& executor, Bytes data);
  void read(std::size_t max_bytes, Callback<Bytes> done) override;
  void cancel() override { cancelled_ = true; }
  std::optional<std::uint64_t> size() const override { return data_.size(); }

 private:
  Executor& executor_;
  Bytes data_;
  std::size_t position_ = 0;
  bool cancelled_ = false;
};

/// Streams the entries of a listing in bounded batches.
class EntryStream : public std::enable_shared_from_this<EntryStream> {
 public:
  virtual ~EntryStream() = default;
  /// Delivers the next batch (at most the requested batch size), or an empty batch at
  /// the end. One call at a time; the callback runs on the loop thread, never inline.
  virtual void next(Callback<std::vector<EntryInfo>> done) = 0;
  /// Makes a pending next() complete soon with Cancelled, and later ones too.
  virtual void cancel() = 0;
};
using EntryStreamPtr = std::shared_ptr<EntryStream>;

struct ListOptions {
  /// false: the directory's own entries. true: everything beneath, depth first.
  bool recursive = false;
  /// Most entries per batch (memory bound of the stream); at least 1.
  std::size_t batch_size = 256;
};
// Order of listings: entries come in StoreKey order (segment-wise), a directory before
// its contents. Keys of the store's own temporary files never appear.

struct ReadRange {
  std::uint64_t offset = 0;
  std::optional<std::uint64_t> length;  ///< nullopt: to the end
};

struct WriteOptions {
  /// false: fail with AlreadyExists if anything exists at the key (enforced atomically
  /// where the store declares NO_CLOBBER_CREATE).
  bool overwrite = true;
  /// true (needs ATOMIC_WRITE): readers see the old content or the new, never part; a
  /// failed or cancelled write leaves no target and no temporary file.
  bool atomic = true;
  std::optional<TimePoint> mtime;     ///< needs SET_MTIME
  std::optional<std::uint32_t> mode;  ///< permission bits; needs SET_MODE
  std::optional<std::uint64_t> size_hint;
};

struct MkdirOptions {
  /// The permission bits the directory ends with, whether mkdir created it or found it
  /// (needs SET_MODE); nullopt: a new directory gets the store's default, an existing one
  /// keeps its own. Missing parents always get the default.
  std::optional<std::uint32_t> mode;
};

struct Attrs {
  std::optional<TimePoint> mtime;     ///< needs SET_MTIME
  std::optional<std::uint32_t> mode;  ///< needs SET_MODE
};

/// Where a key lives, for messages and logs (resolve() does no I/O).
struct Resolution {
  std::string backend;      ///< "local", "memory", ...
  std::string native_path;  ///< e.g. "/srv/backup/a/b.txt"
  std::string details;      ///< backend specific, e.g. how paths are confined
};

class Store : public std::enable_shared_from_this<Store> {
 public:
  virtual ~Store() = default;
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  const std::string& name() const noexcept { return name_; }
  const CapabilitySet& capabilities() const noexcept { return capabilities_; }
  Executor& executor() const noexcept { return executor_; }
  bool closed() const noexcept { return closing_; }

  /// METADATA. Describes the entry at `key` (the root allowed); symlinks not followed.
  OperationHandle stat(const StoreKey& key, Callback<EntryInfo> done);
  /// LIST. Opens a listing of directory `dir` (the root allowed): NotFound,
  /// NotADirectory. Entries arrive through the stream.
  OperationHandle list(const StoreKey& dir, ListOptions options, Callback<EntryStreamPtr> done);
  /// READ. Opens `key` for reading the range: NotFound, IsDirectory.
  OperationHandle read(const StoreKey& key, ReadRange range, Callback<ByteSourcePtr> done);
  /// WRITE (+ATOMIC_WRITE, SET_MTIME, SET_MODE as options need). Consumes `source` and
  /// stores it at `key`, creating missing parent directories. Completes with what was
  /// stored. IsDirectory when `key` is a directory, NotADirectory under a file. A failing
  /// source fails the write with the source's error.
  OperationHandle write(const StoreKey& key, ByteSourcePtr source, WriteOptions options,
                        Callback<EntryInfo> done);
  /// COPY. Copies file `from` to `to` (content, mtime, mode). NotFound on `from` wins;
  /// AlreadyExists unless overwrite; copying a key onto itself is a no-op.
  OperationHandle copy(const StoreKey& from, const StoreKey& to, bool overwrite,
                       Callback<void> done);
  /// MOVE. Moves a file, symlink or directory; same rules as copy. Interrupted, the
  /// entry survives at the source or at the destination, never at neither.
  OperationHandle move(const StoreKey& from, const StoreKey& to, bool overwrite,
                       Callback<void> done);
  /// DELETE. Removes a file or symlink (IsDirectory for a directory). missing_ok turns
  /// NotFound, and only NotFound, into success.
  OperationHandle remove(const StoreKey& key, bool missing_ok, Callback<void> done);
  /// MKDIR. Creates the directory and missing parents; an existing directory is success,
  /// an existing non-directory AlreadyExists. With options.mode, one operation where a
  /// mkdir and a set_attrs would take two.
  OperationHandle mkdir(const StoreKey& key, MkdirOptions options, Callback<void> done);
  OperationHandle mkdir(const StoreKey& key, Callback<void> done) {
    return mkdir(key, MkdirOptions{}, std::move(done));
  }
  /// DELETE. Removes a directory: DirectoryNotEmpty unless recursive (recursive removes
  /// everything beneath, never following symlinks). The root is refused (InvalidPath).
  OperationHandle rmdir(const StoreKey& key, bool recursive, Callback<void> done);
  /// SET_MTIME / SET_MODE as attrs need. Symlinks are not followed.
  OperationHandle set_attrs(const StoreKey& key, Attrs attrs, Callback<void> done);
  /// SYMLINK. Creates a symlink at `key` holding `target` verbatim (never resolved by the
  /// store); missing parents created; AlreadyExists if `key` exists.
  OperationHandle symlink(const StoreKey& key, std::string target, Callback<void> done);
  /// SYMLINK. The target of the symlink at `key` (InvalidPath if it is not a symlink).
  OperationHandle readlink(const StoreKey& key, Callback<std::string> done);

  /// No I/O: where `key` lives.
  Resolution resolve(const StoreKey& key) const;
  /// A store scoped to `subpath`: keys are relative to it and nothing outside it is
  /// reachable. Shares this store's backend, capabilities and executor; closing the child
  /// does not close this store.
  std::shared_ptr<Store> child(const StoreKey& subpath);

  /// Refuses new operations (Unavailable), cancels those in flight, and completes once
  /// they all have completed and the backend released its resources. Streams and sources
  /// obtained earlier stay usable until released.
  void close(Callback<void> done);

 protected:
  Store(Executor& executor, std::string name, CapabilitySet capabilities);

  // Backend operations. Called on the loop thread after the front's checks, with the
  // operation's state (poll cancel_requested(), install a cancel hook). Each must call
  // `done` exactly once, on the loop thread (inline is allowed: the front defers it).
  virtual void do_stat(const StoreKey& key, const OperationRef& op, Callback<EntryInfo> done) = 0;
  virtual void do_list(const StoreKey& dir, ListOptions options, const OperationRef& op,
                       Callback<EntryStreamPtr> done) = 0;
  virtual void do_read(const StoreKey& key, ReadRange range, const OperationRef& op,
                       Callback<ByteSourcePtr> done) = 0;
  virtual void do_write(const StoreKey& key, ByteSourcePtr source, WriteOptions options,
                        const OperationRef& op, Callback<EntryInfo> done) = 0;
  virtual void do_copy(const StoreKey& from, const StoreKey& to, bool overwrite,
                       const OperationRef& op, Callback<void> done) = 0;
  virtual void do_move(const StoreKey& from, const StoreKey& to, bool overwrite,
                       const OperationRef& op, Callback<void> done) = 0;
  virtual void do_remove(const StoreKey& key, bool missing_ok, const OperationRef& op,
                         Callback<void> done) = 0;
  virtual void do_mkdir(const StoreKey& key, MkdirOptions options, const OperationRef& op,
                        Callback<void> done) = 0;
  virtual void do_rmdir(const StoreKey& key, bool recursive, const OperationRef& op,
                        Callback<void> done) = 0;
  virtual void do_set_attrs(const StoreKey& key, Attrs attrs, const OperationRef& op,
                            Callback<void> done) = 0;
  virtual void do_symlink(const StoreKey& key, std::string target, const OperationRef& op,
                          Callback<void> done) = 0;
  virtual void do_readlink(const StoreKey& key, const OperationRef& op,
                           Callback<std::string> done) = 0;
  virtual Resolution do_resolve(const StoreKey& key) const = 0;
  /// Called once no operation is in flight any more; releases backend resources.
  virtual void do_close(Callback<void> done) = 0;
  /// A backend may reserve names (e.g. its temporary-file prefix): return the error for
  /// a key it cannot accept. Checked by the front for every key of every operation.
  virtual std::optional<StoreError> reject_key(const StoreKey& key) const;

 private:
  struct Checks;
  template <typename T, typename Run>
  OperationHandle launch(Operation operation, const Checks& checks, Callback<T> done, Run run);
  template <typename T>
  void fail_later(StoreError error, Callback<T> done);
  template <typename T>
  struct Completion;
  /// Fills in what a backend's error leaves out: store, operation, keys.
  void decorate(const OperationState& state, StoreError& error) const;
  void operation_finished(std::uint64_t id);
  void release_backend_if_idle();

  Executor& executor_;
  std::string name_;
  CapabilitySet capabilities_;
  bool closing_ = false;
  std::uint64_t next_operation_id_ = 1;
  /// By operation id. Unordered: one insert and one erase per operation, on every file of
  /// a sync; close() sorts the ids to cancel the oldest first.
  std::unordered_map<std::uint64_t, std::weak_ptr<OperationState>> in_flight_;
  std::vector<Callback<void>> close_waiters_;
  bool backend_closed_ = false;
  std::optional<Result<void>> close_result_;
};
using StorePtr = std::shared_ptr<Store>;

}  // namespace tetherd::core

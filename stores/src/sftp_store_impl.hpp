#pragma once

// The SFTP store's class, shared by the files implementing it: sftp_store.cpp (the
// metadata operations, open and close), sftp_write.cpp (writes), sftp_read.cpp (reads
// and listings).

#include <deque>
#include <functional>
#include <set>
#include <string>

#include "sftp_ops.hpp"
#include "sftp_pool.hpp"
#include "tetherd/stores/sftp_store.hpp"

namespace tetherd::stores::sftp {

class SftpStore final : public core::Store {
 public:
  SftpStore(core::Executor& executor, SftpStoreOptions options,
            std::shared_ptr<const SessionSettings> settings, core::CapabilitySet capabilities,
            std::shared_ptr<Pool> pool);

  std::shared_ptr<SftpStore> self() {
    return std::static_pointer_cast<SftpStore>(shared_from_this());
  }
  /// Runs `then` with a session, or fails `done` with why there is none.
  template <typename T>
  void with_session(const core::OperationRef& op, core::Callback<T> done,
                    std::function<void(const SessionPtr&)> then) {
    pool_->acquire([op, done, then](core::Result<SessionPtr> session) {
      if (op->cancel_requested()) return done(core::StoreError::make(core::Errc::Cancelled));
      if (!session) return done(session.error());
      then(*session);
    });
  }
  /// A fresh temporary name (no directory).
  std::string temp_name();
  /// A temporary file a lost connection kept us from removing: removed on reconnect.
  void orphaned(const std::string& path) { orphans_.insert(path); }
  /// Removes the orphans (on a fresh session) and, the first time, sweeps the tree for
  /// temporary files an earlier process left.
  void on_connected(const SessionPtr& session);
  bool durable() const { return capabilities().has(core::Capability::Durable); }
  const SftpStoreOptions& options() const { return options_; }

 protected:
  void do_stat(const core::StoreKey& key, const core::OperationRef& op,
               core::Callback<core::EntryInfo> done) override;
  void do_list(const core::StoreKey& dir, core::ListOptions options, const core::OperationRef& op,
               core::Callback<core::EntryStreamPtr> done) override;
  void do_read(const core::StoreKey& key, core::ReadRange range, const core::OperationRef& op,
               core::Callback<core::ByteSourcePtr> done) override;
  void do_write(const core::StoreKey& key, core::ByteSourcePtr source, core::WriteOptions options,
                const core::OperationRef& op, core::Callback<core::EntryInfo> done) override;
  void do_copy(const core::StoreKey& from, const core::StoreKey& to, bool overwrite,
               const core::OperationRef& op, core::Callback<void> done) override;
  void do_move(const core::StoreKey& from, const core::StoreKey& to, bool overwrite,
               const core::OperationRef& op, core::Callback<void> done) override;
  void do_remove(const core::StoreKey& key, bool missing_ok, const core::OperationRef& op,
                 core::Callback<void> done) override;
  void do_mkdir(const core::StoreKey& key, core::MkdirOptions options, const core::OperationRef& op,
                core::Callback<void> done) override;
  void do_rmdir(const core::StoreKey& key, bool recursive, const core::OperationRef& op,
                core::Callback<void> done) override;
  void do_set_attrs(const core::StoreKey& key, core::Attrs attrs, const core::OperationRef& op,
                    core::Callback<void> done) override;
  void do_symlink(const core::StoreKey& key, std::string target, const core::OperationRef& op,
                  core::Callback<void> done) override;
  void do_readlink(const core::StoreKey& key, const core::OperationRef& op,
                   core::Callback<std::string> done) override;
  core::Resolution do_resolve(const core::StoreKey& key) const override;
  void do_close(core::Callback<void> done) override;
  std::optional<core::StoreError> reject_key(const core::StoreKey& key) const override;

 private:
  void sweep(const SessionPtr& session, const std::string& path);

  SftpStoreOptions options_;
  std::shared_ptr<const SessionSettings> settings_;
  std::shared_ptr<Pool> pool_;
  std::string token_;  // distinguishes this process's temporary files from leftovers
  std::uint64_t next_temp_ = 1;
  std::set<std::string> orphans_;
  bool swept_ = false;
  static constexpr std::size_t kMaxWrites = 64;
  std::size_t active_writes_ = 0;
  std::deque<std::function<void()>> queued_writes_;
};

/// Attributes to set on a file: mtime (whole seconds, clamped to SFTP v3's uint32 range;
/// atime follows) and/or mode.
FileAttrs attrs_for(std::optional<core::TimePoint> mtime, std::optional<std::uint32_t> mode);

}  // namespace tetherd::stores::sftp

// Reads and listings of the SFTP store.
//
// Read: the key is checked (walk), opened, and a ByteSource issues SSH_FXP_READ requests
// for the range, several ahead; the handle is closed when the source is released.
// List: a directory's entries are read whole, sorted by name bytes, and streamed in
// batches; recursive listings descend depth first, a directory before its contents, which
// is StoreKey order, reading up to 16 directories ahead of the walk.

#include <algorithm>
#include <deque>
#include <iterator>
#include <map>
#include <optional>

#include "sftp_store_impl.hpp"

namespace tetherd::stores::sftp {

using namespace core;

namespace {

constexpr std::size_t kReadChunk = 64 * 1024;

StoreError error(Errc code, std::string detail = {}) {
  return StoreError::make(code, std::move(detail));
}

/// Reads a range of an open file with up to kReadAhead SSH_FXP_READ requests outstanding
/// (consecutive chunks), so that throughput is not one chunk per round trip. Replies are
/// consumed in offset order; a short reply (the file ended or shrank) drops the requests
/// beyond it and the reading continues from where the data stopped.
class ReadSource final : public ByteSource {
 public:
  ReadSource(Executor& executor, SessionPtr session, std::string handle, ReadRange range)
      : executor_(executor),
        session_(std::move(session)),
        handle_(std::move(handle)),
        requested_(range.offset),
        end_(range.length ? std::optional<std::uint64_t>(range.offset + *range.length)
                          : std::nullopt) {}
  ~ReadSource() override { close_quietly(session_, handle_); }

  void read(std::size_t max_bytes, Callback<Bytes> done) override {
    if (failure_) return post(done, *failure_);
    max_bytes_ = std::max<std::size_t>(max_bytes, 1);
    pending_ = std::move(done);
    fill_window();
    // What is already here is delivered on a later turn: never inline from read().
    auto self = std::static_pointer_cast<ReadSource>(shared_from_this());
    executor_.post([self] { self->deliver(); });
  }

  void cancel() override {
    if (!failure_) failure_ = error(Errc::Cancelled, "read cancelled");
    if (pending_) {
      auto done = std::move(pending_);
      pending_ = nullptr;
      post(done, *failure_);
    }
  }

 private:
  struct Slot {
    std::uint64_t offset = 0;
    std::uint32_t length = 0;
    std::optional<Result<Reply>> reply;
  };

  void post(Callback<Bytes> done, Result<Bytes> result) {
    executor_.post([done, result] { done(result); });
  }

  void fill_window() {
    while (!eof_ && slots_.size() < kReadAhead && (!end_ || requested_ < *end_)) {
      std::uint64_t length = kReadChunk;
      if (end_) length = std::min(length, *end_ - requested_);
      slots_.push_back(Slot{requested_, static_cast<std::uint32_t>(length), std::nullopt});
      const std::uint64_t generation = generation_;
      const std::uint64_t offset = requested_;
      auto self = std::static_pointer_cast<ReadSource>(shared_from_this());
      session_->request(
          kRead, Writer().str(handle_).u64(offset).u32(static_cast<std::uint32_t>(length)).take(),
          [self, generation, offset](Result<Reply> reply) {
            if (generation != self->generation_) return;  // dropped after a short read
            for (auto& slot : self->slots_) {
              if (slot.offset == offset) slot.reply = std::move(reply);
            }
            self->deliver();
          });
      requested_ += length;
    }
  }

  // Answers the pending read from the leftover bytes or the first slot, if it is in.
  void deliver() {
    if (!pending_) return;
    if (leftover_.empty() && !slots_.empty() && slots_.front().reply) consume_front();
    if (failure_) return finish(*failure_);
    if (!leftover_.empty()) {
      std::size_t count = std::min(max_bytes_, leftover_.size() - leftover_pos_);
      const auto* bytes = reinterpret_cast<const std::byte*>(leftover_.data() + leftover_pos_);
      Bytes chunk(bytes, bytes + count);
      leftover_pos_ += count;
      if (leftover_pos_ == leftover_.size()) {
        leftover_.clear();
        leftover_pos_ = 0;
      }
      fill_window();
      return finish(std::move(chunk));
    }
    if (slots_.empty() && (eof_ || (end_ && requested_ >= *end_))) return finish(Bytes{});
  }

  void consume_front() {
    Slot slot = std::move(slots_.front());
    slots_.pop_front();
    Result<Reply>& reply = *slot.reply;
    if (!reply) {
      failure_ = reply.error();
      return;
    }
    if (reply->type == kData) {
      Reader reader(reply->body);
      std::string data = reader.str();
      if (reader.failed()) {
        failure_ = protocol_error("bad SSH_FXP_DATA");
        return;
      }
      if (data.size() < slot.length) {
        // Short: what was asked beyond it is dropped and asked again from here.
        slots_.clear();
        ++generation_;
        requested_ = slot.offset + data.size();
        if (data.empty()) eof_ = true;
      }
      leftover_ = std::move(data);
      leftover_pos_ = 0;
      return;
    }
    std::string message;
    auto status = reply_status(*reply, &message);
    if (status && *status == kEof) {
      eof_ = true;
      slots_.clear();
      ++generation_;
      return;
    }
    failure_ = status ? status_error(*status, message) : protocol_error("unexpected read reply");
  }

  void finish(Result<Bytes> result) {
    auto done = std::move(pending_);
    pending_ = nullptr;
    done(std::move(result));
  }

  static constexpr std::size_t kReadAhead = 8;

  Executor& executor_;
  SessionPtr session_;
  std::string handle_;
  std::uint64_t requested_;  // where the next READ request starts
  std::optional<std::uint64_t> end_;
  std::deque<Slot> slots_;
  std::uint64_t generation_ = 0;
  std::string leftover_;  // data received beyond what a read asked for
  std::size_t leftover_pos_ = 0;
  std::size_t max_bytes_ = 1;
  bool eof_ = false;
  std::optional<StoreError> failure_;
  Callback<Bytes> pending_;
};

/// A listing stream. A recursive one reads the directories it will descend into ahead of
/// time, up to kListAhead at once on the session (SFTP carries many requests in flight),
/// so that a tree of many directories costs about one round trip per kListAhead of them
/// rather than one each; what it read ahead and has not emitted yet is its memory bound
/// beyond the directories on its path.
class ListStream final : public EntryStream {
 public:
  struct Frame {
    StoreKey dir;
    std::string path;
    std::vector<DirEntry> entries;
    std::size_t next = 0;
  };

  ListStream(Executor& executor, SessionPtr session, ListOptions options, Frame first)
      : executor_(executor), session_(std::move(session)), options_(options) {
    options_.batch_size = std::max<std::size_t>(options_.batch_size, 1);
    push_frame(std::move(first), false);  // no shared_from_this() in a constructor
  }

  void next(Callback<std::vector<EntryInfo>> done) override {
    if (cancelled_) return post(done, error(Errc::Cancelled, "listing cancelled"));
    pending_ = std::move(done);
    batch_.clear();
    read_ahead();
    fill();
  }
  void cancel() override {
    cancelled_ = true;
    ahead_.clear();
    wanted_.clear();
    if (pending_) {
      auto done = std::move(pending_);
      pending_ = nullptr;
      post(done, error(Errc::Cancelled, "listing cancelled"));
    }
  }

 private:
  static constexpr std::size_t kListAhead = 16;

  /// A directory read ahead: its entries once the read has answered.
  struct Ahead {
    StoreKey dir;
    std::optional<Result<std::vector<DirEntry>>> entries;
  };

  void post(Callback<std::vector<EntryInfo>> done, Result<std::vector<EntryInfo>> result) {
    executor_.post([done, result] { done(result); });
  }

  void deliver(Result<std::vector<EntryInfo>> result) {
    if (!pending_) return;
    auto done = std::move(pending_);
    pending_ = nullptr;
    post(done, std::move(result));
  }

  /// Enters a directory: its subdirectories are the next ones the walk needs, in order,
  /// ahead of what was wanted before (depth first).
  void push_frame(Frame frame, bool start_reads = true) {
    if (options_.recursive) {
      std::vector<std::pair<StoreKey, std::string>> subdirectories;
      for (const DirEntry& entry : frame.entries) {
        if (!entry.attrs.is_dir()) continue;
        if (auto key = frame.dir.join(entry.name)) {
          subdirectories.emplace_back(std::move(*key), frame.path + "/" + entry.name);
        }
      }
      wanted_.insert(wanted_.begin(), std::make_move_iterator(subdirectories.begin()),
                     std::make_move_iterator(subdirectories.end()));
    }
    stack_.push_back(std::move(frame));
    if (start_reads) read_ahead();
  }

  /// Starts reads of the wanted directories while fewer than kListAhead are read ahead.
  void read_ahead() {
    while (ahead_.size() < kListAhead && !wanted_.empty() && !cancelled_) {
      auto [dir, path] = std::move(wanted_.front());
      wanted_.pop_front();
      start_read(std::move(dir), std::move(path));
    }
  }

  void start_read(StoreKey dir, std::string path) {
    if (ahead_.count(path)) return;
    ahead_.emplace(path, Ahead{std::move(dir), std::nullopt});
    auto self = std::static_pointer_cast<ListStream>(shared_from_this());
    read_dir(session_, path, false, [self, path](Result<std::vector<DirEntry>> entries) {
      if (self->cancelled_) return;
      auto it = self->ahead_.find(path);
      if (it == self->ahead_.end()) return;
      it->second.entries = std::move(entries);
      if (self->waiting_for_ == path) {
        self->waiting_for_.clear();
        if (self->enter(path)) self->fill();
      }
    });
  }

  /// Descends into the directory read ahead at `path`; false when its read failed (the
  /// error is delivered).
  bool enter(const std::string& path) {
    auto it = ahead_.find(path);
    Ahead ahead = std::move(it->second);
    ahead_.erase(it);
    Result<std::vector<DirEntry>> entries = std::move(*ahead.entries);
    if (!entries) {
      // Removed between its listing and ours: it simply has no contents.
      if (entries.error().code != Errc::NotFound) {
        deliver(entries.error());
        return false;
      }
      entries = std::vector<DirEntry>{};
    }
    push_frame(Frame{std::move(ahead.dir), path, std::move(*entries), 0});
    return true;
  }

  // Takes entries until the batch is full or the walk is over; descends into directories
  // of a recursive listing right after emitting them, waiting for their read if it has
  // not answered yet.
  void fill() {
    while (batch_.size() < options_.batch_size && !stack_.empty()) {
      Frame& top = stack_.back();
      if (top.next == top.entries.size()) {
        stack_.pop_back();
        continue;
      }
      const DirEntry& entry = top.entries[top.next++];
      auto key = top.dir.join(entry.name);
      if (!key) continue;  // a name no key can hold ("\0" cannot occur; be safe)
      EntryInfo info = describe(*key, entry.attrs);
      info.link_target = entry.link_target;
      batch_.push_back(info);
      if (options_.recursive && entry.attrs.is_dir()) {
        std::string path = top.path + "/" + entry.name;
        if (!ahead_.count(path)) {
          // Not read ahead yet (it is the next one wanted, or the window was full).
          std::erase_if(wanted_, [&path](const auto& wanted) { return wanted.second == path; });
          start_read(*key, path);
        }
        if (!ahead_.at(path).entries) {
          waiting_for_ = path;
          return;
        }
        if (!enter(path)) return;
      }
    }
    deliver(std::move(batch_));
    batch_.clear();
  }

  Executor& executor_;
  SessionPtr session_;
  ListOptions options_;
  std::vector<Frame> stack_;
  /// Directories the walk will enter, in the order it will: the next ones to read ahead.
  std::deque<std::pair<StoreKey, std::string>> wanted_;
  /// Directories read or being read ahead, by server path, until the walk enters them.
  std::map<std::string, Ahead> ahead_;
  /// The directory whose read the walk waits for ("" when it does not wait).
  std::string waiting_for_;
  std::vector<EntryInfo> batch_;
  Callback<std::vector<EntryInfo>> pending_;
  bool cancelled_ = false;
};

}  // namespace

void SftpStore::do_read(const StoreKey& key, ReadRange range, const OperationRef& op,
                        Callback<ByteSourcePtr> done) {
  auto store = self();
  with_session<ByteSourcePtr>(op, done, [store, key, range, op, done](const SessionPtr& session) {
    walk(session, key, [store, session, key, range, op, done](Result<Walk> walked) {
      if (!walked) return done(walked.error());
      auto parents = check_parents(key, *walked, false);
      if (!parents) return done(parents.error());
      const auto& attrs = walked->back();
      if (!attrs) return done(error(Errc::NotFound));
      if (attrs->is_dir()) return done(error(Errc::IsDirectory));
      if (!attrs->is_file()) {
        return done(error(Errc::InvalidPath, "is a symbolic link, not a regular file"));
      }
      open_file(session, server_path(*session, key.str()), kOpenRead, {},
                [store, session, range, op, done](Result<std::string> handle) {
                  if (!handle) return done(handle.error());
                  auto source =
                      std::make_shared<ReadSource>(store->executor(), session, *handle, range);
                  if (op->cancel_requested()) return done(error(Errc::Cancelled));
                  done(ByteSourcePtr(source));
                });
    });
  });
}

void SftpStore::do_list(const StoreKey& dir, ListOptions options, const OperationRef& op,
                        Callback<EntryStreamPtr> done) {
  auto store = self();
  with_session<EntryStreamPtr>(op, done, [store, dir, options, done](const SessionPtr& session) {
    auto open = [store, session, dir, options, done] {
      std::string path = server_path(*session, dir.str());
      read_dir(session, path, false,
               [store, session, dir, path, options, done](Result<std::vector<DirEntry>> entries) {
                 if (!entries) return done(entries.error());
                 ListStream::Frame first{dir, path, std::move(*entries), 0};
                 done(EntryStreamPtr(std::make_shared<ListStream>(store->executor(), session,
                                                                  options, std::move(first))));
               });
    };
    if (dir.is_root()) return open();
    walk(session, dir, [dir, open, done](Result<Walk> walked) {
      if (!walked) return done(walked.error());
      auto parents = check_parents(dir, *walked, false);
      if (!parents) return done(parents.error());
      if (!walked->back()) return done(error(Errc::NotFound));
      if (!walked->back()->is_dir()) return done(error(Errc::NotADirectory));
      open();
    });
  });
}

}  // namespace tetherd::stores::sftp

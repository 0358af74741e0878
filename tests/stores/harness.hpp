#pragma once

// Synchronous wrappers over a Store for tests: each runs the loop until the operation
// completes. Plus byte sources that fail or stall on purpose.

#include <doctest/doctest.h>

#include <algorithm>
#include <optional>
#include <string>
#include <vector>

#include "test_loop.hpp"

namespace tetherd::test {

inline core::StoreKey key(std::string_view text) {
  auto parsed = core::StoreKey::parse(text);
  REQUIRE_MESSAGE(parsed.ok(), "bad test key");
  return *parsed;
}

/// Pseudo-random bytes (deterministic per seed).
inline std::string pattern(std::size_t size, unsigned seed = 1) {
  std::string data(size, '\0');
  std::uint32_t state = seed * 2654435761u + 1;
  for (auto& c : data) {
    state = state * 1664525u + 1013904223u;
    c = static_cast<char>(state >> 24);
  }
  return data;
}

/// Delivers `good_bytes` of 'x' in chunks, then fails with `error`, stalls (see below) or
/// ends. Its size is unknown unless declared.
class ScriptedSource final : public core::ByteSource {
 public:
  enum class End { Fail, Stall, Finish };
  ScriptedSource(core::Executor& executor, std::size_t good_bytes, End end,
                 core::StoreError error = core::StoreError::make(core::Errc::IoError))
      : executor_(executor), remaining_(good_bytes), end_(end), error_(std::move(error)) {}

  void read(std::size_t max_bytes, core::Callback<core::Bytes> done) override {
    ++reads_;
    auto self = std::static_pointer_cast<ScriptedSource>(shared_from_this());
    if (cancelled_) {
      executor_.post([done] { done(core::StoreError::make(core::Errc::Cancelled)); });
      return;
    }
    if (remaining_ == 0) {
      if (end_ == End::Fail) {
        executor_.post([self, done] { done(self->error_); });
      } else if (end_ == End::Finish) {
        executor_.post([done] { done(core::Bytes{}); });
      } else {
        stalled_ = done;  // answered only by cancel()
      }
      return;
    }
    std::size_t count = std::min(max_bytes, remaining_);
    remaining_ -= count;
    executor_.post([done, count] { done(core::to_bytes(std::string(count, 'x'))); });
  }
  void cancel() override {
    cancelled_ = true;
    if (stalled_) {
      auto done = std::move(stalled_);
      stalled_ = nullptr;
      executor_.post([done] { done(core::StoreError::make(core::Errc::Cancelled)); });
    }
  }
  std::optional<std::uint64_t> size() const override { return declared_; }
  /// Makes size() tell `size` (true or not).
  void declare_size(std::uint64_t size) { declared_ = size; }
  bool stalled() const { return static_cast<bool>(stalled_); }
  int reads() const { return reads_; }

 private:
  core::Executor& executor_;
  std::size_t remaining_;
  End end_;
  core::StoreError error_;
  core::Callback<core::Bytes> stalled_;
  std::optional<std::uint64_t> declared_;
  bool cancelled_ = false;
  int reads_ = 0;
};

template <typename Fixture>
struct Harness {
  TestLoop loop;
  Fixture fixture{loop.executor()};
  core::StorePtr store = fixture.store;

  ~Harness() {
    bool closed = false;
    store->close([&](core::Result<void>) { closed = true; });
    loop.run_until([&] { return closed; });
  }

  bool has(core::Capability capability) const { return store->capabilities().has(capability); }

  core::ByteSourcePtr source(const std::string& data) {
    return core::MemoryByteSource::make(loop.executor(), core::to_bytes(data));
  }

  core::Result<core::EntryInfo> write(std::string_view k, const std::string& data,
                                      core::WriteOptions options = {}) {
    return loop.await<core::EntryInfo>([&](core::Callback<core::EntryInfo> done) {
      store->write(key(k), source(data), options, done);
    });
  }
  core::Result<std::string> drain(core::ByteSourcePtr source) {
    std::string data;
    while (true) {
      auto chunk = loop.await<core::Bytes>(
          [&](core::Callback<core::Bytes> done) { source->read(1 << 20, done); });
      if (!chunk) return chunk.error();
      if (chunk->empty()) return data;
      data += core::bytes_to_string(*chunk);
    }
  }
  core::Result<std::string> read(std::string_view k, core::ReadRange range = {}) {
    auto opened = loop.await<core::ByteSourcePtr>(
        [&](core::Callback<core::ByteSourcePtr> done) { store->read(key(k), range, done); });
    if (!opened) return opened.error();
    return drain(*opened);
  }
  core::Result<core::EntryInfo> stat(std::string_view k) {
    return loop.await<core::EntryInfo>(
        [&](core::Callback<core::EntryInfo> done) { store->stat(key(k), done); });
  }
  bool exists(std::string_view k) { return stat(k).ok(); }
  core::Result<std::vector<core::EntryInfo>> list(std::string_view dir, bool recursive,
                                                  std::size_t batch_size = 256) {
    auto opened = loop.await<core::EntryStreamPtr>([&](core::Callback<core::EntryStreamPtr> done) {
      store->list(key(dir), {recursive, batch_size}, done);
    });
    if (!opened) return opened.error();
    std::vector<core::EntryInfo> entries;
    while (true) {
      auto batch = loop.await<std::vector<core::EntryInfo>>(
          [&](core::Callback<std::vector<core::EntryInfo>> done) { (*opened)->next(done); });
      if (!batch) return batch.error();
      if (batch->empty()) return entries;
      CHECK(batch->size() <= batch_size);
      entries.insert(entries.end(), batch->begin(), batch->end());
    }
  }
  std::vector<std::string> keys(std::string_view dir = "", bool recursive = true) {
    auto entries = list(dir, recursive);
    REQUIRE(entries.ok());
    std::vector<std::string> names;
    for (auto& entry : *entries)
      names.push_back(entry.key.str());
    return names;
  }
  core::Result<void> remove(std::string_view k, bool missing_ok = false) {
    return loop.await<void>(
        [&](core::Callback<void> done) { store->remove(key(k), missing_ok, done); });
  }
  core::Result<void> mkdir(std::string_view k) {
    return loop.await<void>([&](core::Callback<void> done) { store->mkdir(key(k), done); });
  }
  core::Result<void> mkdir(std::string_view k, core::MkdirOptions options) {
    return loop.await<void>(
        [&](core::Callback<void> done) { store->mkdir(key(k), options, done); });
  }
  core::Result<void> rmdir(std::string_view k, bool recursive) {
    return loop.await<void>(
        [&](core::Callback<void> done) { store->rmdir(key(k), recursive, done); });
  }
  core::Result<void> copy(std::string_view from, std::string_view to, bool overwrite) {
    return loop.await<void>(
        [&](core::Callback<void> done) { store->copy(key(from), key(to), overwrite, done); });
  }
  core::Result<void> move(std::string_view from, std::string_view to, bool overwrite) {
    return loop.await<void>(
        [&](core::Callback<void> done) { store->move(key(from), key(to), overwrite, done); });
  }
  core::Result<void> set_attrs(std::string_view k, core::Attrs attrs) {
    return loop.await<void>(
        [&](core::Callback<void> done) { store->set_attrs(key(k), attrs, done); });
  }
  core::Result<void> symlink(std::string_view k, const std::string& target) {
    return loop.await<void>(
        [&](core::Callback<void> done) { store->symlink(key(k), target, done); });
  }
  core::Result<std::string> readlink(std::string_view k) {
    return loop.await<std::string>(
        [&](core::Callback<std::string> done) { store->readlink(key(k), done); });
  }
};

}  // namespace tetherd::test

// The store conformance suite (the store contract of core/include/tetherd/core/store.hpp), run
// against every fixture in TETHERD_STORE_FIXTURES and gated by the capabilities each store
// declares.

#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>

#include "fixtures.hpp"
#include "harness.hpp"

using namespace tetherd;
using namespace tetherd::test;
using core::Capability;
using core::Errc;

namespace {

template <typename F>
std::vector<std::string> raw_names(Harness<F>& h) {
  if constexpr (requires(F fixture) { fixture.root(); }) {
    return h.fixture.raw_names();
  } else {
    return h.keys();
  }
}

template <typename T>
Errc code_of(const core::Result<T>& result) {
  REQUIRE_FALSE(result.ok());
  return result.error().code;
}

core::TimePoint time_at(std::int64_t seconds, std::int64_t nanos) {
  return core::TimePoint(std::chrono::seconds(seconds) + std::chrono::nanoseconds(nanos));
}

bool within(core::TimePoint a, core::TimePoint b,
            std::optional<std::chrono::nanoseconds> precision) {
  auto difference = a > b ? a - b : b - a;
  return difference <= precision.value_or(std::chrono::nanoseconds(0));
}

}  // namespace

TEST_CASE_TEMPLATE("conformance 01: keys are validated and names round-trip", F,
                   TETHERD_STORE_FIXTURES) {
  TETHERD_SKIP_IF_UNAVAILABLE(F)
  Harness<F> h;
  REQUIRE(h.has(Capability::Write));
  // The root is not a file.
  auto root_write =
      h.loop.template await<core::EntryInfo>([&](core::Callback<core::EntryInfo> done) {
        h.store->write(core::StoreKey::root(), h.source("x"), {}, done);
      });
  CHECK(code_of(root_write) == Errc::InvalidPath);
  CHECK(core::StoreKey::parse("../escape").error().code == Errc::InvalidPath);
  CHECK(core::StoreKey::parse(std::string("a\0b", 3)).error().code == Errc::InvalidPath);

  std::vector<std::string> names = {"caf\xc3\xa9 \xe2\x98\x83.txt",
                                    "with space",
                                    "plus+sign",
                                    "100%",
                                    "back\\slash",
                                    "-dash",
                                    "#hash?"};
  if (h.fixture.posix_bytes()) names.push_back("latin1-\xe9\xff");
  for (const auto& name : names) {
    CAPTURE(core::printable(name));
    REQUIRE(h.write("names/" + name, "content of " + name).ok());
    auto data = h.read("names/" + name);
    REQUIRE(data.ok());
    CHECK(*data == "content of " + name);
  }
  auto listed = h.keys("names", false);
  CHECK(listed.size() == names.size());
  for (const auto& key_text : listed)
    CHECK(h.read(key_text).ok());  // keys feed back
}

TEST_CASE_TEMPLATE("conformance 02: write then read returns the same bytes", F,
                   TETHERD_STORE_FIXTURES) {
  TETHERD_SKIP_IF_UNAVAILABLE(F)
  Harness<F> h;
  for (std::size_t size : {std::size_t{0}, std::size_t{1}, std::size_t{(8u << 20) + 13}}) {
    CAPTURE(size);
    std::string data = pattern(size, static_cast<unsigned>(size));
    auto written = h.write("data/file.bin", data);
    REQUIRE(written.ok());
    CHECK(written->size == size);
    CHECK(written->type == core::EntryType::File);
    auto back = h.read("data/file.bin");
    REQUIRE(back.ok());
    CHECK(back->size() == size);
    CHECK(*back == data);
  }
  // Ranges.
  std::string data = pattern(1000, 7);
  REQUIRE(h.write("range", data).ok());
  CHECK(*h.read("range", {100, 50}) == data.substr(100, 50));
  CHECK(*h.read("range", {990, std::nullopt}) == data.substr(990));
  CHECK(h.read("range", {5000, 10})->empty());
}

TEST_CASE_TEMPLATE("conformance 03: overwrite=false refuses an existing file", F,
                   TETHERD_STORE_FIXTURES) {
  TETHERD_SKIP_IF_UNAVAILABLE(F)
  Harness<F> h;
  REQUIRE(h.write("a.txt", "old").ok());
  core::WriteOptions options;
  options.overwrite = false;
  CHECK(code_of(h.write("a.txt", "new", options)) == Errc::AlreadyExists);
  CHECK(*h.read("a.txt") == "old");
  CHECK(h.write("b.txt", "fresh", options).ok());
  if (h.has(Capability::Symlink)) {
    REQUIRE(h.symlink("link", "a.txt").ok());
    CHECK(code_of(h.write("link", "new", options)) == Errc::AlreadyExists);
  }
}

TEST_CASE_TEMPLATE("conformance 04: overwrite replaces; missing parents are created", F,
                   TETHERD_STORE_FIXTURES) {
  TETHERD_SKIP_IF_UNAVAILABLE(F)
  Harness<F> h;
  REQUIRE(h.write("a/b/c/d.txt", "one").ok());
  REQUIRE(h.write("a/b/c/d.txt", "two, longer").ok());
  CHECK(*h.read("a/b/c/d.txt") == "two, longer");
  REQUIRE(h.write("a/b/c/d.txt", "3").ok());
  CHECK(*h.read("a/b/c/d.txt") == "3");
  for (auto dir : {"a", "a/b", "a/b/c"}) {
    auto info = h.stat(dir);
    REQUIRE(info.ok());
    CHECK(info->type == core::EntryType::Directory);
  }
  core::WriteOptions non_atomic;
  non_atomic.atomic = false;
  REQUIRE(h.write("x/y/plain.txt", "plain", non_atomic).ok());
  CHECK(*h.read("x/y/plain.txt") == "plain");
  REQUIRE(h.write("x/y/plain.txt", "again", non_atomic).ok());
  CHECK(*h.read("x/y/plain.txt") == "again");
}

TEST_CASE_TEMPLATE("conformance 05: writing onto a directory or under a file is refused", F,
                   TETHERD_STORE_FIXTURES) {
  TETHERD_SKIP_IF_UNAVAILABLE(F)
  Harness<F> h;
  REQUIRE(h.write("dir/inner.txt", "x").ok());
  CHECK(code_of(h.write("dir", "y")) == Errc::IsDirectory);
  REQUIRE(h.write("file.txt", "x").ok());
  CHECK(code_of(h.write("file.txt/child", "y")) == Errc::NotADirectory);
  CHECK(code_of(h.write("file.txt/deeper/child", "y")) == Errc::NotADirectory);
  CHECK(*h.read("file.txt") == "x");
  if (h.has(Capability::Mkdir)) CHECK(code_of(h.mkdir("file.txt")) == Errc::AlreadyExists);
  CHECK(code_of(h.read("dir")) == Errc::IsDirectory);
}

TEST_CASE_TEMPLATE("conformance 06: missing keys are NotFound; missing_ok only for NotFound", F,
                   TETHERD_STORE_FIXTURES) {
  TETHERD_SKIP_IF_UNAVAILABLE(F)
  Harness<F> h;
  CHECK(code_of(h.read("nope")) == Errc::NotFound);
  CHECK(code_of(h.stat("nope")) == Errc::NotFound);
  CHECK(code_of(h.stat("no/such/dir/file")) == Errc::NotFound);
  CHECK(code_of(h.remove("nope")) == Errc::NotFound);
  CHECK(h.remove("nope", true).ok());
  CHECK(h.remove("no/such/parent", true).ok());
  REQUIRE(h.write("file", "x").ok());
  CHECK(code_of(h.remove("file/child", true)) == Errc::NotADirectory);
  REQUIRE(h.mkdir("dir").ok());
  CHECK(code_of(h.remove("dir", true)) == Errc::IsDirectory);
  auto error = h.read("nope").error();
  CHECK(error.message().find("'nope'") != std::string::npos);
  CHECK(error.message().find("read") != std::string::npos);
  CHECK_FALSE(error.retryable);
}

TEST_CASE_TEMPLATE("conformance 07: a source failing mid-write leaves no target, no temp", F,
                   TETHERD_STORE_FIXTURES) {
  TETHERD_SKIP_IF_UNAVAILABLE(F)
  Harness<F> h;
  REQUIRE(h.has(Capability::AtomicWrite));
  REQUIRE(h.write("keep.txt", "previous").ok());
  auto before = raw_names(h);
  for (std::string target : {"fresh/new.bin", "keep.txt"}) {
    CAPTURE(target);
    auto failure = core::StoreError::make(Errc::Unavailable, "source went away");
    failure.retryable = true;
    auto source = std::make_shared<ScriptedSource>(h.loop.executor(), 3u << 20,
                                                   ScriptedSource::End::Fail, failure);
    auto result = h.loop.template await<core::EntryInfo>([&](core::Callback<core::EntryInfo> done) {
      h.store->write(key(target), source, {}, done);
    });
    REQUIRE_FALSE(result.ok());
    CHECK(result.error().code == Errc::Unavailable);
    CHECK(result.error().detail == "source went away");
    CHECK(result.error().retryable);
  }
  CHECK_FALSE(h.exists("fresh/new.bin"));
  CHECK(*h.read("keep.txt") == "previous");
  // Opted out of atomicity: a failed write still leaves no partial file behind.
  core::WriteOptions plain;
  plain.atomic = false;
  auto partial =
      std::make_shared<ScriptedSource>(h.loop.executor(), 3u << 20, ScriptedSource::End::Fail,
                                       core::StoreError::make(Errc::IoError));
  auto plain_result =
      h.loop.template await<core::EntryInfo>([&](core::Callback<core::EntryInfo> done) {
        h.store->write(key("fresh/plain.bin"), partial, plain, done);
      });
  CHECK(code_of(plain_result) == Errc::IoError);
  CHECK_FALSE(h.exists("fresh/plain.bin"));
  auto after = raw_names(h);
  after.erase(std::remove(after.begin(), after.end(), "fresh"), after.end());  // parent may stay
  CHECK(after == before);
}

TEST_CASE_TEMPLATE("conformance 08: cancelling a write leaves no target, no temp", F,
                   TETHERD_STORE_FIXTURES) {
  TETHERD_SKIP_IF_UNAVAILABLE(F)
  Harness<F> h;
  REQUIRE(h.write("keep.txt", "previous").ok());
  auto before = raw_names(h);
  for (std::string target : {"new.bin", "keep.txt"}) {
    CAPTURE(target);
    auto source =
        std::make_shared<ScriptedSource>(h.loop.executor(), 2u << 20, ScriptedSource::End::Stall,
                                         core::StoreError::make(Errc::Protocol));
    std::optional<core::Result<core::EntryInfo>> result;
    auto handle = h.store->write(key(target), source, {}, [&](core::Result<core::EntryInfo> r) {
      result.emplace(std::move(r));
    });
    REQUIRE(h.loop.run_until([&] { return source->stalled(); }));
    CHECK(handle.pending());
    // Readers see the old state while the write is in progress.
    if (target == "keep.txt") CHECK(*h.read("keep.txt") == "previous");
    if (target == "new.bin") CHECK_FALSE(h.exists("new.bin"));
    CHECK(h.keys() == std::vector<std::string>{"keep.txt"});
    handle.cancel();
    REQUIRE(h.loop.run_until([&] { return result.has_value(); }));
    REQUIRE_FALSE(result->ok());
    CHECK(result->error().code == Errc::Cancelled);
    CHECK_FALSE(handle.pending());
  }
  // Cancelled before any data moved.
  std::optional<core::Result<core::EntryInfo>> early;
  auto handle =
      h.store->write(key("early.bin"), h.source(pattern(4u << 20)), {},
                     [&](core::Result<core::EntryInfo> r) { early.emplace(std::move(r)); });
  handle.cancel();
  REQUIRE(h.loop.run_until([&] { return early.has_value(); }));
  CHECK(code_of(*early) == Errc::Cancelled);
  CHECK_FALSE(h.exists("new.bin"));
  CHECK_FALSE(h.exists("early.bin"));
  CHECK(*h.read("keep.txt") == "previous");
  CHECK(raw_names(h) == before);
}

TEST_CASE_TEMPLATE("conformance 09: size, mtime and mode round-trip", F, TETHERD_STORE_FIXTURES) {
  TETHERD_SKIP_IF_UNAVAILABLE(F)
  Harness<F> h;
  auto precision = h.store->capabilities().mtime_precision;
  REQUIRE(h.has(Capability::SetMtime));
  core::WriteOptions options;
  options.mtime = time_at(1'600'000'000, 123'456'789);
  if (h.has(Capability::SetMode)) options.mode = 0640;
  auto written = h.write("dir/timed.txt", "12345", options);
  REQUIRE(written.ok());
  auto info = h.stat("dir/timed.txt");
  REQUIRE(info.ok());
  CHECK(info->size == 5);
  REQUIRE(info->mtime.has_value());
  CHECK(within(*info->mtime, *options.mtime, precision));
  CHECK(written->mtime == info->mtime);
  if (options.mode) CHECK(info->mode == 0640u);

  core::Attrs attrs;
  attrs.mtime = time_at(1'700'000'000, 5);
  if (h.has(Capability::SetMode)) attrs.mode = 0600;
  REQUIRE(h.set_attrs("dir/timed.txt", attrs).ok());
  info = h.stat("dir/timed.txt");
  REQUIRE(info.ok());
  CHECK(within(*info->mtime, *attrs.mtime, precision));
  if (attrs.mode) CHECK(info->mode == 0600u);
  // Directories take an mtime too.
  REQUIRE(h.set_attrs("dir", {time_at(1'500'000'000, 0), std::nullopt}).ok());
  CHECK(within(*h.stat("dir")->mtime, time_at(1'500'000'000, 0), precision));
  CHECK(code_of(h.set_attrs("missing", attrs)) == Errc::NotFound);
  CHECK(code_of(h.set_attrs("", attrs)) == Errc::InvalidPath);
  auto root = h.stat("");
  REQUIRE(root.ok());
  CHECK(root->type == core::EntryType::Directory);
}

TEST_CASE_TEMPLATE("conformance 10: listings stream in order, bounded, > 1000 entries", F,
                   TETHERD_STORE_FIXTURES) {
  TETHERD_SKIP_IF_UNAVAILABLE(F)
  Harness<F> h;
  REQUIRE(h.has(Capability::List));
  constexpr int kFiles = 1100;
  int pending = 0;
  int failures = 0;
  for (int i = 0; i < kFiles; ++i) {  // many writes in flight at once
    ++pending;
    h.store->write(key("many/f" + std::to_string(i)), h.source(std::to_string(i)), {},
                   [&](core::Result<core::EntryInfo> r) {
                     --pending;
                     if (!r) ++failures;
                   });
  }
  REQUIRE(h.loop.run_until([&] { return pending == 0; }));
  CHECK(failures == 0);
  REQUIRE(h.write("many/sub/deep/x", "x").ok());
  REQUIRE(h.write("top.txt", "t").ok());

  auto flat = h.list("many", false, 100);
  REQUIRE(flat.ok());
  CHECK(flat->size() == kFiles + 1);
  auto recursive = h.list("", true, 100);
  REQUIRE(recursive.ok());
  CHECK(recursive->size() == kFiles + 1 + 3 + 1);  // + many; sub, deep, x; top.txt
  CHECK(std::is_sorted(recursive->begin(), recursive->end(),
                       [](const auto& a, const auto& b) { return a.key < b.key; }));
  CHECK(std::is_sorted(flat->begin(), flat->end(),
                       [](const auto& a, const auto& b) { return a.key < b.key; }));
  // Returned keys feed back into other calls.
  for (const auto& entry : *recursive) {
    auto info = h.stat(entry.key.str());
    REQUIRE(info.ok());
    CHECK(info->type == entry.type);
    if (entry.key.str() == "many/f42") CHECK(*h.read(entry.key.str()) == "42");
  }
  CHECK(code_of(h.list("top.txt", false)) == Errc::NotADirectory);
  CHECK(code_of(h.list("absent", true)) == Errc::NotFound);
  auto sub = h.keys("many/sub", true);
  CHECK(sub == std::vector<std::string>{"many/sub/deep", "many/sub/deep/x"});
}

TEST_CASE_TEMPLATE("conformance 10b: a recursive listing of many nested directories", F,
                   TETHERD_STORE_FIXTURES) {
  TETHERD_SKIP_IF_UNAVAILABLE(F)
  Harness<F> h;
  REQUIRE(h.has(Capability::List));
  // 3 levels of 4, 5 and 3 directories (more than a store may read ahead at once), names
  // that sort around the separator ("d1", "d1-x", "d1.x"), a file at every level.
  int pending = 0, failures = 0;
  auto write = [&](const std::string& path) {
    ++pending;
    h.store->write(key(path), h.source(path), {}, [&](core::Result<core::EntryInfo> r) {
      --pending;
      if (!r) ++failures;
    });
  };
  for (const std::string a : {"d1", "d1-x", "d1.x", "d2"}) {
    write(a + "/f");
    for (int b = 0; b < 5; ++b) {
      const std::string middle = a + "/m" + std::to_string(b);
      write(middle + "/f");
      for (int c = 0; c < 3; ++c)
        write(middle + "/l" + std::to_string(c) + "/f");
    }
  }
  REQUIRE(h.loop.run_until([&] { return pending == 0; }));
  REQUIRE(failures == 0);
  const auto reference = h.list("", true, 1000);
  REQUIRE(reference.ok());
  CHECK(reference->size() == 4 * (2 + 5 * (2 + 3 * 2)));
  CHECK(std::is_sorted(reference->begin(), reference->end(),
                       [](const auto& a, const auto& b) { return a.key < b.key; }));
  for (const std::size_t batch : {std::size_t{1}, std::size_t{7}}) {
    const auto listed = h.list("", true, batch);
    REQUIRE(listed.ok());
    REQUIRE(listed->size() == reference->size());
    for (std::size_t i = 0; i < listed->size(); ++i) {
      CHECK((*listed)[i].key == (*reference)[i].key);
      CHECK((*listed)[i].type == (*reference)[i].type);
    }
  }
  auto within = h.keys("d1", true);
  CHECK(within.size() == 1 + 5 * (2 + 3 * 2));
  CHECK(within.front() == "d1/f");
}

TEST_CASE_TEMPLATE("conformance 11: copy and move", F, TETHERD_STORE_FIXTURES) {
  TETHERD_SKIP_IF_UNAVAILABLE(F)
  Harness<F> h;
  REQUIRE(h.has(Capability::Move));
  // COPY is optional: a store without a server-side copy (sftp: SFTP v3 has none) does not
  // declare it, and the front refuses it (conformance 14); its moves are checked alike.
  const bool copies = h.has(Capability::Copy);
  core::WriteOptions options;
  options.mtime = time_at(1'650'000'000, 0);
  options.mode = 0604;
  REQUIRE(h.write("src.txt", "source", options).ok());
  REQUIRE(h.write("other.txt", "other").ok());
  // NotFound on the source wins over everything.
  if (copies) CHECK(code_of(h.copy("missing", "other.txt", false)) == Errc::NotFound);
  CHECK(code_of(h.move("missing", "other.txt", false)) == Errc::NotFound);
  if (copies) CHECK(code_of(h.copy("src.txt", "other.txt", false)) == Errc::AlreadyExists);
  CHECK(code_of(h.move("src.txt", "other.txt", false)) == Errc::AlreadyExists);
  CHECK(*h.read("other.txt") == "other");
  // Same key: no-op.
  if (copies) CHECK(h.copy("src.txt", "src.txt", false).ok());
  CHECK(h.move("src.txt", "src.txt", false).ok());
  CHECK(*h.read("src.txt") == "source");
  // Copy keeps content, mtime and mode; parents are created.
  if (copies) {
    REQUIRE(h.copy("src.txt", "copies/a/copy.txt", false).ok());
    CHECK(*h.read("copies/a/copy.txt") == "source");
    auto copied = h.stat("copies/a/copy.txt");
    CHECK(copied->mtime == options.mtime);
    CHECK(copied->mode == 0604u);
    REQUIRE(h.copy("src.txt", "other.txt", true).ok());
  }
  const std::string other = copies ? "source" : "other";
  CHECK(*h.read("other.txt") == other);
  // Move a file, with and without overwrite.
  REQUIRE(h.move("other.txt", "moved/m.txt", false).ok());
  CHECK_FALSE(h.exists("other.txt"));
  CHECK(*h.read("moved/m.txt") == other);
  REQUIRE(h.write("replace.txt", "new").ok());
  REQUIRE(h.move("replace.txt", "moved/m.txt", true).ok());
  CHECK(*h.read("moved/m.txt") == "new");
  // Move a directory with its contents.
  REQUIRE(h.write("tree/a/1.txt", "1").ok());
  REQUIRE(h.write("tree/b.txt", "b").ok());
  REQUIRE(h.move("tree", "renamed/tree", false).ok());
  CHECK_FALSE(h.exists("tree"));
  CHECK(h.keys("renamed", true) == std::vector<std::string>{"renamed/tree", "renamed/tree/a",
                                                            "renamed/tree/a/1.txt",
                                                            "renamed/tree/b.txt"});
  CHECK(code_of(h.move("renamed", "renamed/tree/inside", false)) == Errc::InvalidPath);
  // Directory type clashes.
  CHECK(code_of(h.move("src.txt", "renamed", true)) == Errc::IsDirectory);
  CHECK(code_of(h.move("renamed/tree", "src.txt", true)) == Errc::NotADirectory);
  REQUIRE(h.write("full/x", "x").ok());
  CHECK(code_of(h.move("renamed/tree", "full", true)) == Errc::DirectoryNotEmpty);
  if (copies) CHECK(code_of(h.copy("renamed", "c", false)) == Errc::IsDirectory);
}

TEST_CASE_TEMPLATE("conformance 12: an interrupted move keeps source or destination", F,
                   TETHERD_STORE_FIXTURES) {
  TETHERD_SKIP_IF_UNAVAILABLE(F)
  Harness<F> h;
  std::string data = pattern(6u << 20, 3);
  for (int round = 0; round < 4; ++round) {
    std::string from = "m/src" + std::to_string(round);
    std::string to = "n/dst" + std::to_string(round);
    REQUIRE(h.write(from, data).ok());
    std::optional<core::Result<void>> result;
    auto handle = h.store->move(key(from), key(to), false,
                                [&](core::Result<void> r) { result.emplace(std::move(r)); });
    // Cancel at different points: at once, and after a few loop turns.
    for (int turn = 0; turn < round; ++turn)
      uv_run(h.loop.loop(), UV_RUN_NOWAIT);
    handle.cancel();
    REQUIRE(h.loop.run_until([&] { return result.has_value(); }));
    bool at_source = h.exists(from);
    bool at_destination = h.exists(to);
    CHECK(at_source != at_destination);  // exactly one of them, never neither
    if (result->ok()) CHECK(at_destination);
    if (!result->ok()) CHECK(result->error().code == Errc::Cancelled);
    CHECK(*h.read(at_source ? from : to) == data);
  }
}

TEST_CASE_TEMPLATE("conformance 13: rmdir", F, TETHERD_STORE_FIXTURES) {
  TETHERD_SKIP_IF_UNAVAILABLE(F)
  Harness<F> h;
  REQUIRE(h.write("d/sub/file", "x").ok());
  REQUIRE(h.mkdir("d/empty").ok());
  CHECK(h.mkdir("d/empty").ok());  // existing directory: fine
  CHECK(code_of(h.rmdir("d", false)) == Errc::DirectoryNotEmpty);
  CHECK(h.rmdir("d/empty", false).ok());
  CHECK_FALSE(h.exists("d/empty"));
  CHECK(code_of(h.rmdir("d/sub/file", false)) == Errc::NotADirectory);
  CHECK(code_of(h.rmdir("nope", true)) == Errc::NotFound);
  CHECK(h.rmdir("d", true).ok());
  CHECK(h.keys().empty());
  CHECK(code_of(h.rmdir("", true)) == Errc::InvalidPath);
  CHECK(code_of(h.remove("", true)) == Errc::InvalidPath);
  REQUIRE(h.write("still/here", "x").ok());
  CHECK(code_of(h.rmdir("/", true)) == Errc::InvalidPath);
  CHECK(h.exists("still/here"));
}

TEST_CASE_TEMPLATE("conformance 13b: mkdir with a mode ends with that mode, made or found", F,
                   TETHERD_STORE_FIXTURES) {
  TETHERD_SKIP_IF_UNAVAILABLE(F)
  Harness<F> h;
  REQUIRE(h.has(Capability::Mkdir));
  if (!h.has(Capability::SetMode)) {
    CHECK(code_of(h.mkdir("d", core::MkdirOptions{0750})) == Errc::CapabilityNotSupported);
    CHECK_FALSE(h.exists("d"));
    return;
  }
  REQUIRE(h.mkdir("made/deep", core::MkdirOptions{0750}).ok());
  CHECK(h.stat("made/deep")->mode == std::optional<std::uint32_t>(0750));
  CHECK(h.stat("made")->type == core::EntryType::Directory);  // a parent, default mode
  REQUIRE(h.mkdir("found").ok());
  REQUIRE(h.mkdir("found", core::MkdirOptions{0701}).ok());  // existing: the mode is set
  CHECK(h.stat("found")->mode == std::optional<std::uint32_t>(0701));
  REQUIRE(h.mkdir("found").ok());  // no mode: an existing directory keeps its own
  CHECK(h.stat("found")->mode == std::optional<std::uint32_t>(0701));
  REQUIRE(h.write("file", "x").ok());
  CHECK(code_of(h.mkdir("file", core::MkdirOptions{0700})) == Errc::AlreadyExists);
  CHECK(h.stat("file")->type == core::EntryType::File);
}

TEST_CASE_TEMPLATE("conformance 14: undeclared capabilities fail before any I/O", F,
                   TETHERD_STORE_FIXTURES) {
  TETHERD_SKIP_IF_UNAVAILABLE(F)
  Harness<F> h;
  const auto& declared = h.store->capabilities();
  // Each gate with an operation that needs it.
  auto attempt = [&](Capability gate) -> core::Result<void> {
    auto to_void = [](auto result) -> core::Result<void> {
      if (!result) return result.error();
      return core::success();
    };
    switch (gate) {
      case Capability::Read:
        return to_void(h.read("gate/x"));
      case Capability::Write:
        return to_void(h.write("gate/x", "x", {false, false, {}, {}, {}}));
      case Capability::AtomicWrite:
        return to_void(h.write("gate/x", "x"));
      case Capability::Delete:
        return h.remove("gate/x", true);
      case Capability::List:
        return to_void(h.list("", true));
      case Capability::Move:
        return h.move("gate/x", "gate/y", false);
      case Capability::Copy:
        return h.copy("gate/x", "gate/y", false);
      case Capability::Metadata:
        return to_void(h.stat("gate/x"));
      case Capability::SetMtime:
        return h.set_attrs("gate/x", {time_at(1, 0), std::nullopt});
      case Capability::SetMode:
        return h.set_attrs("gate/x", {std::nullopt, 0600});
      case Capability::Symlink:
        return h.symlink("gate/x", "target");
      case Capability::Mkdir:
        return h.mkdir("gate/x");
      default:
        return core::success();
    }
  };
  int checked = 0;
  for (auto capability : core::all_capabilities()) {
    if (!core::is_gate(capability) || declared.has(capability)) continue;
    if (capability == Capability::UserMetadata) continue;  // no operation uses it yet
    CAPTURE(core::to_string(capability));
    auto result = attempt(capability);
    CHECK(code_of(result) == Errc::CapabilityNotSupported);
    ++checked;
  }
  MESSAGE(F::kName << ": " << checked << " undeclared gates checked (" << declared.to_string()
                   << ")");
  // The narrowed memory store checks every gate (memory_store_test.cpp).
}

/// The directory outside the store still holds only "victim", and it still says "precious":
/// nothing was written through a symlink.
inline void check_only_the_victim_outside(const std::filesystem::path& outside) {
  std::vector<std::string> names;
  for (auto& entry : std::filesystem::directory_iterator(outside)) {
    names.push_back(entry.path().filename().string());
  }
  CHECK(names == std::vector<std::string>{"victim"});
  std::ifstream victim(outside / "victim");
  std::string content;
  std::getline(victim, content);
  CHECK(content == "precious");
}

TEST_CASE_TEMPLATE("conformance 16: child() scoping and symlinks cannot lead outside", F,
                   TETHERD_STORE_FIXTURES) {
  TETHERD_SKIP_IF_UNAVAILABLE(F)
  Harness<F> h;
  REQUIRE(h.write("outer.txt", "outer").ok());
  auto child = h.store->child(key("scoped/area"));
  auto write_child =
      h.loop.template await<core::EntryInfo>([&](core::Callback<core::EntryInfo> done) {
        child->write(key("in.txt"), h.source("inside"), {}, done);
      });
  REQUIRE(write_child.ok());
  CHECK(write_child->key.str() == "in.txt");
  CHECK(*h.read("scoped/area/in.txt") == "inside");
  auto child_stat = h.loop.template await<core::EntryInfo>(
      [&](core::Callback<core::EntryInfo> done) { child->stat(key("in.txt"), done); });
  REQUIRE(child_stat.ok());
  CHECK(child_stat->key.str() == "in.txt");
  auto child_list =
      h.loop.template await<core::EntryStreamPtr>([&](core::Callback<core::EntryStreamPtr> done) {
        child->list(key(""), {true, 10}, done);
      });
  REQUIRE(child_list.ok());
  auto batch = h.loop.template await<std::vector<core::EntryInfo>>(
      [&](core::Callback<std::vector<core::EntryInfo>> done) { (*child_list)->next(done); });
  REQUIRE(batch.ok());
  REQUIRE(batch->size() == 1);
  CHECK(batch->front().key.str() == "in.txt");
  auto child_missing = h.loop.template await<core::ByteSourcePtr>(
      [&](core::Callback<core::ByteSourcePtr> done) { child->read(key("outer.txt"), {}, done); });
  CHECK(code_of(child_missing) == Errc::NotFound);
  CHECK(child->resolve(key("in.txt")).native_path ==
        h.store->resolve(key("scoped/area/in.txt")).native_path);

  if (!h.has(Capability::Symlink)) return;
  // A symlink in the tree pointing outside the root: nothing may go through it.
  auto outside = h.fixture.outside();
  std::string target = outside ? outside->string() : std::string("/outside-of-store");
  if (outside) {
    std::ofstream(*outside / "victim") << "precious";
  }
  REQUIRE(h.symlink("evil", target).ok());
  REQUIRE(h.symlink("scoped/area/evil", target).ok());
  CHECK(*h.readlink("evil") == target);
  auto link = h.stat("evil");
  REQUIRE(link.ok());
  CHECK(link->type == core::EntryType::Symlink);
  CHECK(link->link_target == target);

  CHECK(code_of(h.write("evil/planted", "x")) == Errc::NotADirectory);
  CHECK(code_of(h.write("evil/sub/planted", "x")) == Errc::NotADirectory);
  CHECK(code_of(h.remove("evil/victim")) == Errc::NotADirectory);
  CHECK(code_of(h.mkdir("evil/newdir")) == Errc::NotADirectory);
  CHECK(code_of(h.move("outer.txt", "evil/outer.txt", true)) == Errc::NotADirectory);
  if (h.has(Capability::Copy)) {  // optional gate (see conformance 11)
    CHECK(code_of(h.copy("outer.txt", "evil/copy.txt", true)) == Errc::NotADirectory);
  }
  CHECK(code_of(h.read("evil/victim")) == Errc::NotADirectory);
  CHECK(code_of(h.rmdir("evil", true)) == Errc::NotADirectory);
  CHECK(code_of(h.set_attrs("evil/victim", {time_at(1, 0), std::nullopt})) == Errc::NotADirectory);
  CHECK(code_of(h.set_attrs("evil", {std::nullopt, 0600})) == Errc::PermissionDenied);
  CHECK(code_of(h.read("evil")) == Errc::InvalidPath);
  CHECK(code_of(h.list("evil", true)) == Errc::NotADirectory);
  auto via_child =
      h.loop.template await<core::EntryInfo>([&](core::Callback<core::EntryInfo> done) {
        child->write(key("evil/planted"), h.source("x"), {}, done);
      });
  CHECK(code_of(via_child) == Errc::NotADirectory);
  // Replacing or removing the link touches the link only.
  REQUIRE(h.write("evil", "now a file").ok());
  CHECK(h.stat("evil")->type == core::EntryType::File);
  CHECK(h.remove("scoped/area/evil").ok());
  if (outside) check_only_the_victim_outside(*outside);
}

TEST_CASE_TEMPLATE("conformance 16b: a plain write onto a symlink replaces it, never follows it", F,
                   TETHERD_STORE_FIXTURES) {
  TETHERD_SKIP_IF_UNAVAILABLE(F)
  Harness<F> h;
  if (!h.has(Capability::Symlink)) return;
  // Links pointing outside the root: at a file there, and at a name nothing holds yet.
  auto outside = h.fixture.outside();
  const std::filesystem::path away = outside ? *outside : "/outside-of-store";
  if (outside) std::ofstream(*outside / "victim") << "precious";
  REQUIRE(h.symlink("to-file", (away / "victim").string()).ok());
  REQUIRE(h.symlink("dir/to-nothing", (away / "planted").string()).ok());
  core::WriteOptions plain;
  plain.atomic = false;
  for (std::string link : {"to-file", "dir/to-nothing"}) {
    CAPTURE(link);
    REQUIRE(h.write(link, "mine", plain).ok());
    CHECK(h.stat(link)->type == core::EntryType::File);
    CHECK(*h.read(link) == "mine");
  }
  // Without overwrite a link is something there, like any other entry.
  REQUIRE(h.symlink("kept", (away / "victim").string()).ok());
  plain.overwrite = false;
  CHECK(code_of(h.write("kept", "x", plain)) == Errc::AlreadyExists);
  CHECK(h.stat("kept")->type == core::EntryType::Symlink);
  if (outside) check_only_the_victim_outside(*outside);
}

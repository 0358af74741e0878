// SFTP-specific behaviour, against the real sshd of sftp_fixture.hpp: host key checks,
// server-side renames, confinement against symlinks planted on the server, and a
// connection killed mid-operation.

#include <doctest/doctest.h>
#include <signal.h>
#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "fixtures.hpp"
#include "harness.hpp"

using namespace tetherd;
using namespace tetherd::test;
using core::Errc;

namespace {

namespace fs = std::filesystem;

std::vector<std::string> names_under(const fs::path& root) {
  std::vector<std::string> names;
  for (auto& entry : fs::recursive_directory_iterator(root))
    names.push_back(entry.path().lexically_relative(root).string());
  std::sort(names.begin(), names.end());
  return names;
}

bool has_temp(const fs::path& root) {
  for (const auto& name : names_under(root)) {
    if (name.find(".tetherd-sftp.") != std::string::npos) return true;
  }
  return false;
}

}  // namespace

TEST_CASE("sftp: an unknown host key is refused, clearly, and nothing is written") {
  TETHERD_SKIP_IF_UNAVAILABLE(SftpFixture)
  auto& server = SshServer::instance();
  TestLoop loop;
  auto root = server.new_directory("roots");
  auto options = server.options(root);
  auto empty_known_hosts = server.new_directory("misc") / "known_hosts";
  std::ofstream(empty_known_hosts) << "# nobody here\n";
  options.known_hosts = empty_known_hosts.string();
  auto opened = open_sftp_for_test(loop.executor(), options);
  REQUIRE_FALSE(opened.ok());
  const auto& error = opened.error();
  CHECK(error.code == Errc::PermissionDenied);
  CHECK_FALSE(error.retryable);
  CHECK(error.message().find(server.fingerprint()) != std::string::npos);
  CHECK(error.message().find(server.known_hosts_line()) != std::string::npos);
  MESSAGE(error.message());

  // A changed key (another key listed for the host) is refused as well.
  std::ofstream(empty_known_hosts)
      << "[127.0.0.1]:" << server.port()
      << " ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIEVI6rmAW3+4Fn6E6nOsPq3IEYq7DNr2t1ahXq6Clf7D\n";
  auto changed = open_sftp_for_test(loop.executor(), options);
  REQUIRE_FALSE(changed.ok());
  CHECK(changed.error().code == Errc::PermissionDenied);
  CHECK_FALSE(changed.error().retryable);
  CHECK(changed.error().message().find("CHANGED") != std::string::npos);

  // A wrong pinned fingerprint too.
  options.known_hosts.clear();
  options.host_key_fingerprint = "SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
  auto pinned_wrong = open_sftp_for_test(loop.executor(), options);
  REQUIRE_FALSE(pinned_wrong.ok());
  CHECK(pinned_wrong.error().code == Errc::PermissionDenied);
  CHECK(names_under(root).empty());
}

TEST_CASE("sftp: a pinned fingerprint is enough") {
  TETHERD_SKIP_IF_UNAVAILABLE(SftpFixture)
  auto& server = SshServer::instance();
  TestLoop loop;
  auto root = server.new_directory("roots");
  auto options = server.options(root);
  options.known_hosts.clear();
  options.host_key_fingerprint = server.fingerprint();
  auto opened = open_sftp_for_test(loop.executor(), options);
  REQUIRE(opened.ok());
  auto store = *opened;
  auto written = loop.await<core::EntryInfo>([&](core::Callback<core::EntryInfo> done) {
    store->write(key("pinned.txt"),
                 core::MemoryByteSource::make(loop.executor(), core::to_bytes("ok")), {}, done);
  });
  CHECK(written.ok());
  CHECK(names_under(root) == std::vector<std::string>{"pinned.txt"});
  bool closed = false;
  store->close([&](core::Result<void>) { closed = true; });
  REQUIRE(loop.run_until([&] { return closed; }));
}

TEST_CASE("sftp: a move is a rename on the server, and temp names are reserved") {
  TETHERD_SKIP_IF_UNAVAILABLE(SftpFixture)
  Harness<SftpFixture> h;
  std::string data = pattern(16u << 20, 5);
  REQUIRE(h.write("big/file.bin", data).ok());
  struct stat before {};
  REQUIRE(::stat((h.fixture.root() / "big/file.bin").c_str(), &before) == 0);
  REQUIRE(h.move("big/file.bin", "elsewhere/deeper/moved.bin", false).ok());
  struct stat after {};
  REQUIRE(::stat((h.fixture.root() / "elsewhere/deeper/moved.bin").c_str(), &after) == 0);
  CHECK(after.st_ino == before.st_ino);  // the same file: no bytes went through us
  CHECK(*h.read("elsewhere/deeper/moved.bin") == data);
  // An overwriting move replaces atomically (posix-rename), again in place.
  REQUIRE(h.write("small.txt", "small").ok());
  REQUIRE(h.move("elsewhere/deeper/moved.bin", "small.txt", true).ok());
  struct stat replaced {};
  REQUIRE(::stat((h.fixture.root() / "small.txt").c_str(), &replaced) == 0);
  CHECK(replaced.st_ino == before.st_ino);
  // The temporary-file prefix is not a key.
  CHECK(h.write(".tetherd-sftp.x", "x").error().code == Errc::InvalidPath);
  CHECK(h.stat("a/.tetherd-sftp.1").error().code == Errc::InvalidPath);
  CHECK(h.store->capabilities().has(core::Capability::Durable));  // OpenSSH has fsync@
}

TEST_CASE("sftp: a symlink planted on the server cannot redirect anything outside") {
  TETHERD_SKIP_IF_UNAVAILABLE(SftpFixture)
  Harness<SftpFixture> h;
  auto outside = *h.fixture.outside();
  std::ofstream(outside / "victim") << "precious";
  // Planted behind the store's back, directly in the server's file system.
  fs::create_directory_symlink(outside, h.fixture.root() / "planted");
  fs::create_directories(h.fixture.root() / "real");
  fs::create_directory_symlink(outside, h.fixture.root() / "real" / "planted");
  CHECK(h.write("planted/new.txt", "x").error().code == Errc::NotADirectory);
  CHECK(h.write("real/planted/sub/new.txt", "x").error().code == Errc::NotADirectory);
  CHECK(h.remove("planted/victim").error().code == Errc::NotADirectory);
  CHECK(h.mkdir("planted/dir").error().code == Errc::NotADirectory);
  REQUIRE(h.write("mine.txt", "mine").ok());
  CHECK(h.move("mine.txt", "planted/mine.txt", true).error().code == Errc::NotADirectory);
  CHECK(h.move("planted/victim", "stolen", true).error().code == Errc::NotADirectory);
  CHECK(h.symlink("planted/link", "/etc").error().code == Errc::NotADirectory);
  CHECK(h.rmdir("planted", true).error().code == Errc::NotADirectory);
  CHECK(h.set_attrs("planted", {std::nullopt, 0777}).error().code == Errc::PermissionDenied);
  CHECK(h.read("planted/victim").error().code == Errc::NotADirectory);
  CHECK(h.list("planted", true).error().code == Errc::NotADirectory);
  // A recursive listing and rmdir see the link as a link and do not descend.
  auto keys = h.keys();
  CHECK(keys == std::vector<std::string>{"mine.txt", "planted", "real", "real/planted"});
  REQUIRE(h.rmdir("real", true).ok());
  CHECK(names_under(outside) == std::vector<std::string>{"victim"});
  std::ifstream victim(outside / "victim");
  std::string content;
  std::getline(victim, content);
  CHECK(content == "precious");
}

TEST_CASE(
    "sftp: a killed connection fails what is in flight as retryable; the next op reconnects") {
  TETHERD_SKIP_IF_UNAVAILABLE(SftpFixture)
  Harness<SftpFixture> h;
  auto& server = SshServer::instance();
  REQUIRE(h.write("before.txt", "before").ok());
  // A big write, and a listing, in flight when the connections die.
  std::optional<core::Result<core::EntryInfo>> write_result;
  h.store->write(key("dir/big.bin"), h.source(pattern(256u << 20, 9)), {},
                 [&](core::Result<core::EntryInfo> r) { write_result.emplace(std::move(r)); });
  REQUIRE(h.loop.run_until([&] {
    if (!fs::exists(h.fixture.root() / "dir")) return false;
    for (auto& entry : fs::directory_iterator(h.fixture.root() / "dir")) {
      if (entry.is_regular_file() && entry.file_size() > (1u << 20)) return true;
    }
    return false;
  }));
  auto before_kill = server.connection_pids();
  REQUIRE_FALSE(before_kill.empty());
  for (pid_t pid : before_kill)
    ::kill(pid, SIGKILL);
  REQUIRE(h.loop.run_until([&] { return write_result.has_value(); }));
  REQUIRE_FALSE(write_result->ok());
  CHECK(write_result->error().code == Errc::Unavailable);
  CHECK(write_result->error().retryable);
  MESSAGE(write_result->error().message());
  // Once the server side is gone, the next operations notice the dropped connections
  // before using them and reconnect; the cut-off write's temporary file is removed then.
  REQUIRE(h.loop.run_until(
      [&] { return std::all_of(before_kill.begin(), before_kill.end(), SshServer::exited); }));
  auto again = h.read("before.txt");
  REQUIRE_MESSAGE(again.ok(), again.error().message());
  CHECK(*again == "before");
  REQUIRE(h.write("after.txt", "after").ok());
  REQUIRE(h.loop.run_until([&] { return !has_temp(h.fixture.root()); }));
  CHECK_FALSE(h.exists("dir/big.bin"));
  CHECK(h.keys() == std::vector<std::string>{"after.txt", "before.txt", "dir"});
}

TEST_CASE("sftp: a root starting with ~/ is relative to the login directory") {
  TETHERD_SKIP_IF_UNAVAILABLE(SftpFixture)
  auto& server = SshServer::instance();
  const char* home = std::getenv("HOME");
  // sshd logs root in at its passwd home directory, which the test also needs to see.
  if (!home || std::string(home) != "/root" || !fs::is_directory("/root")) {
    MESSAGE("skipped: the login directory /root is not this process's HOME");
    return;
  }
  fs::path dir = fs::path("/root") / ("tetherd-test-home-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  TestLoop loop;
  auto options = server.options(dir);
  options.root = "~/" + dir.filename().string();
  auto opened = open_sftp_for_test(loop.executor(), options);
  REQUIRE(opened.ok());
  auto store = *opened;
  auto written = loop.await<core::EntryInfo>([&](core::Callback<core::EntryInfo> done) {
    store->write(key("home.txt"),
                 core::MemoryByteSource::make(loop.executor(), core::to_bytes("h")), {}, done);
  });
  CHECK(written.ok());
  CHECK(fs::exists(dir / "home.txt"));
  bool closed = false;
  store->close([&](core::Result<void>) { closed = true; });
  REQUIRE(loop.run_until([&] { return closed; }));
  fs::remove_all(dir);
  // A missing root is a clear, non-retryable error.
  options.root = "~/tetherd-test-no-such-dir-" + std::to_string(::getpid());
  auto missing = open_sftp_for_test(loop.executor(), options);
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.error().code == Errc::NotFound);
  CHECK_FALSE(missing.error().retryable);
}

TEST_CASE("sftp: temporary files an earlier process left are removed when the store opens") {
  TETHERD_SKIP_IF_UNAVAILABLE(SftpFixture)
  auto& server = SshServer::instance();
  auto root = server.new_directory("roots");
  fs::create_directories(root / "deep/er");
  std::ofstream(root / "deep/er/.tetherd-sftp.0123456789abcdef.7") << "half a file";
  std::ofstream(root / ".tetherd-sftp.fedcba9876543210.1") << "another";
  std::ofstream(root / "deep/kept.txt") << "kept";
  TestLoop loop;
  auto opened = open_sftp_for_test(loop.executor(), server.options(root));
  REQUIRE(opened.ok());
  auto store = *opened;
  REQUIRE(loop.run_until([&] { return !has_temp(root); }));
  CHECK(names_under(root) == std::vector<std::string>{"deep", "deep/er", "deep/kept.txt"});
  bool closed = false;
  store->close([&](core::Result<void>) { closed = true; });
  REQUIRE(loop.run_until([&] { return closed; }));
}

TEST_CASE("sftp: a write whose open is refused fails, and frees its slot for the next") {
  // Regression: a refused SSH_FXP_OPEN (here O_EXCL on a temporary name that a directory
  // already holds; in the field, the connection dying under the open) left the write
  // without an answer for ever, and its slot among the store's concurrent writes taken.
  TETHERD_SKIP_IF_UNAVAILABLE(SftpFixture)
  Harness<SftpFixture> h;
  const fs::path root = h.fixture.root();
  // A write that stalls after its open shows this store's temporary names: "<token>.<n>".
  auto stalled = std::make_shared<ScriptedSource>(h.loop.executor(), 0, ScriptedSource::End::Stall,
                                                  core::StoreError{});
  std::optional<core::Result<core::EntryInfo>> stalled_result;
  h.store->write(key("stalled.txt"), stalled, {},
                 [&](core::Result<core::EntryInfo> r) { stalled_result.emplace(std::move(r)); });
  std::string temp;
  REQUIRE(h.loop.run_until([&] {
    if (!stalled->stalled()) return false;
    for (const auto& name : names_under(root)) {
      if (name.rfind(".tetherd-sftp.", 0) == 0) temp = name;
    }
    return !temp.empty();
  }));
  // The next write's temporary name is taken, so its exclusive open is refused.
  const auto dot = temp.rfind('.');
  const std::string next =
      temp.substr(0, dot + 1) + std::to_string(std::stoull(temp.substr(dot + 1)) + 1);
  fs::create_directory(root / next);
  std::optional<core::Result<core::EntryInfo>> refused;
  h.store->write(key("refused.txt"), h.source("refused"), {},
                 [&](core::Result<core::EntryInfo> r) { refused.emplace(std::move(r)); });
  REQUIRE(h.loop.run_until([&] { return refused.has_value(); }, std::chrono::seconds(20)));
  CHECK_FALSE(refused->ok());
  MESSAGE(refused->error().message());
  CHECK_FALSE(h.exists("refused.txt"));
  // The store goes on: another write succeeds, and the stalled one still ends when cancelled.
  fs::remove(root / next);
  REQUIRE(h.write("after.txt", "after").ok());
  CHECK(*h.read("after.txt") == "after");
  stalled->cancel();
  REQUIRE(h.loop.run_until([&] { return stalled_result.has_value(); }));
  CHECK_FALSE(stalled_result->ok());
}

TEST_CASE("sftp: a symlink's mtime is set on the link, never on its target (lsetstat)") {
  // OpenSSH's lsetstat@openssh.com sets attributes without following the link, as the
  // local store's utimensat(AT_SYMLINK_NOFOLLOW) does; a link has no mode of its own.
  TETHERD_SKIP_IF_UNAVAILABLE(SftpFixture)
  Harness<SftpFixture> h;
  const fs::path root = h.fixture.root();
  REQUIRE(h.write("target.txt", "t").ok());
  struct stat target_before {};
  REQUIRE(::lstat((root / "target.txt").c_str(), &target_before) == 0);
  REQUIRE(h.symlink("link", "target.txt").ok());
  const core::TimePoint when{std::chrono::seconds(1'000'000'000)};
  REQUIRE(h.set_attrs("link", {when, std::nullopt}).ok());
  struct stat link {};
  REQUIRE(::lstat((root / "link").c_str(), &link) == 0);
  CHECK(S_ISLNK(link.st_mode));
  CHECK(link.st_mtime == 1'000'000'000);
  struct stat target_after {};
  REQUIRE(::lstat((root / "target.txt").c_str(), &target_after) == 0);
  CHECK(target_after.st_mtime == target_before.st_mtime);
  auto info = h.stat("link");
  REQUIRE(info.ok());
  CHECK(info->type == core::EntryType::Symlink);
  CHECK(info->mtime == when);
  auto mode = h.set_attrs("link", {std::nullopt, 0600});
  REQUIRE_FALSE(mode.ok());
  CHECK(mode.error().code == Errc::PermissionDenied);
  struct stat target_last {};
  REQUIRE(::lstat((root / "target.txt").c_str(), &target_last) == 0);
  CHECK((target_last.st_mode & 07777) == (target_before.st_mode & 07777));
}

TEST_CASE("sftp: mtimes outside SFTP v3's range are clamped, and reported as stored") {
  // v3 carries uint32 seconds: before 1970 becomes 1970, after 2106-02-07 becomes that
  // last second; never a wrapped value. What the write and stat report is what is stored.
  TETHERD_SKIP_IF_UNAVAILABLE(SftpFixture)
  Harness<SftpFixture> h;
  const fs::path root = h.fixture.root();
  constexpr std::int64_t kLast = 4'294'967'295;  // 2106-02-07 06:28:15 UTC
  struct Case {
    std::string name;
    std::int64_t wanted;
    std::int64_t stored;
  };
  // A named loop variable, not a structured binding: CAPTURE's lambda cannot take one
  // with clang 14.
  for (const Case& c : {Case{"before-1970.txt", -1'000'000'000, 0}, Case{"last.txt", kLast, kLast},
                        Case{"after-2106.txt", std::int64_t{1} << 33, kLast}}) {
    const std::string& name = c.name;
    CAPTURE(name);
    const core::TimePoint expected{std::chrono::seconds(c.stored)};
    core::WriteOptions options;
    options.mtime = core::TimePoint(std::chrono::seconds(c.wanted));
    auto written = h.write(name, "x", options);
    REQUIRE(written.ok());
    CHECK(written->mtime == expected);
    CHECK(h.stat(name)->mtime == expected);
    struct stat on_disk {};
    REQUIRE(::lstat((root / name).c_str(), &on_disk) == 0);
    CHECK(on_disk.st_mtime == c.stored);
    // set_attrs the same way, from a time inside the range.
    REQUIRE(h.set_attrs(name, {core::TimePoint(std::chrono::seconds(1'000'000'000)), std::nullopt})
                .ok());
    REQUIRE(h.set_attrs(name, {options.mtime, std::nullopt}).ok());
    CHECK(h.stat(name)->mtime == expected);
  }
}

// open_configured_store: the daemon's way from a store of the config to an open backend,
// never blocking the loop thread and never answering inline.

#include "store_opener.hpp"

#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <vector>

#include "stores/test_loop.hpp"
#include "support/temp_dir.hpp"

namespace tetherd::daemon {
namespace {

config::StoreConfig local_store(const std::string& name, const std::filesystem::path& root) {
  config::StoreConfig store;
  store.name = name;
  store.backend = config::LocalStoreConfig{root};
  return store;
}

std::optional<core::Result<core::StorePtr>> open_and_wait(test::TestLoop& loop,
                                                          const config::StoreConfig& wanted,
                                                          bool* inline_answer) {
  std::optional<core::Result<core::StorePtr>> answer;
  open_configured_store(loop.executor(), wanted,
                        [&answer](core::Result<core::StorePtr> store) { answer.emplace(store); });
  *inline_answer = answer.has_value();
  loop.run_until([&] { return answer.has_value(); });
  return answer;
}

TEST_CASE("store opener: a local store opens off the loop thread, answering later") {
  test::TestLoop loop;
  test_support::TempDir dir("store-opener");
  bool inline_answer = true;
  auto answer = open_and_wait(loop, local_store("backup", dir.path()), &inline_answer);
  CHECK_FALSE(inline_answer);
  REQUIRE(answer.has_value());
  REQUIRE(answer->ok());
  const core::StorePtr& store = **answer;
  CHECK(store->name() == "backup");
  CHECK(store->resolve(core::StoreKey::root()).backend == "local");
  bool closed = false;
  store->close([&closed](core::Result<void>) { closed = true; });
  loop.run_until([&] { return closed; });
}

TEST_CASE("store opener: a missing local root is an error that names the store") {
  test::TestLoop loop;
  test_support::TempDir dir("store-opener");
  bool inline_answer = true;
  auto answer = open_and_wait(loop, local_store("backup", dir.path() / "gone"), &inline_answer);
  CHECK_FALSE(inline_answer);
  REQUIRE(answer.has_value());
  REQUIRE_FALSE(answer->ok());
  CHECK(answer->error().code == core::Errc::NotFound);
  CHECK(answer->error().store == "backup");
  CHECK(answer->error().operation == core::Operation::Open);
}

/// A TCP listener that completes handshakes (the kernel does) and never says a word.
class SilentServer {
 public:
  SilentServer() {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    REQUIRE(fd_ >= 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
    REQUIRE(::listen(fd_, 16) == 0);
    socklen_t length = sizeof address;
    REQUIRE(::getsockname(fd_, reinterpret_cast<sockaddr*>(&address), &length) == 0);
    port_ = ntohs(address.sin_port);
  }
  ~SilentServer() {
    close_clients();
    ::close(fd_);
  }
  SilentServer(const SilentServer&) = delete;
  SilentServer& operator=(const SilentServer&) = delete;
  int port() const noexcept { return port_; }
  /// Whether a client has connected (its connection is taken and kept open).
  bool connected() {
    const int client = ::accept4(fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (client < 0) return false;
    clients_.push_back(client);
    return true;
  }
  void close_clients() {
    for (int client : clients_)
      ::close(client);
    clients_.clear();
  }

 private:
  int fd_ = -1;
  int port_ = 0;
  std::vector<int> clients_;
};

/// Opens `wanted` (a server that never answers), waits for its connection, cancels: the
/// answer is Cancelled, naming the store, long before the store's own timeouts.
void check_cancel(const config::StoreConfig& wanted, SilentServer& server) {
  test::TestLoop loop;
  std::optional<core::Result<core::StorePtr>> answer;
  auto cancel = open_configured_store(
      loop.executor(), wanted,
      [&answer](core::Result<core::StorePtr> store) { answer.emplace(std::move(store)); });
  // The server is reached once the loop has run a little (S3: after the credentials).
  bool connected = false;
  REQUIRE(loop.run_until([&] { return (connected = connected || server.connected()); }));
  CHECK_FALSE(answer.has_value());
  cancel();
  CHECK_FALSE(answer.has_value());  // never inline
  REQUIRE(loop.run_until([&] { return answer.has_value(); }));
  REQUIRE_FALSE(answer->ok());
  CHECK(answer->error().code == core::Errc::Cancelled);
  CHECK(answer->error().store == wanted.name);
  cancel();  // a second time, after the answer: nothing happens
  server.close_clients();
  loop.run_until([] { return false; }, std::chrono::milliseconds(50));
}

TEST_CASE("store opener: cancelling an SFTP open that waits for a silent server") {
  test_support::TempDir dir("store-opener");
  SilentServer server;
  const auto key = dir.path() / "key";
  REQUIRE(std::system(("ssh-keygen -q -t ed25519 -N '' -f " + key.string()).c_str()) == 0);
  std::ofstream(dir.path() / "known_hosts").flush();
  config::StoreConfig wanted;
  wanted.name = "far";
  config::SftpStoreConfig sftp;
  sftp.host = "127.0.0.1";
  sftp.port = static_cast<std::uint16_t>(server.port());
  sftp.user = "nobody";
  sftp.key_file = key;
  sftp.known_hosts = dir.path() / "known_hosts";
  sftp.root = "/srv";
  sftp.timeout = std::chrono::minutes(10);
  wanted.backend = sftp;
  check_cancel(wanted, server);
}

TEST_CASE("store opener: cancelling an S3 open that waits for a silent server") {
  test_support::TempDir dir("store-opener");
  SilentServer server;
  const auto credentials = dir.path() / "credentials";
  std::ofstream(credentials) << "[default]\naws_access_key_id = AKEXAMPLE\n"
                                "aws_secret_access_key = secret\n";
  config::StoreConfig wanted;
  wanted.name = "bucket-store";
  config::S3StoreConfig s3;
  s3.endpoint = "http://127.0.0.1:" + std::to_string(server.port());
  s3.region = "us-east-1";
  s3.bucket = "silent-bucket";
  s3.credentials_file = credentials;
  wanted.backend = s3;
  check_cancel(wanted, server);
}

}  // namespace
}  // namespace tetherd::daemon

// Connecting to an SFTP server that is down or never answers: a refused connection is a
// retryable Unavailable naming host:port, and a connect the server leaves pending is cut
// short by a shutdown or a close, socket released, however long the session timeout.

#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include "fixtures.hpp"
#include "sftp_pool.hpp"
#include "support/free_port.hpp"
#include "test_loop.hpp"

using namespace tetherd;
using namespace tetherd::test;
using core::Errc;

namespace {

/// The sockets of this machine in SYN_SENT towards 127.0.0.1:`port` (/proc/net/tcp: the
/// connects still waiting for the server's SYN-ACK).
int syn_sent_to(int port) {
  std::ifstream table("/proc/net/tcp");
  std::string line;
  std::getline(table, line);  // header
  char wanted[16];
  std::snprintf(wanted, sizeof wanted, "0100007F:%04X", port);
  int count = 0;
  while (std::getline(table, line)) {
    std::istringstream fields(line);
    std::string slot, local, remote, state;
    fields >> slot >> local >> remote >> state;
    if (remote == wanted && state == "02") ++count;
  }
  return count;
}

/// A listener on 127.0.0.1 that never accepts, its backlog (0) filled by one connection,
/// so that the SYNs of further connects are dropped and they stay pending. One more
/// connect is made here, and shown pending, so that the black hole is proven to work.
class BlackHole {
 public:
  BlackHole() {
    listener_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    REQUIRE(listener_ >= 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof address;
    REQUIRE(::bind(listener_, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
    REQUIRE(::listen(listener_, 0) == 0);
    REQUIRE(::getsockname(listener_, reinterpret_cast<sockaddr*>(&address), &length) == 0);
    port_ = ntohs(address.sin_port);
    // The first connection fills the accept queue (it completes: blocking connect).
    filler_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    REQUIRE(::connect(filler_, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
    // The second one is left waiting.
    probe_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    REQUIRE(::connect(probe_, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0);
    REQUIRE(errno == EINPROGRESS);
    // One read of the table may miss an entry (see Ticker): read it again a few times.
    bool seen = false;
    for (int attempt = 0; attempt < 1000 && !seen; ++attempt)
      seen = syn_sent_to(port_) == 1;
    REQUIRE(seen);
  }
  ~BlackHole() {
    ::close(probe_);
    ::close(filler_);
    ::close(listener_);
  }
  BlackHole(const BlackHole&) = delete;
  BlackHole& operator=(const BlackHole&) = delete;

  int port() const { return port_; }
  /// Connects still pending besides the probe.
  int pending() const { return syn_sent_to(port_) - 1; }

 private:
  int listener_ = -1;
  int filler_ = -1;
  int probe_ = -1;
  int port_ = 0;
};

/// Wakes the loop every few milliseconds while it lives, so that run_until re-reads
/// /proc/net/tcp: a pending connect raises no event of its own, and one read may miss an
/// entry (the table is read in chunks while other sockets on the machine come and go).
class Ticker {
 public:
  explicit Ticker(TestLoop& loop) : loop_(loop) {
    uv_timer_init(loop_.loop(), &timer_);
    uv_timer_start(
        &timer_, [](uv_timer_t*) {}, 5, 5);
  }
  ~Ticker() {
    bool closed = false;
    timer_.data = &closed;
    uv_close(reinterpret_cast<uv_handle_t*>(&timer_),
             [](uv_handle_t* handle) { *static_cast<bool*>(handle->data) = true; });
    while (!closed)
      uv_run(loop_.loop(), UV_RUN_NOWAIT);
  }
  Ticker(const Ticker&) = delete;
  Ticker& operator=(const Ticker&) = delete;

 private:
  TestLoop& loop_;
  uv_timer_t timer_;
};

std::shared_ptr<stores::sftp::SessionSettings> settings_for(int port) {
  auto& server = SftpFixture::checked_server();
  auto settings = std::make_shared<stores::sftp::SessionSettings>();
  settings->host = "127.0.0.1";
  settings->port = port;
  settings->user = "root";
  settings->key_file = server.client_key().string();
  settings->known_hosts = server.known_hosts().string();
  settings->root = "/";
  settings->timeout = std::chrono::hours(1);  // only the shutdown can end the connect
  return settings;
}

}  // namespace

TEST_CASE("sftp: a server that is down at start is a retryable Unavailable naming host:port") {
  TETHERD_SKIP_IF_UNAVAILABLE(SftpFixture)
  auto& server = SftpFixture::checked_server();
  TestLoop loop;
  auto options = server.options(server.new_directory("roots"));
  options.port = test_support::free_port();  // nothing listens: the connect is refused
  auto opened = open_sftp_for_test(loop.executor(), options);
  REQUIRE_FALSE(opened.ok());
  CHECK(opened.error().code == Errc::Unavailable);
  CHECK(opened.error().retryable);
  const std::string where = "127.0.0.1:" + std::to_string(options.port);
  CHECK(opened.error().message().find(where) != std::string::npos);
  CHECK(opened.error().message().find("refused") != std::string::npos);
  MESSAGE(opened.error().message());
}

TEST_CASE("sftp: a connect the server never answers ends at once when shut down or closed") {
  TETHERD_SKIP_IF_UNAVAILABLE(SftpFixture)
  TestLoop loop;
  Ticker ticker(loop);
  BlackHole hole;

  // A session: its connect callback gets the shutdown's reason, on a later turn.
  auto session =
      std::make_shared<stores::sftp::Session>(loop.executor(), settings_for(hole.port()));
  std::optional<core::Result<void>> connected;
  session->connect([&](core::Result<void> result) { connected.emplace(std::move(result)); });
  REQUIRE(loop.run_until([&] { return hole.pending() == 1 || connected.has_value(); }));
  if (connected)
    FAIL("the connect ended by itself: " << (connected->ok() ? std::string("connected")
                                                             : connected->error().message()));
  session->shutdown(core::StoreError::make(Errc::Cancelled, "shut down for the test"));
  CHECK_FALSE(connected.has_value());  // never inline
  REQUIRE(loop.run_until([&] { return connected.has_value() && hole.pending() == 0; }));
  REQUIRE_FALSE(connected->ok());
  CHECK(connected->error().code == Errc::Cancelled);
  CHECK(session->dead());

  // The pool (what closing the store closes): its waiter fails, the socket goes.
  auto pool = std::make_shared<stores::sftp::Pool>(loop.executor(), settings_for(hole.port()), 1);
  std::optional<core::Result<stores::sftp::Pool::SessionPtr>> acquired;
  pool->acquire([&](core::Result<stores::sftp::Pool::SessionPtr> result) {
    acquired.emplace(std::move(result));
  });
  REQUIRE(loop.run_until([&] { return hole.pending() == 1 || acquired.has_value(); }));
  if (acquired)
    FAIL("the connect ended by itself: " << (acquired->ok() ? std::string("connected")
                                                            : acquired->error().message()));
  pool->close();
  REQUIRE(loop.run_until([&] { return acquired.has_value() && hole.pending() == 0; }));
  REQUIRE_FALSE(acquired->ok());
  CHECK(acquired->error().code == Errc::Unavailable);
  MESSAGE(acquired->error().message());
}

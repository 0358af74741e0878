#pragma once

// The S3 fixture: ONE one-node Ceph cluster with a radosgw per test process
// (tests/stores/s3/start-radosgw.sh), started lazily by the first S3 test on free ports of
// 127.0.0.1 in a temporary directory, and stopped by PID with SIGTERM when the process
// exits. One bucket; every fixture gets a fresh prefix of its own, so tests never see each
// other's keys. radosgw is the server the store must pass against: it verifies signatures,
// payload hashes and conditional writes.
//
// Without the Ceph programs on PATH the S3 cases are skipped with the reason (unavailable(),
// TETHERD_SKIP_IF_UNAVAILABLE in fixtures.hpp), or fail with it under
// TETHERD_REQUIRE_SERVERS=1. With them, a cluster that cannot start fails every S3 case
// with the reason: that is a broken server or script, not a missing one.
//
// Every S3 case runs in the one ctest entry stores.s3 (tests/stores/CMakeLists.txt picks
// the cases named "s3: ..." or instantiated with S3Fixture), so one cluster serves them all.

#include <curl/curl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "s3_request.hpp"
#include "support/child_process.hpp"
#include "support/free_port.hpp"
#include "support/temp_dir.hpp"
#include "tetherd/stores/s3_store.hpp"

#ifndef TETHERD_S3_START_SCRIPT
#error "tests/stores/CMakeLists.txt defines TETHERD_S3_START_SCRIPT"
#endif

namespace tetherd::test {

/// A blocking request for test code that runs outside the loop (bucket set-up, checks).
inline stores::s3::HttpResponse blocking_call(const stores::s3::HttpRequest& request) {
  stores::s3::HttpResponse response;
  CURL* easy = curl_easy_init();
  curl_slist* headers = nullptr;
  for (const auto& [name, value] : request.headers)
    headers = curl_slist_append(headers, (name + ": " + value).c_str());
  headers = curl_slist_append(headers, "Content-Type:");
  curl_easy_setopt(easy, CURLOPT_URL, request.url.c_str());
  curl_easy_setopt(easy, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(easy, CURLOPT_TIMEOUT, 30L);
  if (request.method == "HEAD") {
    curl_easy_setopt(easy, CURLOPT_NOBODY, 1L);
  } else if (request.method != "GET") {
    curl_easy_setopt(easy, CURLOPT_CUSTOMREQUEST, request.method.c_str());
    curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE,
                     static_cast<curl_off_t>(request.body.size()));
    curl_easy_setopt(easy, CURLOPT_POSTFIELDS, request.body.data());
  }
  curl_easy_setopt(
      easy, CURLOPT_WRITEFUNCTION, +[](char* data, std::size_t size, std::size_t count, void* out) {
        static_cast<std::string*>(out)->append(data, size * count);
        return size * count;
      });
  curl_easy_setopt(easy, CURLOPT_WRITEDATA, &response.body);
  const CURLcode code = curl_easy_perform(easy);
  if (code == CURLE_OK) {
    curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &response.status);
  } else {
    response.transport_code = static_cast<int>(code);
    response.transport_error = curl_easy_strerror(code);
  }
  curl_slist_free_all(headers);
  curl_easy_cleanup(easy);
  return response;
}

class RadosgwCluster {
 public:
  static constexpr const char* kAccessKey = "TETHERDTESTKEY";
  static constexpr const char* kSecret = "tetherd-test-secret-0123456789";
  static constexpr const char* kBucket = "tetherd-tests";
  static constexpr const char* kRegion = "us-east-1";

  /// The process's cluster, started on first use.
  static RadosgwCluster& get() {
    static RadosgwCluster cluster;
    return cluster;
  }

  /// Why the cluster cannot run on this machine (a Ceph program is not on PATH); empty
  /// when it can. A cluster that could run but failed is not "unavailable": see failure().
  const std::string& unavailable() const { return unavailable_; }
  bool up() const { return unavailable_.empty() && !failure_; }
  const std::string& failure() const { return failure_ ? *failure_ : unavailable_; }
  std::string endpoint() const { return "http://127.0.0.1:" + std::to_string(rgw_port_); }

  stores::s3::Endpoint endpoint_for(std::string secret = kSecret) const {
    auto endpoint = *stores::s3::Endpoint::parse(this->endpoint());
    endpoint.bucket = kBucket;
    endpoint.region = kRegion;
    endpoint.credentials = {kAccessKey, std::move(secret)};
    return endpoint;
  }
  /// A signed blocking call on the test bucket.
  stores::s3::HttpResponse call(const std::string& method, const std::string& key,
                                const stores::s3::Pairs& query = {}) const {
    return blocking_call(stores::s3::make_request(endpoint_for(), method, key, query, {}, {},
                                                  std::chrono::system_clock::now()));
  }

  stores::S3StoreOptions options(const std::string& prefix) const {
    stores::S3StoreOptions options;
    options.name = "s3";
    options.endpoint = endpoint();
    options.region = kRegion;
    options.bucket = kBucket;
    options.prefix = prefix;
    options.access_key = kAccessKey;
    options.secret_key = kSecret;
    // Small thresholds so that the conformance suite's larger files go multipart.
    options.multipart_threshold = 6u << 20;
    options.part_size = 5u << 20;
    return options;
  }

  /// A prefix no other test of this process uses.
  std::string fresh_prefix() {
    return "t" + std::to_string(::getpid()) + "-" + std::to_string(++prefixes_);
  }

  /// Stops the gateway (the cluster stays up); start_gateway() brings it back.
  void stop_gateway() {
    test_support::stop_process(rgw_pid_);
    rgw_pid_ = -1;
  }
  void start_gateway() {
    const std::string conf = (dir_->path() / "cluster" / "ceph.conf").string();
    rgw_pid_ =
        test_support::spawn_logged({"radosgw", "-c", conf, "-n", "client.rgw.a", "-f"},
                                   (dir_->path() / "cluster" / "log" / "rgw-restart.out").string());
    if (!wait_for_gateway()) failure_ = "radosgw did not come back after a restart";
  }

  ~RadosgwCluster() {
    // By PID, SIGTERM: the gateway first, alone (stopped together with the mon it hangs in
    // its shutdown and stays behind), then the OSD and the mon. A daemon still there after
    // the wait is killed: its data lives in memory and goes with the temporary directory.
    test_support::stop_process(rgw_pid_);
    for (auto it = daemon_pids_.rbegin(); it != daemon_pids_.rend(); ++it)
      ::kill(*it, SIGTERM);
    for (pid_t pid : daemon_pids_)
      if (!test_support::wait_gone(pid)) ::kill(pid, SIGKILL);
  }

 private:
  RadosgwCluster() {
    try {
      start();
    } catch (const std::exception& error) {
      failure_ = error.what();
    }
  }

  /// The programs start-radosgw.sh and start_gateway() run; a missing one means this
  /// machine has no Ceph (packaging/install-deps.sh installs it).
  static std::string missing_program() {
    for (const char* program : {"ceph", "ceph-authtool", "monmaptool", "ceph-mon", "ceph-osd",
                                "radosgw", "radosgw-admin"}) {
      const std::string found = "command -v " + std::string(program) + " >/dev/null 2>&1";
      if (std::system(found.c_str()) != 0) return program;
    }
    return {};
  }

  /// Waits until the gateway answers HTTP (condition polled; radosgw gives no signal).
  bool wait_for_gateway() {
    for (int i = 0; i < 600; ++i) {
      auto response = call("HEAD", "");
      if (response.status != 0) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
  }

  void start() {
    if (auto missing = missing_program(); !missing.empty()) {
      unavailable_ = "no " + missing + " on PATH (Ceph is not installed)";
      return;
    }
    dir_.emplace("tetherd-radosgw");
    const int mon_port = test_support::free_port();
    rgw_port_ = test_support::free_port();
    while (rgw_port_ == mon_port)
      rgw_port_ = test_support::free_port();
    const std::string log = (dir_->path() / "start.log").string();
    pid_t script = test_support::spawn_logged(
        {TETHERD_S3_START_SCRIPT, (dir_->path() / "cluster").string(), std::to_string(mon_port),
         std::to_string(rgw_port_), kAccessKey, kSecret},
        log);
    int status = 0;
    ::waitpid(script, &status, 0);
    std::ifstream output(log);
    std::string line, last;
    std::ostringstream all;
    while (std::getline(output, line)) {
      all << line << '\n';
      if (line.rfind("pids ", 0) == 0) last = line;
    }
    std::istringstream pids(last.empty() ? std::string() : last.substr(5));
    for (pid_t pid; pids >> pid;)
      daemon_pids_.push_back(pid);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || daemon_pids_.size() != 3)
      throw std::runtime_error("radosgw cluster did not start: " + all.str());
    rgw_pid_ = daemon_pids_.back();
    daemon_pids_.pop_back();
    if (!wait_for_gateway()) throw std::runtime_error("radosgw does not answer");
    auto made = call("PUT", "");
    if (made.status != 200)
      throw std::runtime_error("creating the test bucket failed: HTTP " +
                               std::to_string(made.status) + " " + made.body);
  }

  std::optional<test_support::TempDir> dir_;
  std::string unavailable_;
  std::optional<std::string> failure_;
  int rgw_port_ = 0;
  pid_t rgw_pid_ = -1;
  std::vector<pid_t> daemon_pids_;
  int prefixes_ = 0;
};

struct S3Fixture {
  static constexpr const char* kName = "s3";
  /// Why the S3 cases cannot run here; nullopt when they can (fixtures.hpp).
  static std::optional<std::string> unavailable() {
    const auto& why = RadosgwCluster::get().unavailable();
    if (why.empty()) return std::nullopt;
    return why;
  }
  /// Throws, with the reason, when the cluster did not start (or broke: a gateway that did
  /// not come back after a restart).
  static void require_started() {
    const auto& cluster = RadosgwCluster::get();
    if (!cluster.up()) throw std::runtime_error("S3 fixture unavailable: " + cluster.failure());
  }

  explicit S3Fixture(core::Executor& executor) : cluster(RadosgwCluster::get()) {
    require_started();
    prefix = cluster.fresh_prefix();
    auto opened = stores::open_s3_store(executor, cluster.options(prefix));
    if (!opened) throw std::runtime_error(opened.error().message());
    store = *opened;
  }
  // Names are UTF-8 in S3: the store refuses other bytes (s3_store_test checks that).
  bool posix_bytes() const { return false; }
  std::optional<std::filesystem::path> outside() const { return std::nullopt; }

  RadosgwCluster& cluster;
  std::string prefix;
  core::StorePtr store;
};

}  // namespace tetherd::test

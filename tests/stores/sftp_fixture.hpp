#pragma once

// The SFTP fixture: one real OpenSSH sshd per test process, started lazily on a free port
// on 127.0.0.1 with a directory of its own (host key, client key, authorized_keys,
// known_hosts, config), stopped by its PID at exit. Each fixture gets a fresh empty root
// directory on that server (the server's file system is this machine's, so tests may look
// at it directly). Without root or without /usr/sbin/sshd the SFTP cases are skipped with
// the reason (unavailable(), TETHERD_SKIP_IF_UNAVAILABLE in fixtures.hpp), or fail with it
// under TETHERD_REQUIRE_SERVERS=1; never passed. An sshd that is there but does not start
// fails every SFTP case with the reason.
//
// Every SFTP case runs in the one ctest entry stores.sftp (tests/stores/CMakeLists.txt
// picks the cases named "sftp: ..." or instantiated with SftpFixture).

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "support/child_process.hpp"
#include "support/free_port.hpp"
#include "support/temp_dir.hpp"
#include "tetherd/stores/sftp_store.hpp"
#include "tetherd/stores/uv_executor.hpp"

namespace tetherd::test {

class SshServer {
 public:
  /// The process's server, started on first use.
  static SshServer& instance() {
    static SshServer server;
    return server;
  }
  SshServer(const SshServer&) = delete;
  SshServer& operator=(const SshServer&) = delete;

  /// Why there can be no server on this machine (no root, no sshd); empty when there can.
  const std::string& unavailable() const { return unavailable_; }
  /// Why the server that could run did not start; empty when it runs.
  const std::string& failure() const { return failure_; }
  int port() const { return port_; }
  std::filesystem::path dir() const { return dir_.path(); }
  std::filesystem::path client_key() const { return dir() / "client_key"; }
  std::filesystem::path known_hosts() const { return dir() / "known_hosts"; }
  const std::string& fingerprint() const { return fingerprint_; }
  const std::string& known_hosts_line() const { return known_hosts_line_; }

  /// A fresh empty directory (and a sibling outside it) for one fixture.
  std::filesystem::path new_directory(const std::string& kind) {
    auto path = dir() / kind / std::to_string(++counter_);
    std::filesystem::create_directories(path);
    return path;
  }

  /// The per-connection sshd processes: every descendant of the listener.
  std::vector<pid_t> connection_pids() const {
    std::vector<pid_t> found;
    std::vector<pid_t> parents{pid_};
    while (!parents.empty()) {
      pid_t parent = parents.back();
      parents.pop_back();
      for (auto& entry : std::filesystem::directory_iterator("/proc")) {
        const std::string name = entry.path().filename().string();
        if (name.find_first_not_of("0123456789") != std::string::npos) continue;
        std::ifstream status(entry.path() / "status");
        std::string line;
        while (std::getline(status, line)) {
          if (line.rfind("PPid:", 0) == 0) {
            if (std::stoi(line.substr(5)) == parent) {
              found.push_back(std::stoi(name));
              parents.push_back(std::stoi(name));
            }
            break;
          }
        }
      }
    }
    return found;
  }

  /// Whether `pid` has exited (gone, or a zombie: its sockets are closed either way).
  static bool exited(pid_t pid) {
    std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
    std::string line;
    if (!std::getline(stat, line)) return true;
    auto close_paren = line.rfind(')');
    return close_paren == std::string::npos || line.compare(close_paren, 3, ") Z") == 0;
  }

  /// Options for a store on `root` checked against the fixture's known_hosts.
  stores::SftpStoreOptions options(const std::filesystem::path& root) const {
    stores::SftpStoreOptions options;
    options.name = "sftp";
    options.host = "127.0.0.1";
    options.port = port_;
    options.user = "root";
    options.key_file = client_key().string();
    options.known_hosts = known_hosts().string();
    options.root = root.string();
    return options;
  }

  ~SshServer() {
    if (pid_ <= 0) return;
    auto children = connection_pids();
    // The listener first; its sessions live on without it.
    test_support::stop_process(pid_);
    for (pid_t child : children)
      ::kill(child, SIGTERM);
  }

 private:
  SshServer() : dir_("tetherd-test-sshd") {
    if (::geteuid() != 0) {
      unavailable_ = "sshd needs root (it runs as uid 0 here)";
    } else if (::access("/usr/sbin/sshd", X_OK) != 0) {
      unavailable_ = "no /usr/sbin/sshd";
    } else if (::access("/usr/bin/ssh-keygen", X_OK) != 0) {
      unavailable_ = "no ssh-keygen";
    } else {
      try {
        start();
      } catch (const std::exception& failure) {
        failure_ = failure.what();
      }
    }
  }

  static std::string run(const std::string& command) {
    std::string output;
    FILE* pipe = ::popen(command.c_str(), "r");
    if (!pipe) throw std::runtime_error("cannot run " + command);
    char buffer[512];
    while (std::fgets(buffer, sizeof buffer, pipe))
      output += buffer;
    if (::pclose(pipe) != 0) throw std::runtime_error("failed: " + command + ": " + output);
    return output;
  }

  void start() {
    std::filesystem::create_directories("/run/sshd");  // sshd's privilege separation dir
    const std::string d = dir().string();
    run("ssh-keygen -q -t ed25519 -N '' -C tetherd-test-host -f " + d + "/host_key");
    run("ssh-keygen -q -t ed25519 -N '' -C tetherd-test-client -f " + d + "/client_key");
    std::filesystem::copy_file(dir() / "client_key.pub", dir() / "authorized_keys");
    port_ = test_support::free_port();
    {
      std::ofstream config(dir() / "sshd_config");
      config << "Port " << port_ << "\nListenAddress 127.0.0.1\nHostKey " << d
             << "/host_key\nPidFile none\nAuthorizedKeysFile " << d
             << "/authorized_keys\nPubkeyAuthentication yes\nPasswordAuthentication no\n"
                "KbdInteractiveAuthentication no\nPermitRootLogin prohibit-password\n"
                "UsePAM no\nStrictModes no\nSubsystem sftp internal-sftp\n"
                "MaxStartups 100\nMaxSessions 100\n";
    }
    std::istringstream host_pub(run("cat " + d + "/host_key.pub"));
    std::string type, blob;
    host_pub >> type >> blob;
    known_hosts_line_ = "[127.0.0.1]:" + std::to_string(port_) + " " + type + " " + blob;
    std::ofstream(known_hosts()) << known_hosts_line_ << "\n";
    std::istringstream listed(run("ssh-keygen -l -E sha256 -f " + d + "/host_key.pub"));
    std::string bits;
    listed >> bits >> fingerprint_;

    int pipe_fds[2];
    if (::pipe(pipe_fds) != 0) throw std::runtime_error("pipe failed");
    const std::string config = d + "/sshd_config";
    std::vector<char*> argv{const_cast<char*>("/usr/sbin/sshd"),
                            const_cast<char*>("-D"),
                            const_cast<char*>("-e"),
                            const_cast<char*>("-f"),
                            const_cast<char*>(config.c_str()),
                            nullptr};
    int devnull = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
    pid_ = ::fork();
    if (pid_ == 0) {
      // Child: only async-signal-safe calls until exec. The listener dies with this
      // process even when it ends abnormally (an abort skips the destructor).
      ::prctl(PR_SET_PDEATHSIG, SIGTERM);
      ::dup2(pipe_fds[1], 2);
      ::dup2(devnull, 1);
      ::close(pipe_fds[0]);
      ::execv("/usr/sbin/sshd", argv.data());
      ::_exit(127);
    }
    ::close(devnull);
    ::close(pipe_fds[1]);
    if (pid_ < 0) {
      ::close(pipe_fds[0]);
      pid_ = 0;
      throw std::runtime_error("cannot start sshd");
    }
    // Wait for "Server listening on ..." (blocking reads, no sleeps); then keep draining
    // its log into a file so that sshd never blocks on a full pipe.
    FILE* log = ::fdopen(pipe_fds[0], "r");
    std::string seen;
    char line[1024];
    bool listening = false;
    while (!listening && std::fgets(line, sizeof line, log)) {
      seen += line;
      listening = std::string(line).find("Server listening on") != std::string::npos;
    }
    if (!listening) {
      std::fclose(log);
      ::waitpid(pid_, nullptr, 0);
      pid_ = 0;
      throw std::runtime_error("sshd did not start: " + seen);
    }
    std::string log_path = d + "/sshd.log";
    std::thread([log, log_path] {
      std::ofstream out(log_path);
      char buffer[1024];
      while (std::fgets(buffer, sizeof buffer, log)) {
        out << buffer;
        out.flush();
      }
      std::fclose(log);
    }).detach();
  }

  test_support::TempDir dir_;
  std::string unavailable_;
  std::string failure_;
  int port_ = 0;
  pid_t pid_ = 0;
  std::string fingerprint_;
  std::string known_hosts_line_;
  int counter_ = 0;
};

/// Opens an SFTP store, running the executor's loop until it is open (tests only).
inline core::Result<core::StorePtr> open_sftp_for_test(core::Executor& executor,
                                                       stores::SftpStoreOptions options) {
  auto& uv = dynamic_cast<stores::UvExecutor&>(executor);
  std::optional<core::Result<core::StorePtr>> opened;
  stores::open_sftp_store(executor, std::move(options),
                          [&](core::Result<core::StorePtr> result) { opened.emplace(result); });
  while (!opened)
    uv_run(uv.loop(), UV_RUN_ONCE);
  return std::move(*opened);
}

struct SftpFixture {
  static constexpr const char* kName = "sftp";
  /// Why the SFTP cases cannot run here; nullopt when they can.
  static std::optional<std::string> unavailable() {
    const auto& why = SshServer::instance().unavailable();
    if (why.empty()) return std::nullopt;
    return why;
  }

  explicit SftpFixture(core::Executor& executor)
      : root_(checked_server().new_directory("roots")),
        outside_(SshServer::instance().new_directory("outside")) {
    auto opened = open_sftp_for_test(executor, SshServer::instance().options(root_));
    if (!opened) throw std::runtime_error(opened.error().message());
    store = *opened;
  }
  /// The running server; throws, with the reason, when it did not start (a case then
  /// fails with that reason rather than with whatever the first connection reports).
  static SshServer& checked_server() {
    auto& server = SshServer::instance();
    if (!server.failure().empty())
      throw std::runtime_error("SFTP fixture unavailable: " + server.failure());
    return server;
  }

  static void require_started() { checked_server(); }

  bool posix_bytes() const { return true; }
  std::filesystem::path root() const { return root_; }
  std::optional<std::filesystem::path> outside() const { return outside_; }
  std::vector<std::string> raw_names() const {
    std::vector<std::string> names;
    for (auto& entry : std::filesystem::recursive_directory_iterator(root_)) {
      names.push_back(entry.path().lexically_relative(root_).string());
    }
    std::sort(names.begin(), names.end());
    return names;
  }

  std::filesystem::path root_;
  std::filesystem::path outside_;
  core::StorePtr store;
};

}  // namespace tetherd::test

// End-to-end: the real `tetherd check` binary, its exit codes (0, 78, 66; 1 for --explain of
// a path that is not mirrored), stdout and stderr.

#include <doctest/doctest.h>
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "config_test_support.hpp"

extern char** environ;

namespace tetherd::config {
namespace {

namespace fs = std::filesystem;
using testing::replace_all;
using testing::ScratchDir;

struct RunResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// Runs tetherd with `args` in `cwd`; TETHERD_CONFIG is removed from the environment unless
// `config_env` is given.
RunResult run_tetherd(const ScratchDir& scratch, const std::vector<std::string>& args,
                      const fs::path& cwd, const std::string* config_env = nullptr) {
  std::vector<std::string> environment;
  for (char** entry = environ; *entry != nullptr; ++entry) {
    if (std::strncmp(*entry, "TETHERD_CONFIG=", 15) != 0) environment.emplace_back(*entry);
  }
  if (config_env != nullptr) environment.push_back("TETHERD_CONFIG=" + *config_env);
  std::vector<char*> envp;
  for (std::string& entry : environment)
    envp.push_back(entry.data());
  envp.push_back(nullptr);

  std::vector<std::string> argv_strings = {TETHERD_BINARY};
  argv_strings.insert(argv_strings.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& arg : argv_strings)
    argv.push_back(arg.data());
  argv.push_back(nullptr);

  const fs::path out_file = scratch.path() / "stdout.txt";
  const fs::path err_file = scratch.path() / "stderr.txt";
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, out_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                   0600);
  posix_spawn_file_actions_addopen(&actions, 2, err_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                   0600);
  posix_spawn_file_actions_addchdir_np(&actions, cwd.c_str());
  pid_t pid = 0;
  const int spawn_error = posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  REQUIRE_MESSAGE(spawn_error == 0, "posix_spawn: " << std::strerror(spawn_error));
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    REQUIRE(errno == EINTR);
  }
  RunResult result;
  REQUIRE(WIFEXITED(status));
  result.exit_code = WEXITSTATUS(status);
  result.out = read_file(out_file);
  result.err = read_file(err_file);
  return result;
}

// A scratch tree with sources and a config naming them.
struct CheckFixture {
  ScratchDir scratch;
  std::string dir = scratch.path().string();
  fs::path config_file;

  CheckFixture() {
    scratch.make_dir("src/a/.cache");
    scratch.make_dir("src/b");
    scratch.make_dir("src/build");
    scratch.make_dir("dst");
    scratch.write("src/a/x.jpg", "x");
    scratch.write("src/a/.cache/y.jpg", "y");
    scratch.write("src/b/z.txt", "z");
    config_file = scratch.write("tetherd.json", replace_all(R"({
  "stores": {
    "backup": { "type": "local", "root": "@DIR@/dst" },
    "bucket": { "type": "s3", "endpoint": "https://s3.example.net", "region": "r",
                "bucket": "photos", "credentials_file": "/etc/tetherd/s3.credentials" }
  },
  "rules": [
    { "name": "photos", "source": "@DIR@/src", "target": "bucket:ann",
      "include": ["**/*.jpg"], "exclude": ["**/.cache/**"], "delete": "running" },
    { "name": "all", "source": "@DIR@/src/", "target": "backup:all",
      "exclude": ["*.txt", "/build/*"], "delay_ms": 50 }
  ]
})",
                                                            "@DIR@", dir));
  }

  RunResult check(std::vector<std::string> args, const fs::path& cwd = {}) const {
    std::vector<std::string> all = {"check", "-c", config_file.string()};
    all.insert(all.end(), args.begin(), args.end());
    return run_tetherd(scratch, all, cwd.empty() ? scratch.path() : cwd);
  }
};

TEST_CASE("tetherd check: a valid config prints a summary and exits 0") {
  CheckFixture fixture;
  const RunResult result = fixture.check({});
  CHECK(result.exit_code == 0);
  CHECK(result.err == "");
  const std::string& dir = fixture.dir;
  CHECK(result.out ==
        fixture.config_file.string() + ": OK: 2 rules, 2 stores\n" + "  rule photos: " + dir +
            "/src -> bucket:ann (s3), delete running, delay 200 ms\n" + "  rule all: " + dir +
            "/src -> backup:all (local), delete true, delay 50 ms\n" + "  store backup: local " +
            dir + "/dst\n" + "  store bucket: s3 https://s3.example.net bucket photos\n");
}

TEST_CASE("tetherd check: a store that is not durable says so") {
  ScratchDir scratch;
  scratch.make_dir("src");
  scratch.make_dir("scratch");
  const fs::path config =
      scratch.write("scratch.json", replace_all(R"({
  "stores": { "scratch": { "type": "local", "root": "@DIR@/scratch", "durable": false } },
  "rules": [ { "name": "r", "source": "@DIR@/src", "target": "scratch:r" } ]
})",
                                                "@DIR@", scratch.path().string()));
  const RunResult result = run_tetherd(scratch, {"check", "-c", config.string()}, scratch.path());
  CHECK(result.exit_code == 0);
  CHECK(result.out.find("  store scratch: local " + scratch.path().string() +
                        "/scratch, not durable\n") != std::string::npos);
}

TEST_CASE("tetherd check: an invalid config prints every problem on stderr and exits 78") {
  ScratchDir scratch;
  scratch.make_dir("src");
  scratch.make_dir("dst");
  const fs::path config = scratch.write("bad.json", replace_all(R"({
  "rules": [
    { "name": "r", "source": "@DIR@/src", "target": "@DIR@/dst",
      "delete": "sometimes", "exlude": ["*.tmp"] }
  ],
  "stores": { "s": { "type": "sftp", "host": "h", "user": "u", "password": "p",
                     "key_file": "/k", "known_hosts": "/kh", "root": "/" } }
})",
                                                                "@DIR@", scratch.path().string()));
  const RunResult result = run_tetherd(scratch, {"check", "-c", config.string()}, scratch.path());
  CHECK(result.exit_code == 78);
  CHECK(result.out == "");
  const std::string file = config.string();
  CHECK(result.err ==
        file +
            ":4:17: rules[0].delete: expected true, false, \"startup\" or \"running\", got "
            "\"sometimes\"\n" +
            file + ":4:30: rules[0].exlude: unknown key \"exlude\" (did you mean \"exclude\"?)\n" +
            file +
            ":6:64: stores.s.password: \"password\" looks like a secret; secrets never go in the "
            "config file: give the path of the SSH private key in \"key_file\"\n" +
            "tetherd check: 3 problems in " + file + "\n");

  const fs::path broken = scratch.write("broken.json", "{\n  \"rules\": [\n    1,\n  }\n");
  const RunResult syntax = run_tetherd(scratch, {"check", "-c", broken.string()}, scratch.path());
  CHECK(syntax.exit_code == 78);
  CHECK(syntax.err == broken.string() +
                          ":4:3: unexpected '}'; expected a value\n"
                          "tetherd check: 1 problem in " +
                          broken.string() + "\n");
}

TEST_CASE("tetherd check finds what run refuses: a missing target, a socket path too long") {
  ScratchDir scratch;
  scratch.make_dir("src");
  scratch.make_dir("src2");
  scratch.make_dir("src3");
  const std::string dir = scratch.path().string();
  const std::string socket = dir + "/" + std::string(108 - dir.size() - 1, 's');
  REQUIRE(socket.size() == 108);  // sun_path's size: no room left for the NUL
  const std::string text = replace_all(R"({
  "control_socket": "@SOCKET@",
  "stores": { "gone": { "type": "local", "root": "@DIR@/unmounted" } },
  "rules": [
    { "name": "a", "source": "@DIR@/src", "target": "@DIR@/no-parent/t" },
    { "name": "b", "source": "@DIR@/src2", "target": "@DIR@/t" },
    { "name": "c", "source": "@DIR@/src3", "target": "gone:c" }
  ]
})",
                                       "@SOCKET@", socket);
  const fs::path config = scratch.write("startup.json", replace_all(text, "@DIR@", dir));
  const std::string file = config.string();
  const std::string advice =
      "; create it first (tetherd makes directories inside a target, never the target itself: "
      "it may be a disk not mounted yet)\n";
  const std::string expected =
      file + ":2:21: control_socket: the control socket path is 108 bytes long; a Unix socket " +
      "path holds at most 107 bytes (choose a shorter one)\n" + file +
      ":5:" + std::to_string(48 + dir.size()) + ": rules[0].target: the target directory \"" + dir +
      "/no-parent/t\" does not exist, nor does its parent \"" + dir + "/no-parent\"" + advice +
      file + ":6:" + std::to_string(49 + dir.size()) +
      ": rules[1].target: the target directory \"" + dir + "/t\" does not exist" + advice + file +
      ":7:" + std::to_string(49 + dir.size()) + ": rules[2].target: the root \"" + dir +
      "/unmounted\" of store \"gone\" does not exist" + advice + "tetherd check: 4 problems in " +
      file + "\n";
  const RunResult checked = run_tetherd(scratch, {"check", "-c", file}, scratch.path());
  CHECK(checked.exit_code == 78);
  CHECK(checked.err == expected);

  // What `run` says of the same config: the same problems, before anything starts.
  const RunResult ran = run_tetherd(scratch, {"run", "-c", file}, scratch.path());
  CHECK(ran.exit_code == 78);
  CHECK(ran.err.find(file + ":2:21: control_socket: the control socket path is 108 bytes") !=
        std::string::npos);

  // Once the directories are there and the socket path is shorter, the config is fine.
  scratch.make_dir("no-parent/t");
  scratch.make_dir("t");
  scratch.make_dir("unmounted");
  const std::string fixed = replace_all(read_file(config), socket, dir + "/c.sock");
  scratch.write("startup.json", fixed);
  const RunResult fine = run_tetherd(scratch, {"check", "-c", file}, scratch.path());
  CHECK(fine.err == "");
  CHECK(fine.exit_code == 0);
}

TEST_CASE("tetherd check: a missing or unreadable file exits 66") {
  ScratchDir scratch;
  const std::string missing = (scratch.path() / "nope.json").string();
  const RunResult result = run_tetherd(scratch, {"check", "-c", missing}, scratch.path());
  CHECK(result.exit_code == 66);
  CHECK(result.out == "");
  CHECK(result.err ==
        "tetherd check: " + missing + ": cannot read the config file: No such file or directory\n");

  const RunResult directory =
      run_tetherd(scratch, {"check", "-c", scratch.path().string()}, scratch.path());
  CHECK(directory.exit_code == 66);
  CHECK(directory.err == "tetherd check: " + scratch.path().string() +
                             ": cannot read the config file: it is a directory\n");
}

TEST_CASE("tetherd check: the config comes from -c, else $TETHERD_CONFIG, else the default") {
  CheckFixture fixture;
  const std::string from_env = fixture.config_file.string();
  const RunResult env = run_tetherd(fixture.scratch, {"check"}, fixture.scratch.path(), &from_env);
  CHECK(env.exit_code == 0);
  CHECK(env.out.rfind(from_env + ": OK: 2 rules, 2 stores\n", 0) == 0);

  // -c wins over the environment.
  const std::string missing = (fixture.scratch.path() / "missing.json").string();
  const RunResult option =
      run_tetherd(fixture.scratch, {"check", "-c", missing}, fixture.scratch.path(), &from_env);
  CHECK(option.exit_code == 66);
  CHECK(option.err.find(missing) != std::string::npos);

  if (!fs::exists(default_config_path)) {
    const RunResult fallback = run_tetherd(fixture.scratch, {"check"}, fixture.scratch.path());
    CHECK(fallback.exit_code == 66);
    CHECK(fallback.err ==
          "tetherd check: /etc/tetherd/tetherd.json: cannot read the config "
          "file: No such file or directory\n"
          "tetherd check: give the config with -c FILE or $TETHERD_CONFIG\n");
  }
}

TEST_CASE("tetherd check --explain: the deciding rule, pattern and destination") {
  CheckFixture fixture;
  const std::string& dir = fixture.dir;

  const RunResult included = fixture.check({"--explain", dir + "/src/a/x.jpg"});
  CHECK(included.exit_code == 0);
  CHECK(included.err == "");
  CHECK(included.out == dir + "/src/a/x.jpg (file)\n" +  //
                            "  rule photos (source " + dir + "/src): relative path \"a/x.jpg\"\n" +
                            "    included: matches include[0] \"**/*.jpg\"\n" +
                            "    mirrored to store \"bucket\" (s3) at ann/a/x.jpg\n" +
                            "  rule all (source " + dir + "/src): relative path \"a/x.jpg\"\n" +
                            "    included: no include patterns, and no exclude pattern matches\n" +
                            "    mirrored to store \"backup\" (local) at all/a/x.jpg = " + dir +
                            "/dst/all/a/x.jpg\n");

  // Relative to the working directory; excluded through an ancestor by one rule only.
  const RunResult relative = fixture.check({"--explain", "a/.cache/y.jpg"}, dir + "/src");
  CHECK(relative.exit_code == 0);
  CHECK(relative.out.rfind(dir + "/src/a/.cache/y.jpg (file)\n", 0) == 0);
  CHECK(relative.out.find("    excluded: ancestor directory \"a/.cache\" matches exclude[0] "
                          "\"**/.cache/**\"\n    not mirrored\n") != std::string::npos);

  // Not mirrored by any rule: exit 1.
  const RunResult excluded = fixture.check({"--explain", dir + "/src/b/z.txt"});
  CHECK(excluded.exit_code == 1);
  CHECK(excluded.out ==
        dir + "/src/b/z.txt (file)\n" +  //
            "  rule photos (source " + dir + "/src): relative path \"b/z.txt\"\n" +
            "    not included: no include pattern matches the path or an ancestor directory\n" +
            "    not mirrored\n" +  //
            "  rule all (source " + dir + "/src): relative path \"b/z.txt\"\n" +
            "    excluded: matches exclude[0] \"*.txt\"\n" +  //
            "    not mirrored\n");

  // A directory that is not itself included is still watched for included files.
  const RunResult directory = fixture.check({"--explain", dir + "/src/build/"});
  CHECK(directory.out.find("  rule photos (source " + dir +
                           "/src): relative path \"build\"\n"
                           "    not included: no include pattern matches the path or an ancestor "
                           "directory\n"
                           "    not mirrored itself, but watched: paths beneath it may be "
                           "included\n") != std::string::npos);
  CHECK(directory.out.find("  rule all (source " + dir +
                           "/src): relative path \"build\"\n"
                           "    included: no include patterns, and no exclude pattern matches\n"
                           "    mirrored to store \"backup\" (local) at all/build = " +
                           dir + "/dst/all/build\n") != std::string::npos);

  const RunResult outside = fixture.check({"--explain", dir + "/elsewhere/file"});
  CHECK(outside.exit_code == 1);
  CHECK(outside.out == dir + "/elsewhere/file (does not exist; judged as a file)\n" +
                           "  no rule covers this path\n");

  const RunResult root = fixture.check({"--explain", dir + "/src"});
  CHECK(root.exit_code == 0);
  CHECK(root.out.find("    this is the rule's source root: mirrored to store \"bucket\" (s3) at "
                      "ann\n") != std::string::npos);

  // A path reached through a symbolic link to the source is explained under the source.
  fs::create_directory_symlink(fixture.scratch.path() / "src", fixture.scratch.path() / "alias");
  const RunResult alias = fixture.check({"--explain", dir + "/alias/a/x.jpg"});
  CHECK(alias.exit_code == 0);
  CHECK(alias.out.find("  rule photos (source " + dir + "/src): relative path \"a/x.jpg\"\n") !=
        std::string::npos);
}

TEST_CASE("tetherd check --explain on an invalid config reports the problems and exits 78") {
  ScratchDir scratch;
  const fs::path config = scratch.write("bad.json", "{\"rules\": 1}");
  const RunResult result =
      run_tetherd(scratch, {"check", "-c", config.string(), "--explain", "/x"}, scratch.path());
  CHECK(result.exit_code == 78);
  CHECK(result.out == "");
  CHECK(result.err == config.string() + ":1:11: rules: expected an array, got 1\n" +
                          "tetherd check: 1 problem in " + config.string() + "\n");
}

TEST_CASE("the shipped example configs pass tetherd check once their sources and targets exist") {
  ScratchDir scratch;
  for (const auto& entry : fs::directory_iterator(TETHERD_EXAMPLES_DIR)) {
    CAPTURE(entry.path());
    std::string text = read_file(entry.path());
    // Point every "/home/ann/..." source at a fresh directory.
    for (const char* name : {"Pictures", "Documents", "Projects", "Builds"}) {
      const fs::path source = scratch.make_dir(std::string("home/ann/") + name);
      text = replace_all(text, std::string("\"/home/ann/") + name + "\"",
                         "\"" + source.string() + "\"");
    }
    // And the local targets and store roots (a target is never made by tetherd).
    for (const char* directory : {"srv/backup", "mnt/scratch", "srv/mirror/documents"}) {
      scratch.make_dir(directory);
    }
    for (const char* top : {"srv", "mnt"}) {
      text = replace_all(text, std::string("\"/") + top + "/",
                         "\"" + (scratch.path() / top).string() + "/");
    }
    const fs::path rewritten = scratch.write(entry.path().filename().string(), text);
    const RunResult result =
        run_tetherd(scratch, {"check", "-c", rewritten.string()}, scratch.path());
    CHECK(result.err == "");
    CHECK(result.exit_code == 0);
  }
}

}  // namespace
}  // namespace tetherd::config

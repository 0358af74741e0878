// Copies a file or a directory tree into a local store through the Store API on a libuv
// loop, with bounded concurrency: the driver behind bench/local_store_vs_cp.sh.
//
//   local_store_copy [--concurrency N] [--durable] [--no-preserve] SOURCE STORE_ROOT
//
// SOURCE a file: stored as STORE_ROOT/<basename>. SOURCE a directory: its contents are
// stored beneath STORE_ROOT (like `cp -a SOURCE/. STORE_ROOT`). Mode and mtime are kept
// unless --no-preserve. STORE_ROOT is created if missing. Exit status 0 only if every
// entry was stored; errors are printed with the store's message.

#include <sys/stat.h>
#include <uv.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <system_error>

#include "tetherd/stores/fd_byte_source.hpp"
#include "tetherd/stores/local_store.hpp"
#include "tetherd/stores/uv_executor.hpp"

namespace fs = std::filesystem;
using namespace tetherd;

namespace {

struct Options {
  std::size_t concurrency = 32;
  bool durable = false;
  bool preserve = true;
  fs::path source;
  fs::path root;
};

[[noreturn]] void usage(const char* message) {
  std::fprintf(stderr,
               "local_store_copy: %s\nusage: local_store_copy [--concurrency N] [--durable] "
               "[--no-preserve] SOURCE STORE_ROOT\n",
               message);
  std::exit(64);
}

Options parse(int argc, char** argv) {
  Options options;
  std::vector<std::string> positional;
  for (int i = 1; i < argc; ++i) {
    std::string argument = argv[i];
    if (argument == "--concurrency" && i + 1 < argc) {
      options.concurrency = std::strtoul(argv[++i], nullptr, 10);
      if (options.concurrency == 0) usage("--concurrency needs a positive number");
    } else if (argument == "--durable") {
      options.durable = true;
    } else if (argument == "--no-preserve") {
      options.preserve = false;
    } else if (!argument.empty() && argument[0] == '-') {
      usage(("unknown option " + argument).c_str());
    } else {
      positional.push_back(argument);
    }
  }
  if (positional.size() != 2) usage("SOURCE and STORE_ROOT are required");
  options.source = positional[0];
  options.root = positional[1];
  return options;
}

// Feeds entries of the source into the store, at most `concurrency` at a time. The walk
// advances on the loop thread only when a slot is free, so memory stays bounded.
class Copier {
 public:
  Copier(stores::UvExecutor& executor, core::StorePtr store, const Options& options)
      : executor_(executor), store_(std::move(store)), options_(options) {}

  void start() {
    std::error_code error;
    if (fs::is_directory(options_.source, error)) {
      walker_ = fs::recursive_directory_iterator(options_.source, error);
      if (error) fail(options_.source.string() + ": " + error.message());
      walking_ = true;
    } else {
      single_ = true;
    }
    fill();
  }

  int failures() const { return failures_; }
  std::size_t stored() const { return stored_; }
  bool finished() const { return !walking_ && !single_ && in_flight_ == 0; }

 private:
  void fail(const std::string& message) {
    std::fprintf(stderr, "local_store_copy: %s\n", message.c_str());
    ++failures_;
  }

  void fill() {
    while (in_flight_ < options_.concurrency) {
      if (single_) {
        single_ = false;
        launch(options_.source, options_.source.filename().string(), false);
        continue;
      }
      if (!walking_) return;
      if (walker_ == fs::recursive_directory_iterator()) {
        walking_ = false;
        return;
      }
      fs::path path = walker_->path();
      bool is_directory = walker_->is_directory() && !walker_->is_symlink();
      std::error_code error;
      walker_.increment(error);
      if (error) {
        fail(path.string() + ": " + error.message());
        walking_ = false;
        return;
      }
      launch(path, path.lexically_relative(options_.source).string(), is_directory);
    }
  }

  void launch(const fs::path& path, const std::string& relative, bool is_directory) {
    auto key = core::StoreKey::parse_file(relative);
    if (!key) return fail(key.error().message());
    ++in_flight_;
    auto done = [this](auto result) {
      --in_flight_;
      if (!result) {
        fail(result.error().message());
      } else {
        ++stored_;
      }
      fill();
    };
    if (is_directory) {
      store_->mkdir(*key, done);
      return;
    }
    struct stat info {};
    if (::lstat(path.c_str(), &info) != 0) {
      --in_flight_;
      return fail(path.string() + ": " + std::strerror(errno));
    }
    if (S_ISLNK(info.st_mode)) {
      fs::path target = fs::read_symlink(path);
      store_->symlink(*key, target.string(), done);
      return;
    }
    auto source = stores::FdByteSource::open(executor_, path.string());
    if (!source) {
      --in_flight_;
      return fail(source.error().message());
    }
    core::WriteOptions write;
    if (options_.preserve) {
      write.mode = info.st_mode & 07777;
      write.mtime = core::TimePoint(std::chrono::seconds(info.st_mtim.tv_sec) +
                                    std::chrono::nanoseconds(info.st_mtim.tv_nsec));
    }
    write.size_hint = static_cast<std::uint64_t>(info.st_size);
    store_->write(*key, *source, write, done);
  }

  stores::UvExecutor& executor_;
  core::StorePtr store_;
  Options options_;
  fs::recursive_directory_iterator walker_;
  bool walking_ = false;
  bool single_ = false;
  std::size_t in_flight_ = 0;
  std::size_t stored_ = 0;
  int failures_ = 0;
};

}  // namespace

int main(int argc, char** argv) {
  Options options = parse(argc, argv);
  std::error_code error;
  fs::create_directories(options.root, error);
  if (error) {
    std::fprintf(stderr, "local_store_copy: %s: %s\n", options.root.c_str(),
                 error.message().c_str());
    return 73;
  }
  uv_loop_t loop;
  uv_loop_init(&loop);
  int status = 0;
  {
    stores::UvExecutor executor(&loop);
    stores::LocalStoreOptions store_options;
    store_options.name = "bench";
    store_options.root = options.root.string();
    store_options.durable = options.durable;
    auto store = stores::open_local_store(executor, store_options);
    if (!store) {
      std::fprintf(stderr, "local_store_copy: %s\n", store.error().message().c_str());
      return 66;
    }
    Copier copier(executor, *store, options);
    copier.start();
    while (!copier.finished())
      uv_run(&loop, UV_RUN_ONCE);
    bool closed = false;
    (*store)->close([&](core::Result<void>) { closed = true; });
    while (!closed)
      uv_run(&loop, UV_RUN_ONCE);
    status = copier.failures() == 0 ? 0 : 74;
    if (copier.failures() != 0) {
      std::fprintf(stderr, "local_store_copy: %d entries failed, %zu stored\n", copier.failures(),
                   copier.stored());
    }
  }
  uv_run(&loop, UV_RUN_DEFAULT);
  uv_loop_close(&loop);
  return status;
}

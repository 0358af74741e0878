// bench_create_files DIR COUNT [modify]: the writer side of
// bench/watch_setup_vs_inotifywait.sh's events/s measurement, as fast as it can go.
//   default: creates COUNT empty files f0..f<COUNT-1> in DIR (open O_CREAT|O_EXCL + close)
//   modify:  COUNT writes of one byte, round-robin over DIR/f0..f999 (created first, before
//            the clock starts); each write is one open + write + close
// Prints the elapsed seconds.
#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: bench_create_files DIR COUNT [modify]\n");
    return 64;
  }
  const std::string directory = argv[1];
  const long count = std::strtol(argv[2], nullptr, 10);
  const bool modify = argc > 3 && std::string(argv[3]) == "modify";
  constexpr long modify_set = 1000;
  std::vector<std::string> paths;
  for (long index = 0; index < (modify ? modify_set : count); ++index) {
    paths.push_back(directory + "/f" + std::to_string(index));
  }
  if (modify) {
    for (const std::string& path : paths) {
      const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
      if (fd < 0) {
        std::perror(path.c_str());
        return 74;
      }
      ::close(fd);
    }
  }
  const auto start = std::chrono::steady_clock::now();
  for (long index = 0; index < count; ++index) {
    const std::string& path = paths[static_cast<std::size_t>(modify ? index % modify_set : index)];
    const int fd = modify ? ::open(path.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC)
                          : ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) {
      std::perror(path.c_str());
      return 74;
    }
    if (modify && ::write(fd, "x", 1) != 1) {
      std::perror(path.c_str());
      return 74;
    }
    ::close(fd);
  }
  const std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - start;
  std::printf("%.6f\n", elapsed.count());
  return 0;
}

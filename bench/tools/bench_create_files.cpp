// bench_create_files DIR COUNT [PREFIX]: creates COUNT empty files in DIR as fast as possible
// (open O_CREAT + close, nothing else) and prints the elapsed seconds. The writer side of
// bench/watch_setup_vs_inotifywait.sh's events/s measurement.
#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: bench_create_files DIR COUNT [PREFIX]\n");
    return 64;
  }
  const std::string directory = argv[1];
  const long count = std::strtol(argv[2], nullptr, 10);
  const std::string prefix = argc > 3 ? argv[3] : "f";
  const auto start = std::chrono::steady_clock::now();
  for (long index = 0; index < count; ++index) {
    const std::string path = directory + "/" + prefix + std::to_string(index);
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) {
      std::perror(path.c_str());
      return 74;
    }
    ::close(fd);
  }
  const std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - start;
  std::printf("%.6f\n", elapsed.count());
  return 0;
}

// PurePath micro-benchmarks: parse + normalize of typical paths, joins, relative_to,
// match. Figures are reported, never asserted.
//   build/release/bench/tetherd_microbench --benchmark_filter=PurePath
#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include "tetherd/core/pure_path.hpp"

namespace {

using tetherd::core::PathFlavour;
using tetherd::core::PurePath;

const std::vector<std::string>& posix_inputs() {
  static const std::vector<std::string> inputs = {
      "/home/user/projects/tetherd/core/src/pure_path.cpp",
      "src/./lib//module/file.tar.gz",
      "/var/lib/tetherd/state/../cache/objects/ab/cdef0123456789",
      "relative/name.txt",
  };
  return inputs;
}

const std::vector<std::string>& windows_inputs() {
  static const std::vector<std::string> inputs = {
      "C:\\Users\\user\\Documents\\Projects\\tetherd\\core\\src\\pure_path.cpp",
      "c:/mixed/separators\\and//doubles\\file.txt",
      "\\\\server\\share\\department\\reports\\2026\\q4.xlsx",
      "\\\\?\\C:\\very\\long\\path\\name.bin",
  };
  return inputs;
}

void bench_parse(benchmark::State& state, PathFlavour flavour,
                 const std::vector<std::string>& inputs) {
  std::size_t bytes = 0;
  for (auto _ : state) {
    for (const auto& input : inputs) {
      PurePath path(flavour, input);
      benchmark::DoNotOptimize(path);
      bytes += input.size();
    }
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * inputs.size()));
  state.SetBytesProcessed(static_cast<std::int64_t>(bytes));
}

void PurePath_parse_posix(benchmark::State& state) {
  bench_parse(state, PathFlavour::posix, posix_inputs());
}
BENCHMARK(PurePath_parse_posix);

void PurePath_parse_windows(benchmark::State& state) {
  bench_parse(state, PathFlavour::windows, windows_inputs());
}
BENCHMARK(PurePath_parse_windows);

void PurePath_join_posix(benchmark::State& state) {
  const PurePath base = PurePath::posix("/srv/mirror/target");
  for (auto _ : state) {
    PurePath joined = base / "sub/dir/file.txt";
    benchmark::DoNotOptimize(joined);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(PurePath_join_posix);

void PurePath_join_windows(benchmark::State& state) {
  const PurePath base = PurePath::windows("D:\\mirror\\target");
  for (auto _ : state) {
    PurePath joined = base / "sub\\dir\\file.txt";
    benchmark::DoNotOptimize(joined);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(PurePath_join_windows);

void PurePath_relative_to_posix(benchmark::State& state) {
  const PurePath path = PurePath::posix("/srv/source/tree/a/b/c/file.txt");
  const PurePath root = PurePath::posix("/srv/source/tree");
  for (auto _ : state) {
    PurePath relative = path.relative_to(root);
    benchmark::DoNotOptimize(relative);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(PurePath_relative_to_posix);

void PurePath_relative_to_windows(benchmark::State& state) {
  const PurePath path = PurePath::windows("C:\\Source\\Tree\\a\\b\\c\\file.txt");
  const PurePath root = PurePath::windows("c:\\source\\tree");
  for (auto _ : state) {
    PurePath relative = path.relative_to(root);
    benchmark::DoNotOptimize(relative);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(PurePath_relative_to_windows);

void PurePath_relative_to_walk_up(benchmark::State& state) {
  const PurePath path = PurePath::posix("/srv/a/b/c/file.txt");
  const PurePath other = PurePath::posix("/srv/x/y/z");
  for (auto _ : state) {
    PurePath relative = path.relative_to(other, true);
    benchmark::DoNotOptimize(relative);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(PurePath_relative_to_walk_up);

void PurePath_match_posix(benchmark::State& state) {
  const PurePath path = PurePath::posix("/srv/source/tree/a/b/c/file.txt");
  for (auto _ : state) {
    benchmark::DoNotOptimize(path.match("c/*.txt"));
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(PurePath_match_posix);

void PurePath_full_match_posix(benchmark::State& state) {
  const PurePath path = PurePath::posix("/srv/source/tree/a/b/c/file.txt");
  for (auto _ : state) {
    benchmark::DoNotOptimize(path.full_match("/srv/**/*.txt"));
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(PurePath_full_match_posix);

void PurePath_equal_windows(benchmark::State& state) {
  const PurePath a = PurePath::windows("C:\\Users\\Me\\File.TXT");
  const PurePath b = PurePath::windows("c:/users/me/file.txt");
  for (auto _ : state) {
    benchmark::DoNotOptimize(a == b);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(PurePath_equal_windows);

}  // namespace

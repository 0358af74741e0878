// Microbenchmarks of GlobPattern (compile, match) and PathFilter::decide/includes on typical
// rule patterns and paths. Figures only; nothing here asserts a time.
//   build/release/bench/tetherd_microbench --benchmark_filter='Glob|PathFilter'

#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include "tetherd/core/glob.hpp"
#include "tetherd/core/path_filter.hpp"

namespace {

using tetherd::core::GlobPattern;
using tetherd::core::PathFilter;

const std::vector<std::string>& typical_patterns() {
  static const std::vector<std::string> patterns = {"**/*.jpg", "**/.cache/**",      "/build/",
                                                    "*.[ch]",   "src/**/test_?.cpp", "[!.]*.tmp"};
  return patterns;
}

const std::vector<std::string>& typical_paths() {
  static const std::vector<std::string> paths = {
      "a.jpg",
      "2024/holiday/IMG_0001.jpg",
      "home/ann/.cache/thumbnails/large/0123456789abcdef.png",
      "build",
      "src/core/glob_match.c",
      "src/lib/deep/er/test_a.cpp",
      "notes.tmp",
      "documents/projects/tetherd/design/ARCHITECTURE.md",
  };
  return paths;
}

void GlobCompile(benchmark::State& state) {
  const std::string& text = typical_patterns()[static_cast<std::size_t>(state.range(0))];
  state.SetLabel(text);
  for (auto _ : state) {
    GlobPattern pattern(text);
    benchmark::DoNotOptimize(pattern);
  }
}
BENCHMARK(GlobCompile)->DenseRange(0, 5);

// One pattern against every typical path; reports time per match.
void GlobMatch(benchmark::State& state) {
  const std::string& text = typical_patterns()[static_cast<std::size_t>(state.range(0))];
  const GlobPattern pattern(text);
  const auto& paths = typical_paths();
  state.SetLabel(text);
  for (auto _ : state) {
    for (const std::string& path : paths) {
      benchmark::DoNotOptimize(pattern.matches(path, path == "build"));
    }
  }
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(paths.size()));
}
BENCHMARK(GlobMatch)->DenseRange(0, 5);

void GlobMatchPathological(benchmark::State& state) {
  const GlobPattern pattern("*a*a*a*a*a*a*a*a*b");
  const std::string path(static_cast<std::size_t>(state.range(0)), 'a');
  for (auto _ : state)
    benchmark::DoNotOptimize(pattern.matches(path, false));
  state.SetComplexityN(state.range(0));
}
BENCHMARK(GlobMatchPathological)->RangeMultiplier(4)->Range(16, 4096)->Complexity();

PathFilter typical_filter() {
  return PathFilter({"**/*.jpg", "**/*.jpeg", "**/*.raw", "**/*.png", "docs/"},
                    {"**/.cache/**", "**/*.tmp", "**/.git/", "/build/", "node_modules/"});
}

// decide() with ~10 patterns, building the explanation (allocates the strings).
void PathFilterDecide(benchmark::State& state) {
  const PathFilter filter = typical_filter();
  const auto& paths = typical_paths();
  for (auto _ : state) {
    for (const std::string& path : paths) {
      benchmark::DoNotOptimize(filter.decide(path, path == "build"));
    }
  }
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(paths.size()));
}
BENCHMARK(PathFilterDecide);

// includes(): the engine's hot path, no allocation.
void PathFilterIncludes(benchmark::State& state) {
  const PathFilter filter = typical_filter();
  const auto& paths = typical_paths();
  for (auto _ : state) {
    for (const std::string& path : paths) {
      benchmark::DoNotOptimize(filter.includes(path, path == "build"));
    }
  }
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(paths.size()));
}
BENCHMARK(PathFilterIncludes);

}  // namespace

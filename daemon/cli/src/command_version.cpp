#include <dlfcn.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "tetherd/cli/cli.hpp"
#include "tetherd/core/build_info.hpp"

namespace tetherd::daemon {
namespace {

// Which allocator serves malloc in this process, as found at run time (the build may link
// mimalloc; LD_PRELOAD may bring any): mimalloc when a block from malloc lies in its heap.
std::string active_allocator() {
  using InHeap = bool (*)(const void*);
  using Version = int (*)();
  auto in_heap = reinterpret_cast<InHeap>(::dlsym(RTLD_DEFAULT, "mi_is_in_heap_region"));
  auto version = reinterpret_cast<Version>(::dlsym(RTLD_DEFAULT, "mi_version"));
  if (in_heap && version) {
    void* block = std::malloc(64);
    const bool from_mimalloc = block && in_heap(block);
    std::free(block);
    if (from_mimalloc) {
      const int number = version();  // 209 for 2.0.9
      return "mimalloc " + std::to_string(number / 100) + "." + std::to_string(number / 10 % 10) +
             "." + std::to_string(number % 10);
    }
  }
  return core::build_info().sanitizers ? "sanitizer" : "libc malloc";
}

int print_version() {
  const core::BuildInfo& info = core::build_info();
  std::printf("tetherd %s\n", info.version.c_str());
  std::printf("compiler: %s\n", info.compiler.c_str());
  std::printf("build type: %s\n", info.build_type.c_str());
  std::printf("sanitizers: %s\n", info.sanitizers ? "address,undefined" : "none");
  std::printf("allocator: %s\n", active_allocator().c_str());
  return std::fflush(stdout) == 0 ? exit_code::ok : exit_code::io_error;
}

}  // namespace

void add_version_command(CLI::App& app, CommandMain& chosen) {
  CLI::App* command = app.add_subcommand("version", "Print version, compiler and build options");
  command->callback([&chosen] { chosen = print_version; });
}

}  // namespace tetherd::daemon

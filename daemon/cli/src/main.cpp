#include <cstdio>
#include <exception>

#include "tetherd/cli/cli.hpp"

// Exceptions that escape start-up become an exit code here; at run time errors are values.
int main(int argc, char** argv) {
  try {
    return tetherd::daemon::run_cli(argc, argv);
  } catch (const std::exception& error) {
    std::fprintf(stderr, "tetherd: %s\n", error.what());
  } catch (...) {
    std::fprintf(stderr, "tetherd: unknown internal error\n");
  }
  return tetherd::daemon::exit_code::software;
}

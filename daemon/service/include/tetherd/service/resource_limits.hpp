#pragma once

// How much of the machine the daemon uses: open descriptors, writes in flight, threads.

#include <cstddef>

namespace tetherd::daemon {

/// Raises the soft limit on open files to the hard limit (at most 1,048,576). The engine
/// keeps a few descriptors per write in flight, and libuv polls with epoll, so the 1024 that
/// select() needs does not apply. Returns the soft limit now in force.
std::size_t raise_open_file_limit() noexcept;

/// Writes one rule may have in flight, given the open-file limit and the number of rules:
/// a small-file write waiting for its group commit holds its temporary file and a share of
/// its target directory (the writes of one worker trip share it), and while it copies,
/// the source file: three descriptors is the bound used, and a reserve stays free for the
/// watcher, sockets and logs. Between 16 and 4096. A durable write is reported after two
/// flushes (its data, then its name), so the writes in flight, not the workers, bound a
/// burst: 4096 measured about 10% faster than 1024 on 100,000 small files; each costs a
/// few KiB of memory.
std::size_t writes_in_flight_per_rule(std::size_t open_file_limit, std::size_t rules) noexcept;

/// Sets UV_THREADPOOL_SIZE (unless the user did) before the loop starts: twice the CPUs,
/// at least 4. Blocking store work (copies, flushes) runs there; more threads than that
/// only contend for the CPUs and the pool's lock when small files stream through.
void configure_worker_threads() noexcept;

}  // namespace tetherd::daemon

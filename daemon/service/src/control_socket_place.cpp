#include "control_socket_place.hpp"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>  // renameat2, RENAME_NOREPLACE
#include <cstdlib>
#include <cstring>
#include <string_view>
#include <vector>

namespace tetherd::daemon {
namespace {

core::StoreError place_error(core::Errc code, std::string detail) {
  core::StoreError error = core::StoreError::make(code, std::move(detail));
  error.store = "control socket";
  return error;
}

core::StoreError system_error(const std::string& what, int error_number) {
  core::StoreError error =
      place_error(error_number == EACCES || error_number == EPERM ? core::Errc::PermissionDenied
                                                                  : core::Errc::Unavailable,
                  what + ": " + std::strerror(error_number));
  error.native_code = error_number;
  return error;
}

std::string_view kind_of(mode_t mode) {
  if (S_ISREG(mode)) return "a regular file";
  if (S_ISLNK(mode)) return "a symbolic link";
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISFIFO(mode)) return "a named pipe";
  if (S_ISCHR(mode) || S_ISBLK(mode)) return "a device";
  return "something other than a socket";
}

bool fill_address(sockaddr_un& address, const std::string& path) {
  if (path.size() >= sizeof address.sun_path) return false;
  address.sun_family = AF_UNIX;
  std::memcpy(address.sun_path, path.c_str(), path.size() + 1);
  return true;
}

enum class Occupant { none, stale_socket };

/// What `path` names, when the socket may go there; an error naming it otherwise.
core::Result<Occupant> examine(const std::string& path, struct stat& found) {
  if (::lstat(path.c_str(), &found) != 0) {
    if (errno == ENOENT) return Occupant::none;
    return system_error("cannot examine the control socket path " + path, errno);
  }
  if (!S_ISSOCK(found.st_mode)) {
    return place_error(core::Errc::AlreadyExists,
                       "refusing to put the control socket at " + path + ": it is " +
                           std::string(kind_of(found.st_mode)) +
                           ", not a socket (remove it, or choose another --socket)");
  }
  sockaddr_un address{};
  if (!fill_address(address, path)) {
    return place_error(core::Errc::InvalidPath, "socket path too long: " + path);
  }
  const int probe = ::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (probe < 0) return system_error("cannot make a socket", errno);
  const int connected =
      ::connect(probe, reinterpret_cast<const sockaddr*>(&address), sizeof address);
  const int error_number = errno;
  ::close(probe);
  // EAGAIN: its backlog is full, so someone listens.
  if (connected == 0 || error_number == EAGAIN) {
    return place_error(core::Errc::AlreadyExists, "another tetherd is already listening on " +
                                                      path + " (use --socket to run a second one)");
  }
  // Only a refused connection proves nobody listens; anything else (EACCES) leaves it open.
  if (error_number != ECONNREFUSED) {
    return system_error(
        "cannot tell whether a daemon listens on " + path + ", so it is not replaced",
        error_number);
  }
  return Occupant::stale_socket;
}

/// A private 0700 directory next to the socket's path (same file system, so the socket
/// can be renamed into place), removed with whatever is left in it.
class PrivateDirectory {
 public:
  explicit PrivateDirectory(const std::string& next_to) {
    const auto slash = next_to.rfind('/');
    std::string name = slash == std::string::npos ? std::string(".") : next_to.substr(0, slash);
    name += "/.tetherd-socket-XXXXXX";
    std::vector<char> buffer(name.begin(), name.end());
    buffer.push_back('\0');
    if (::mkdtemp(buffer.data()) == nullptr) {  // mode 0700 whatever the umask
      error_ = errno;
      return;
    }
    path_ = buffer.data();
    fd_ = ::open(path_.c_str(), O_DIRECTORY | O_RDONLY | O_CLOEXEC);
    if (fd_ < 0) error_ = errno;
  }
  ~PrivateDirectory() {
    if (fd_ >= 0) {
      ::unlinkat(fd_, kEntry, 0);  // still there unless renamed into place
      ::close(fd_);
    }
    if (!path_.empty()) ::rmdir(path_.c_str());
  }
  PrivateDirectory(const PrivateDirectory&) = delete;
  PrivateDirectory& operator=(const PrivateDirectory&) = delete;

  /// 0 when usable, else the errno of the failure.
  int error() const noexcept { return error_; }
  int fd() const noexcept { return fd_; }
  /// The name to bind: through the directory's path when it fits in sun_path, else
  /// through /proc/self/fd (the temporary path is longer than the socket's own).
  std::string bind_path() const {
    const std::string direct = path_ + "/" + kEntry;
    if (direct.size() < sizeof(sockaddr_un{}.sun_path)) return direct;
    return "/proc/self/fd/" + std::to_string(fd_) + "/" + kEntry;
  }

  static constexpr const char* kEntry = "s";

 private:
  std::string path_;
  int fd_ = -1;
  int error_ = 0;
};

/// Moves the bound socket from the private directory to `path`, replacing only the stale
/// socket `examined` when there was one (it is checked again right before: a file put
/// there meanwhile is not replaced, short of a swap in the instant between the two).
core::Result<void> move_into_place(const PrivateDirectory& directory, const std::string& path,
                                   Occupant occupant, const struct stat& examined) {
  const auto changed = [&path] {
    return place_error(core::Errc::AlreadyExists, "refusing to put the control socket at " + path +
                                                      ": something else appeared there meanwhile");
  };
  if (occupant == Occupant::stale_socket) {
    struct stat now {};
    if (::lstat(path.c_str(), &now) != 0 || now.st_dev != examined.st_dev ||
        now.st_ino != examined.st_ino || !S_ISSOCK(now.st_mode)) {
      return changed();
    }
    if (::renameat(directory.fd(), PrivateDirectory::kEntry, AT_FDCWD, path.c_str()) != 0) {
      return system_error("cannot listen on " + path, errno);
    }
    return core::success();
  }
  if (::renameat2(directory.fd(), PrivateDirectory::kEntry, AT_FDCWD, path.c_str(),
                  RENAME_NOREPLACE) == 0) {
    return core::success();
  }
  int error_number = errno;
  if (error_number == EINVAL || error_number == ENOSYS) {
    // A file system without RENAME_NOREPLACE: a hard link never replaces either (the
    // directory's destructor removes the temporary name).
    if (::linkat(directory.fd(), PrivateDirectory::kEntry, AT_FDCWD, path.c_str(), 0) == 0) {
      return core::success();
    }
    error_number = errno;
  }
  if (error_number == EEXIST) return changed();
  return system_error("cannot listen on " + path, error_number);
}

}  // namespace

core::Result<int> place_listening_socket(const std::string& path, int backlog) {
  struct stat examined {};
  auto occupant = examine(path, examined);
  if (!occupant) return occupant.error();

  // Why a private directory: bind() creates the file with 0777 & ~umask, and chmod()
  // after it leaves a moment where anyone may connect (umask 000). fchmod() cannot set
  // the file's mode before bind() for AF_UNIX, and changing the umask around bind() would
  // change it for the worker threads creating target files at the same time (the umask is
  // per process). Inside a 0700 directory nobody else can reach the socket while its mode
  // is set; rename(2) then makes it appear at `path` with its final mode, listening.
  PrivateDirectory directory(path);
  if (directory.error() != 0) {
    return system_error("cannot make a private directory next to " + path, directory.error());
  }
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return system_error("cannot make a socket", errno);
  const auto fail = [fd](core::StoreError error) -> core::Result<int> {
    ::close(fd);
    return error;
  };
  sockaddr_un address{};
  if (!fill_address(address, directory.bind_path())) {
    return fail(place_error(core::Errc::InvalidPath, "socket path too long: " + path));
  }
  if (::bind(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0) {
    return fail(system_error("cannot listen on " + path, errno));
  }
  if (::fchmodat(directory.fd(), PrivateDirectory::kEntry, 0660, 0) != 0 ||
      ::listen(fd, backlog) != 0) {
    return fail(system_error("cannot listen on " + path, errno));
  }
  // Listening before it appears: a client never finds it refusing (which would make
  // it look stale to a second daemon).
  if (auto moved = move_into_place(directory, path, *occupant, examined); !moved) {
    return fail(moved.error());
  }
  return fd;
}

}  // namespace tetherd::daemon

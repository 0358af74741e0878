#include "tetherd/stores/errno_map.hpp"

#include <cerrno>
#include <cstring>

namespace tetherd::stores {

using core::Errc;

Errc errc_from_errno(int error_number) noexcept {
  switch (error_number) {
    case ENOENT:
      return Errc::NotFound;
    case EEXIST:
      return Errc::AlreadyExists;
    case EISDIR:
      return Errc::IsDirectory;
    case ENOTDIR:
      return Errc::NotADirectory;
    // A symlink met where the store never follows one: not a directory to walk through.
    case ELOOP:
      return Errc::NotADirectory;
    case ENOTEMPTY:
      return Errc::DirectoryNotEmpty;
    case EACCES:
    case EPERM:
    case EXDEV:  // RESOLVE_BENEATH: the path would leave the store root
      return Errc::PermissionDenied;
    case ENOSPC:
    case EDQUOT:
    case EFBIG:
    case EMLINK:
      return Errc::NoSpace;
    case EROFS:
      return Errc::ReadOnly;
    case ENAMETOOLONG:
    case EINVAL:
    case EILSEQ:
      return Errc::InvalidPath;
    case EOPNOTSUPP:
    case ENOSYS:
#if ENOTSUP != EOPNOTSUPP
    case ENOTSUP:
#endif
      return Errc::CapabilityNotSupported;
    case EAGAIN:
    case EBUSY:
    case EINTR:
    case EMFILE:
    case ENFILE:
    case ENOMEM:
    case ETXTBSY:
    case ESTALE:
    case ENXIO:
    case ENODEV:
    case ENOLCK:
      return Errc::Unavailable;
    case ETIMEDOUT:
      return Errc::Timeout;
    case ECANCELED:
      return Errc::Cancelled;
    case EBADMSG:
    case EUCLEAN:
      return Errc::Corrupted;
    case EIO:
    default:
      return Errc::IoError;
  }
}

core::StoreError errno_error(int error_number, std::string detail) {
  Errc code = errc_from_errno(error_number);
  if (detail.empty()) {
    const char* description = strerrordesc_np(error_number);
    detail = description ? description : "unknown error " + std::to_string(error_number);
    if (!detail.empty() && detail[0] >= 'A' && detail[0] <= 'Z') {
      detail[0] = static_cast<char>(detail[0] - 'A' + 'a');  // "No space..." → "no space..."
    }
  }
  core::StoreError error = core::StoreError::make(code, std::move(detail));
  error.native_code = error_number;
  const char* name = strerrorname_np(error_number);
  error.native_name = name ? name : "errno " + std::to_string(error_number);
  return error;
}

}  // namespace tetherd::stores

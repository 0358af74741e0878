#pragma once

// errno → StoreError, in one table. Every errno a local file operation can produce maps
// onto an Errc; the errno itself survives as native_code/native_name ("ENOSPC").

#include <string>

#include "tetherd/core/errors.hpp"

namespace tetherd::stores {

/// The Errc for an errno value (IoError for anything unknown).
core::Errc errc_from_errno(int error_number) noexcept;
/// A StoreError for errno, with its symbolic name and description; `detail` (when not
/// empty) replaces the description.
core::StoreError errno_error(int error_number, std::string detail = {});

}  // namespace tetherd::stores

#include "tetherd/core/errors.hpp"

#include <doctest/doctest.h>

#include <ostream>
#include <system_error>

using namespace tetherd::core;

TEST_CASE("Errc has a std::error_category") {
  std::error_code code = Errc::NoSpace;
  CHECK(code.category().name() == std::string("tetherd.store"));
  CHECK(code.message() == "no space left");
  CHECK(code == make_error_code(Errc::NoSpace));
  CHECK(to_string(Errc::DirectoryNotEmpty) == "DirectoryNotEmpty");
}

TEST_CASE("retryable defaults") {
  CHECK(StoreError::make(Errc::Unavailable).retryable);
  CHECK(StoreError::make(Errc::Timeout).retryable);
  CHECK(StoreError::make(Errc::RateLimited).retryable);
  CHECK_FALSE(StoreError::make(Errc::NoSpace).retryable);
  CHECK_FALSE(StoreError::make(Errc::NotFound).retryable);
}

TEST_CASE("StoreError message names store, operation, key and native error") {
  StoreError error = StoreError::make(Errc::NoSpace, "no space left on device");
  error.store = "backup";
  error.operation = Operation::Write;
  error.key = "a/b.txt";
  error.native_code = 28;
  error.native_name = "ENOSPC";
  CHECK(error.message() == "store 'backup': write 'a/b.txt': no space left on device (ENOSPC)");

  StoreError moved = StoreError::make(Errc::AlreadyExists);
  moved.store = "s";
  moved.operation = Operation::Move;
  moved.key = "x";
  moved.destination = "y";
  CHECK(moved.message() == "store 's': move 'x' -> 'y': already exists");
  CHECK(StoreError::make(Errc::Cancelled).message() == "cancelled");

  // An operation on no key (opening the store) shows no empty quotes.
  StoreError opening = StoreError::make(Errc::Unavailable, "cannot connect to h:22");
  opening.store = "r";
  opening.operation = Operation::Open;
  CHECK(opening.message() == "store 'r': open: cannot connect to h:22");
}

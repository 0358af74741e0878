#pragma once

// Result<T, E>: a value or an error, for C++20 (std::expected is C++23). Errors are
// values at run time, never exceptions; accessing the wrong alternative is a
// programming error and aborts with a message rather than being undefined behaviour.

#include <cstdio>
#include <cstdlib>
#include <type_traits>
#include <utility>
#include <variant>

#include "tetherd/core/errors.hpp"

namespace tetherd::core {

namespace detail {
[[noreturn]] inline void bad_result_access(const char* what) noexcept {
  std::fprintf(stderr, "tetherd: Result accessed wrongly: %s\n", what);
  std::abort();
}
}  // namespace detail

/// Wraps an error to make the intent explicit where an error converts to T as well
/// (`return fail(code);`). Plain `return error;` works when the types are unrelated.
template <typename E>
struct Failure {
  E error;
};
template <typename E>
Failure<std::decay_t<E>> fail(E&& error) {
  return {std::forward<E>(error)};
}

template <typename T, typename E = StoreError>
class [[nodiscard]] Result {
  static_assert(!std::is_same_v<std::decay_t<T>, std::decay_t<E>>,
                "Result needs distinct value and error types");

 public:
  using value_type = T;
  using error_type = E;

  Result(const T& value) : storage_(std::in_place_index<0>, value) {}
  Result(T&& value) : storage_(std::in_place_index<0>, std::move(value)) {}
  Result(const E& error) : storage_(std::in_place_index<1>, error) {}
  Result(E&& error) : storage_(std::in_place_index<1>, std::move(error)) {}
  Result(Failure<E> failure) : storage_(std::in_place_index<1>, std::move(failure.error)) {}
  template <typename... Args>
  explicit Result(std::in_place_t, Args&&... args)
      : storage_(std::in_place_index<0>, std::forward<Args>(args)...) {}

  bool ok() const noexcept { return storage_.index() == 0; }
  explicit operator bool() const noexcept { return ok(); }

  T& value() & {
    if (!ok()) detail::bad_result_access("value() of a failed Result");
    return std::get<0>(storage_);
  }
  const T& value() const& {
    if (!ok()) detail::bad_result_access("value() of a failed Result");
    return std::get<0>(storage_);
  }
  T&& value() && {
    if (!ok()) detail::bad_result_access("value() of a failed Result");
    return std::get<0>(std::move(storage_));
  }
  const E& error() const& {
    if (ok()) detail::bad_result_access("error() of a successful Result");
    return std::get<1>(storage_);
  }
  E& error() & {
    if (ok()) detail::bad_result_access("error() of a successful Result");
    return std::get<1>(storage_);
  }
  E&& error() && {
    if (ok()) detail::bad_result_access("error() of a successful Result");
    return std::get<1>(std::move(storage_));
  }

  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  template <typename U>
  T value_or(U&& fallback) const& {
    return ok() ? std::get<0>(storage_) : static_cast<T>(std::forward<U>(fallback));
  }

 private:
  std::variant<T, E> storage_;
};

/// Success carries no value.
template <typename E>
class [[nodiscard]] Result<void, E> {
 public:
  using value_type = void;
  using error_type = E;

  Result() = default;
  Result(const E& error) : error_(error), failed_(true) {}
  Result(E&& error) : error_(std::move(error)), failed_(true) {}
  Result(Failure<E> failure) : error_(std::move(failure.error)), failed_(true) {}

  bool ok() const noexcept { return !failed_; }
  explicit operator bool() const noexcept { return ok(); }
  void value() const {
    if (!ok()) detail::bad_result_access("value() of a failed Result");
  }
  const E& error() const& {
    if (ok()) detail::bad_result_access("error() of a successful Result");
    return error_;
  }
  E& error() & {
    if (ok()) detail::bad_result_access("error() of a successful Result");
    return error_;
  }
  E&& error() && {
    if (ok()) detail::bad_result_access("error() of a successful Result");
    return std::move(error_);
  }

 private:
  E error_{};
  bool failed_ = false;
};

/// A successful Result<void>.
inline Result<void> success() {
  return {};
}

}  // namespace tetherd::core
